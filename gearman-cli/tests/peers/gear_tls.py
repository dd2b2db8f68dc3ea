"""Python gear 0.16.0's TLS peers (TLS 1.2, client certificates required by its server), for
the TLS tests of gearmanctl.

Usage:
  gear_tls.py server KEY CERT CA
      runs gear.Server (geard) with TLS on a free port; prints "PORT n"; serves until stdin
      closes.
  gear_tls.py worker HOST PORT KEY CERT CA FUNCTION
      a gear.Worker over TLS answering FUNCTION with its reversed workload; prints "READY" once
      registered; serves until stdin closes.
  gear_tls.py client HOST PORT KEY CERT CA FUNCTION DATA
      a gear.Client over TLS; submits one job, prints "RESULT <data>" (or "FAILED"), exits.

Every wait is bounded.
"""
import sys
import threading
import time

import gear

WAIT = 20.0


def wait_stdin_closed():
    sys.stdin.read()


def server(key, cert, ca):
    srv = gear.Server(port=0, ssl_key=key, ssl_cert=cert, ssl_ca=ca, host="127.0.0.1")
    print("PORT %d" % srv.port, flush=True)
    wait_stdin_closed()
    srv.shutdown()


def worker(host, port, key, cert, ca, function):
    w = gear.Worker("py-tls-worker")
    w.addServer(host, int(port), ssl_key=key, ssl_cert=cert, ssl_ca=ca)
    w.waitForServer()
    w.registerFunction(function)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                job = w.getJob()
            except gear.InterruptedError:
                return
            job.sendWorkComplete(job.binary_arguments[::-1])

    threading.Thread(target=serve, daemon=True).start()
    # Jobs submitted before CAN_DO arrives wait in the server's queue for this worker.
    print("READY", flush=True)
    wait_stdin_closed()
    stop.set()
    w.shutdown()


def client(host, port, key, cert, ca, function, data):
    c = gear.Client("py-tls-client")
    c.addServer(host, int(port), ssl_key=key, ssl_cert=cert, ssl_ca=ca)
    c.waitForServer(timeout=WAIT)
    job = gear.Job(function.encode(), data.encode())
    c.submitJob(job, timeout=WAIT)
    deadline = time.time() + WAIT
    while not job.complete and time.time() < deadline:
        time.sleep(0.01)
    if job.complete and not job.failure:
        print("RESULT %s" % b"".join(job.data).decode(), flush=True)
    else:
        print("FAILED", flush=True)
    c.shutdown()


if __name__ == "__main__":
    import logging, os
    if os.environ.get("GEAR_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    mode, args = sys.argv[1], sys.argv[2:]
    {"server": server, "worker": worker, "client": client}[mode](*args)
