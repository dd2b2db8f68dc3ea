#!/usr/bin/env python3
"""Side by side with the C libgearman 1.1.20 peers, measured from outside the processes.

Usage (from the workspace root; needs gcc, libgearman-dev and gearmand):
    python3 benches/peers/compare.py [--jobs 20000] [--runs 3] [--peers ../shared/peers]

Builds the C peers (`gm_client`, `gm_worker` from --peers) and the Rust ones (`gearmanctl` and
the `echo_worker` example, release), then measures, each cell the median of --runs runs, every
server started fresh:

  servers: gearmand --threads 1 (before), gearmanctl serve, gearmand --threads 1 (after);
           2 gm_worker processes, gm_client; jobs/s and the server's CPU per job
  clients: against gearmand --threads 1 with 2 gm_worker processes: gm_client, gearmanctl
           bench (default multi-thread runtime), gearmanctl bench --current-thread; jobs/s and
           the client's CPU per job
  workers: against gearmand --threads 1 with gm_client: 2 gm_worker vs 2 echo_worker
           processes (gearman-worker, #[tokio::main]); jobs/s and the workers' CPU per job

With --only rounds [--before OLD_GEARMANCTL], server CPU per job is measured in rounds
instead: each round runs gearmand, gearman-server (and the older gearmanctl) in turn.

With --syscalls, each server also runs each mode once under `strace -c -f` (slowed down, so
not timed): system calls per job, a count that this shared machine's noise does not move.

CPU per job is utime + stime: from /proc/PID/stat for servers (read before and after, once the
queue is empty), from wait4's rusage for clients and workers, divided by the job count.
Prints markdown tables; --json writes the raw medians too.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
MODES = ["seq", "pipe", "bgseq", "bg"]
SIZE = 100
WINDOW = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def admin(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(line.encode() + b"\r\n")
        data = b""
        while not data.endswith(b".\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()


def queue_empty(port, function, deadline=120.0):
    end = time.time() + deadline
    while time.time() < end:
        rows = [r.split("\t") for r in admin(port, "status").splitlines() if "\t" in r]
        if all(r[0] != function or r[1] == "0" for r in rows):
            return
        time.sleep(0.05)
    raise RuntimeError("the queue never emptied")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rusage_cpu(ru):
    return ru.ru_utime + ru.ru_stime


class Server:
    def __init__(self, kind, bins):
        self.port = free_port()
        if kind == "gearmand":
            cmd = ["gearmand", f"--port={self.port}", "--listen=127.0.0.1", "--threads=1",
                   f"--log-file=/tmp/compare-gearmand-{self.port}.log",
                   f"--pid-file=/tmp/compare-gearmand-{self.port}.pid"]
        else:
            cmd = [bins["gearmanctl"], "serve", "--listen", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def spawn_workers(kind, bins, port, function, n=2):
    exe = bins["gm_worker"] if kind == "c" else bins["echo_worker"]
    procs = [subprocess.Popen([exe, str(port), function, "100000000", "60000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(n)]
    time.sleep(0.3)  # registered
    return procs


def reap(procs):
    cpu = 0.0
    for p in procs:
        p.send_signal(signal.SIGKILL)
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        cpu += rusage_cpu(ru)
    return cpu


def run_client(kind, bins, port, function, mode, jobs):
    """Runs one client; returns (jobs/s, client CPU seconds)."""
    if kind == "c":
        cmd = [bins["gm_client"], str(port), function, mode, str(jobs), str(SIZE), str(WINDOW)]
    else:
        cmd = [bins["gearmanctl"], "bench", "--server", f"127.0.0.1:{port}", "--function", function,
               "--mode", mode, "--jobs", str(jobs), "--size", str(SIZE), "--window", str(WINDOW),
               "--json"]
        if kind == "rust-current-thread":
            cmd.append("--current-thread")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    if status != 0:
        raise RuntimeError(f"{cmd}: exit {status}: {err.decode()[-500:]}")
    line = json.loads(out.decode().strip().splitlines()[-1])
    rate = line.get("jobs_per_s") or line.get("jobs_per_sec")
    return float(rate), rusage_cpu(ru)


def median(xs):
    return statistics.median(xs)


def one_run(bins, jobs, mode, server_kind, client_kind, worker_kind, measured):
    """One fresh server, 2 workers and a client; (jobs/s, CPU seconds of the measured side)."""
    server = Server(server_kind, bins)
    procs = spawn_workers(worker_kind, bins, server.port, "cmp")
    before = server.cpu()
    rate, client_cpu = run_client(client_kind, bins, server.port, "cmp", mode, jobs)
    queue_empty(server.port, "cmp")
    server_cpu = server.cpu() - before
    worker_cpu = reap(procs)
    server.stop()
    return rate, {"server": server_cpu, "client": client_cpu, "workers": worker_cpu}[measured]


def matrix(what, programs, modes, bins, jobs, runs):
    """Each program (label, server, client and worker kinds) in each mode, medians of runs."""
    rows = {}
    for label, server_kind, client_kind, worker_kind in programs:
        for mode in modes:
            results = [one_run(bins, jobs, mode, server_kind, client_kind, worker_kind, what)
                       for _ in range(runs)]
            rate = median([r for r, _ in results])
            cpu = median([c / jobs * 1e6 for _, c in results])
            rows[(label, mode)] = (rate, cpu)
            print(f"  {what} {label:34} {mode:5} {rate:9.0f} jobs/s {cpu:6.1f} us/job",
                  file=sys.stderr)
    return rows


def servers(bins, jobs, runs):
    return matrix("server", [("gearmand (before)", "gearmand", "c", "c"),
                             ("gearman-server", "ours", "c", "c"),
                             ("gearmand (after)", "gearmand", "c", "c")], MODES, bins, jobs, runs)


def clients(bins, jobs, runs):
    return matrix("client", [("libgearman gm_client", "gearmand", "c", "c"),
                             ("gearmanctl bench (multi-thread)", "gearmand", "rust", "c"),
                             ("gearmanctl bench --current-thread", "gearmand",
                              "rust-current-thread", "c")], MODES, bins, jobs, runs)


def workers(bins, jobs, runs):
    return matrix("workers", [("2 x libgearman gm_worker", "gearmand", "c", "c"),
                              ("2 x gearman-worker echo_worker", "gearmand", "c", "rust")],
                  ["seq", "pipe"], bins, jobs, runs)


def rounds(bins, jobs, runs, before):
    """Server CPU per job, in rounds: each round runs gearmand, gearman-server and (with
    --before) an older gearmanctl in turn, so that the machine's drift hits all alike."""
    variants = [("gearmand", "gearmand", bins["gearmanctl"]),
                ("gearman-server", "ours", bins["gearmanctl"])]
    if before:
        variants.append(("gearman-server before", "ours", before))
    rows = {}
    for mode in MODES:
        samples = {label: [] for label, _, _ in variants}
        for _ in range(runs):
            for label, kind, exe in variants:
                b = dict(bins, gearmanctl=exe)
                rate, cpu = one_run(b, jobs, mode, kind, "c", "c", "server")
                samples[label].append((rate, cpu / jobs * 1e6))
        for label, xs in samples.items():
            rows[(label, mode)] = (median([r for r, _ in xs]), median([c for _, c in xs]))
            print(f"  rounds {label:22} {mode:5} {rows[(label, mode)][0]:9.0f} jobs/s "
                  f"{rows[(label, mode)][1]:6.1f} us/job", file=sys.stderr)
    return rows


