#!/usr/bin/python3
"""A TCP server that accepts connections, reads what comes and never says
anything: the peer a client's timeouts are tested against. It writes its
port to PORTFILE once listening and exits after SECS seconds.

usage: silent.py PORTFILE [SECS]
"""
import socket
import sys
import threading
import time


def hold(c, until):
    c.settimeout(max(0.1, until - time.monotonic()))
    try:
        while c.recv(4096):
            pass
    except (socket.timeout, OSError):
        pass
    c.close()


def main():
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    until = time.monotonic() + secs
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while time.monotonic() < until:
        s.settimeout(max(0.1, until - time.monotonic()))
        try:
            c, _ = s.accept()
        except socket.timeout:
            break
        threading.Thread(target=hold, args=(c, until), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
