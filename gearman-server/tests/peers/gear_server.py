"""Python gear's job server (pip gear==0.16.0), a server older than GRAB_JOB_ALL: it knows
GRAB_JOB_UNIQ only, and ignores GRAB_JOB_ALL (and ECHO, OPTION_REQ) without an answer.

Usage: gear_server.py

Listens on 127.0.0.1 at a free port, prints "PORT <n>", and serves until stdin closes.
"""
import sys

import gear


def main():
    server = gear.Server(port=0, host="127.0.0.1")
    print("PORT %d" % server.port, flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