def syscall_count(bins, jobs, mode, server_kind):
    """One run with the server under `strace -c -f`: its system calls per job (all threads)."""
    server = Server(server_kind, bins)
    procs = spawn_workers("c", bins, server.port, "cmp")
    out = f"/tmp/compare-strace-{server.port}.txt"
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(server.proc.pid), "-o", out],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached
    run_client("c", bins, server.port, "cmp", mode, jobs)
    queue_empty(server.port, "cmp")
    tracer.send_signal(signal.SIGINT)
    tracer.wait()
    reap(procs)
    server.stop()
    with open(out) as f:
        total = [line.split() for line in f if line.rstrip().endswith("total")]
    os.unlink(out)
    # "% time, seconds, usecs/call, calls, [errors,] total"
    return int(total[-1][3]) / jobs


def syscalls(bins, jobs):
    rows = {}
    for label, kind in [("gearmand", "gearmand"), ("gearman-server", "ours")]:
        for mode in MODES:
            rows[(label, mode)] = syscall_count(bins, jobs, mode, kind)
            print(f"  syscalls {label:16} {mode:5} {rows[(label, mode)]:5.1f} per job",
                  file=sys.stderr)
    print("\n### Server system calls per job (strace -c -f, one run each, counts not times)\n")
    print("| server | " + " | ".join(MODES) + " |")
    print("|---|" + "---|" * len(MODES))
    for label in ["gearmand", "gearman-server"]:
        cells = []
        for m in MODES:
            n = rows[(label, m)]
            base = rows[("gearmand", m)]
            cells.append(f"{n:.1f}" if label == "gearmand" else f"{n:.1f} ({n / base:.2f}x)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def table(title, rows, base_label, modes):
    labels = []
    for (label, _) in rows:
        if label not in labels:
            labels.append(label)
    print(f"\n### {title}\n")
    print("| program | " + " | ".join(f"{m} jobs/s | {m} CPU/job" for m in modes) + " |")
    print("|---|" + "---|---|" * len(modes))
    for label in labels:
        cells = []
        for m in modes:
            rate, cpu = rows[(label, m)]
            brate, bcpu = rows[(base_label, m)]
            if label == base_label:
                cells += [f"{rate:,.0f}", f"{cpu:.1f} us"]
            else:
                cells += [f"{rate:,.0f} ({rate / brate:.2f}x)", f"{cpu:.1f} us ({cpu / bcpu:.2f}x)"]
        print(f"| {label} | " + " | ".join(cells) + " |")


def build(peers):
    out = os.path.join("target", "peers")
    os.makedirs(out, exist_ok=True)
    bins = {}
    for name in ["gm_client", "gm_worker"]:
        bins[name] = os.path.join(out, name)
        subprocess.check_call(["gcc", "-O2", "-o", bins[name], os.path.join(peers, f"{name}.c"),
                               "-lgearman"])
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "gearman-cli"])
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "gearman-benches",
                           "--example", "echo_worker"])
    bins["gearmanctl"] = os.path.join("target", "release", "gearmanctl")
    bins["echo_worker"] = os.path.join("target", "release", "examples", "echo_worker")
    return bins


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", default=os.path.join("..", "shared", "peers"))
    ap.add_argument("--only", choices=["servers", "clients", "workers", "syscalls", "rounds"])
    ap.add_argument("--before", metavar="GEARMANCTL",
                    help="with --only rounds: an older gearmanctl measured in each round too")
    ap.add_argument("--json")
    ap.add_argument("--syscalls", action="store_true",
                    help="also count each server's system calls per job (strace, one run each)")
    args = ap.parse_args()
    bins = build(args.peers)
    results = {}
    if args.only in (None, "servers"):
        results["servers"] = servers(bins, args.jobs, args.runs)
    if args.only in (None, "clients"):
        results["clients"] = clients(bins, args.jobs, args.runs)
    if args.only in (None, "workers"):
        results["workers"] = workers(bins, args.jobs, args.runs)
    print(f"\n{args.jobs:,} jobs of {SIZE} B, window {WINDOW}, medians of {args.runs} runs, "
          f"each server started fresh, {os.cpu_count()} cores.")
    if "servers" in results:
        table("Servers (libgearman client and 2 workers on both; ratio vs gearmand before)",
              results["servers"], "gearmand (before)", MODES)
    if "clients" in results:
        table("Clients (gearmand --threads 1, 2 libgearman workers; ratio vs libgearman)",
              results["clients"], "libgearman gm_client", MODES)
    if "workers" in results:
        table("Workers (gearmand --threads 1, libgearman client; ratio vs libgearman)",
              results["workers"], "2 x libgearman gm_worker", ["seq", "pipe"])
    if args.only == "rounds":
        results["rounds"] = rounds(bins, args.jobs, args.runs, args.before)
        table("Servers in rounds (libgearman client and 2 workers; ratio vs gearmand)",
              results["rounds"], "gearmand", MODES)
    if args.syscalls or args.only == "syscalls":
        results["syscalls"] = syscalls(bins, args.jobs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {f"{a}|{b}": v for (a, b), v in rows.items()} for k, rows in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
