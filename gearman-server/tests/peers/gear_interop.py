"""Python gear (pip gear==0.16.0) against a job server: its worker and its client, each also
with the other side written in Rust.

Usage: gear_interop.py HOST PORT

Serves py:rev (reversed bytes), py:fail (WORK_FAIL) and py:exc (WORK_EXCEPTION) with a
gear.Worker; runs gear.Client checks, including jobs of rs:upper served by the Rust test's
worker; prints "CLIENT OK" and keeps serving until stdin closes. Every wait is bounded.
"""
import sys
import threading
import time

import gear

WAIT = 10.0


def serve(worker, stop):
    while not stop.is_set():
        try:
            job = worker.getJob()
        except gear.InterruptedError:
            return
        if job.name == "py:rev":
            job.sendWorkComplete(job.binary_arguments[::-1])
        elif job.name == "py:fail":
            job.sendWorkFail()
        elif job.name == "py:exc":
            job.sendWorkException(b"python says no")


def finish(job):
    deadline = time.time() + WAIT
    while not job.complete:
        if time.time() > deadline:
            raise SystemExit("job %s did not finish within %ss" % (job.name, WAIT))
        time.sleep(0.005)
    return job


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    worker = gear.Worker("py-worker")
    worker.addServer(host, port)
    worker.waitForServer()
    for name in ("py:rev", "py:fail", "py:exc"):
        worker.registerFunction(name)
    stop = threading.Event()
    serving = threading.Thread(target=serve, args=(worker, stop), daemon=True)
    serving.start()

    client = gear.Client("py-client")
    client.addServer(host, port)
    client.waitForServer(timeout=WAIT)

    jobs = [gear.Job(b"py:rev", ("job-%d" % i).encode()) for i in range(50)]
    for job in jobs:
        client.submitJob(job, timeout=WAIT)
    for i, job in enumerate(jobs):
        finish(job)
        want = ("job-%d" % i).encode()[::-1]
        got = b"".join(job.data)
        assert not job.failure and got == want, (i, got, want)

    failed = finish(client_job(client, b"py:fail", b"x"))
    assert failed.failure, "py:fail did not fail"
    # gear's client sends no OPTION_REQ exceptions: the server turns the exception into a fail.
    exc = finish(client_job(client, b"py:exc", b"x"))
    assert exc.failure, "py:exc did not end as a failure"

    uppers = [client_job(client, b"rs:upper", ("rust %d" % i).encode()) for i in range(20)]
    for i, job in enumerate(uppers):
        finish(job)
        assert b"".join(job.data) == ("RUST %d" % i).encode(), job.data

    bg = gear.Job(b"py:rev", b"background")
    client.submitJob(bg, background=True, timeout=WAIT)
    assert bg.handle, "no handle for a background job"

    print("CLIENT OK", flush=True)
    sys.stdin.read()
    stop.set()
    worker.stopWaitingForJobs()
    worker.shutdown()
    client.shutdown()
    print("BYE", flush=True)


def client_job(client, name, data):
    job = gear.Job(name, data)
    client.submitJob(job, timeout=WAIT)
    return job


if __name__ == "__main__":
    main()
