#!/usr/bin/env python3
"""Datagrams from thousands of distinct source addresses (all of 127/8 is
local on Linux) to one UDP port, for test_udp_flood.sh.

usage: udp_flood.py KIND PORT FIRST COUNT WAIT_S
  KIND: good   CON GET /hello (11 bytes): counts the answers (any CoAP
               answer with the request's Message ID: 2.05 or 4.01)
        badopt CON with option delta 15 (a format error with a readable
               header): the answer must be exactly RST 70 00 MID
        short  2 bytes (no header): must stay unanswered
        ver2   version 2 CON GET: must stay unanswered
        tkl9   CON with TKL 9: must get exactly RST 70 00 MID (RFC 7252 §3)
        nontkl NON with TKL 9: must stay unanswered
        hello  a DTLS 1.2 ClientHello without cookie: must get exactly one
               HelloVerifyRequest (record type 22, handshake type 3)
  FIRST: index of the first source address (127.A.B.C from the index)
Sends from COUNT addresses in batches of 256 sockets, each waiting at
most WAIT_S for its answer, and prints "KIND sent=N right=R wrong=W
silent=S" (right: the exact expected answer or the expected silence).
"""
import os
import select
import socket
import struct
import sys


def addr(i):
    i += 1 << 16  # 127.1.0.0 onwards: clear of 127.0.0.x used elsewhere
    return "127.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def datagram(kind, mid):
    m = struct.pack(">H", mid)
    if kind == "good":
        return b"\x41\x01" + m + b"\xaa\xb5hello"
    if kind == "badopt":
        return b"\x40\x01" + m + b"\xf1\x00"
    if kind == "short":
        return b"\x40\x01"
    if kind == "ver2":
        return b"\x81\x01" + m + b"\xaa"
    if kind == "tkl9":
        return b"\x49\x01" + m + bytes(range(1, 10))
    if kind == "nontkl":
        return b"\x59\x01" + m + bytes(range(1, 10))
    if kind == "hello":
        body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00" +
                b"\x00\x02\xc0\xa8" + b"\x01\x00")
        hs = (b"\x01" + struct.pack(">I", len(body))[1:] + b"\x00\x00" +
              b"\x00\x00\x00" + struct.pack(">I", len(body))[1:] + body)
        return (b"\x16\xfe\xff" + b"\x00\x00" + b"\x00\x00\x00\x00\x00" +
                bytes([mid & 255]) + struct.pack(">H", len(hs)) + hs)
    raise SystemExit("unknown kind " + kind)


def expect(kind, d, got):
    mid = d[2:4]
    if kind == "good":
        return got is not None and len(got) >= 4 and got[2:4] == mid and \
            (got[0] >> 4) & 3 == 2
    if kind in ("badopt", "tkl9"):
        return got == b"\x70\x00" + mid
    if kind == "hello":
        return got is not None and len(got) == 60 and got[0] == 22 and \
            got[13] == 3 and got[11:13] == b"\x00\x2f"
    return got is None


def main():
    kind, port, first, count, wait = (sys.argv[1], int(sys.argv[2]),
                                      int(sys.argv[3]), int(sys.argv[4]),
                                      float(sys.argv[5]))
    sent = right = wrong = silent = 0
    for base in range(first, first + count, 256):
        socks = {}
        for i in range(base, min(base + 256, first + count)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr(i), 0))
            s.setblocking(False)
            d = datagram(kind, i & 0xFFFF)
            s.sendto(d, ("127.0.0.1", port))
            sent += 1
            socks[s] = [d, None]
        import time
        end = time.monotonic() + wait
        pending = set(socks)
        # "silent" kinds wait the whole time: an answer may still come
        while pending and time.monotonic() < end:
            r, _, _ = select.select(list(pending), [], [],
                                    max(0.0, end - time.monotonic()))
            for s in r:
                try:
                    socks[s][1] = s.recv(2048)
                except OSError:
                    continue
                pending.discard(s)
        for s, (d, got) in socks.items():
            if got is None:
                silent += 1
            if expect(kind, d, got):
                right += 1
            else:
                wrong += 1
            s.close()
    print("%s sent=%d right=%d wrong=%d silent=%d" %
          (kind, sent, right, wrong, silent), flush=True)


main()
