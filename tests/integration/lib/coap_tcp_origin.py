#!/usr/bin/python3
"""A scripted CoAP-over-TCP origin (RFC 8323) for the proxy tests: it
serves on 127.0.0.1, prints "port N" first, then one line per request it
receives ("req CONN METHOD /path etag=HEX|-") and what it did with it.

  /r      2.05 "representation 1" with ETag "v1" and Max-Age --max-age;
          a request carrying ETag "v1" gets 2.03 (Valid) with the same.
  /slow   answered after 1 s
  other   2.05 "ok /path" (GET, FETCH), 2.04 (PUT, POST), 2.02 (DELETE)

--drop N: the first N requests are not answered; their connection is
reset instead (a crash with the request in flight).
Every wait is bounded: the process exits after --life seconds.

usage: coap_tcp_origin.py [--max-age S] [--drop N] [--life S]
"""
import select
import socket
import struct
import sys
import time

from coap_opts import frame, take

METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH",
           6: "PATCH", 7: "iPATCH"}


def arg(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


MAX_AGE = arg("--max-age", 1)
DROP = arg("--drop", 0)
LIFE = arg("--life", 120)


def say(*a):
    print(*a, flush=True)


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    say("port", ls.getsockname()[1])
    conns, bufs, ids, later = [], {}, {}, []
    drop, nconn = DROP, 0
    deadline = time.monotonic() + LIFE
    while time.monotonic() < deadline:
        now = time.monotonic()
        for item in [x for x in later if x[0] <= now]:
            later.remove(item)
            if item[1] in conns:
                item[1].sendall(item[2])
        r, _, _ = select.select([ls] + conns, [], [], 0.05)
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                nconn += 1
                conns.append(c)
                bufs[c], ids[c] = bytearray(), nconn
                c.sendall(frame(0xE1, b"", []))  # CSM
                continue
            data = s.recv(65536)
            if not data:
                conns.remove(s)
                s.close()
                continue
            bufs[s] += data
            while True:
                m = take(bufs[s])
                if not m:
                    break
                code, token, opts, payload, rest = m
                bufs[s] = bytearray(rest)
                if code == 0xE2:  # Ping -> Pong
                    s.sendall(frame(0xE3, token, []))
                if code not in METHODS:
                    continue
                path = "/" + "/".join(v.decode() for n, v in opts if n == 11)
                etags = [v for n, v in opts if n == 4]
                say("req", ids[s], METHODS[code], path,
                    "etag=" + (etags[0].hex() if etags else "-"))
                if drop:
                    drop -= 1
                    say("reset", ids[s])
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                    conns.remove(s)
                    s.close()
                    break
                age = (14, struct.pack(">I", MAX_AGE).lstrip(b"\0"))
                if code in (1, 5) and path == "/r" and b"v1" in etags:
                    out = frame(0x43, token, [(4, b"v1"), age])  # 2.03
                    say("valid", ids[s])
                elif code in (1, 5) and path == "/r":
                    out = frame(0x45, token, [(4, b"v1"), age],
                                b"representation 1")
                elif code in (1, 5):
                    out = frame(0x45, token, [age], ("ok " + path).encode())
                else:
                    out = frame({2: 0x44, 3: 0x44, 4: 0x42}.get(code, 0x44),
                                token, [])
                if path == "/slow":
                    later.append((time.monotonic() + 1, s, out))
                else:
                    s.sendall(out)


main()
