#!/usr/bin/python3
"""A scripted raw TCP peer for the fault tests: it connects, runs a list of
steps (send bytes, wait for bytes, close or reset) and prints every
byte it received as hex on stdout, so that the test can decode them with
`rcoap-decode --stream`. Every wait is bounded; the exit status is 0 when
the script ran, 3 if the connection failed, 4 if an `expect` step timed out
or the peer closed before the expected bytes came. On stderr it says
"local port N" once connected, so that the test can find the peer's lines
in the server's log.

usage: rawpeer.py HOST PORT STEP...
  send:HEX         send these bytes (hex, spaces allowed inside one arg)
  sendtext:TEXT    send TEXT (\\r and \\n escapes understood)
  zeros:N          send N zero bytes (a large body, in 64 KiB writes)
  expect:N[:SECS]  read until N bytes in total were received (default 5 s)
  drain[:SECS]     read until the peer closes (default 5 s); prints
                   "eof" or "open" on stderr, and "after MS ms since
                   connected" (the peer's timers count from there, not
                   from when this script was started)
  close            close normally (FIN)
  reset            close with SO_LINGER 0 (the kernel sends RST)
  exit             end the process without closing anything first
                   (os._exit: the kernel closes the socket as for a crash)
  awaitlog:FILE|TEXT|N[|SECS]
                   wait until N lines of FILE (the server's log) contain
                   TEXT, "{port}" in it replaced by our local port
                   (default 10 s); exit status 4 if they do not come
"""
import os
import socket
import struct
import sys
import time

rx = bytearray()


def out():
    sys.stdout.write(rx.hex() + "\n")
    sys.stdout.flush()


def read_until(sock, want, secs):
    """Reads until len(rx) >= want or EOF or the deadline; True at EOF."""
    deadline = time.monotonic() + secs
    while want is None or len(rx) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if not b:
            return True
        rx.extend(b)
    return False


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 1
    host, port = sys.argv[1], int(sys.argv[2])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect((host, port))
        connected = time.monotonic()
    except OSError as e:
        sys.stderr.write("rawpeer: connect: %s\n" % e)
        return 3
    sys.stderr.write("local port %d\n" % sock.getsockname()[1])
    sys.stderr.flush()
    for step in sys.argv[3:]:
        kind, _, arg = step.partition(":")
        if kind == "send":
            sock.sendall(bytes.fromhex(arg.replace(" ", "")))
        elif kind == "sendtext":
            sock.sendall(arg.replace("\\r", "\r").replace("\\n", "\n").encode())
        elif kind == "zeros":
            n = int(arg)
            chunk = bytes(65536)
            sock.settimeout(30)
            while n > 0:
                k = min(n, len(chunk))
                sock.sendall(chunk[:k])
                n -= k
        elif kind == "expect":
            n, _, secs = arg.partition(":")
            want = int(n)
            read_until(sock, want, float(secs or 5))
            if len(rx) < want:
                sys.stderr.write("rawpeer: expected %d bytes, got %d\n"
                                 % (want, len(rx)))
                out()
                return 4
        elif kind == "drain":
            eof = read_until(sock, None, float(arg or 5))
            sys.stderr.write("%s after %d ms since connected\n" % (
                "eof" if eof else "open",
                (time.monotonic() - connected) * 1000))
        elif kind == "close":
            sock.close()
            break
        elif kind == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            sock.close()
            break
        elif kind == "awaitlog":
            parts = arg.split("|")
            path, text, n = parts[0], parts[1], int(parts[2])
            secs = float(parts[3]) if len(parts) > 3 else 10.0
            text = text.replace("{port}", str(sock.getsockname()[1]))
            deadline = time.monotonic() + secs
            while True:
                with open(path, errors="replace") as f:
                    if sum(text in line for line in f) >= n:
                        break
                if time.monotonic() > deadline:
                    sys.stderr.write("rawpeer: %d lines with %r not in %s\n"
                                     % (n, text, path))
                    out()
                    return 4
                time.sleep(0.05)
        elif kind == "exit":
            out()
            os._exit(0)
        else:
            sys.stderr.write("rawpeer: unknown step %s\n" % step)
            return 1
    out()
    return 0


if __name__ == "__main__":
    sys.exit(main())
