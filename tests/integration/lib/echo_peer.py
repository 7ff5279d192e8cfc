#!/usr/bin/env python3
"""Raw CoAP-over-UDP peers for the amplification-limit test.

usage: echo_peer.py HOST PORT WAIT_S
Peer A sends CON GET /large (token aa) and prints what comes back; if it
is a 4.01 with an Echo option, peer B (another source port: a spoofer
that has A's Echo) sends the same request with that Echo, then A sends it
with the Echo changed in one byte, then A with the Echo as it came. One
line per answer: "NAME <- HEX", "NAME -- silence" when nothing came.
"""
import socket
import sys


def ask(s, name, d, wait):
    s.send(d)
    s.settimeout(wait)
    try:
        r = s.recv(70000)
    except (socket.timeout, ConnectionRefusedError):
        print(name + " -- silence", flush=True)
        return b""
    print(name + " <- " + r.hex(), flush=True)
    return r


def get(mid, echo=None):
    # CON GET, TKL 1, MID, token aa, Uri-Path "large"; Echo (252 = 11 +
    # 241: delta nibble 13, extended 228) with its value.
    d = bytes([0x41, 0x01, mid >> 8, mid & 0xFF, 0xAA, 0xB5]) + b"large"
    if echo is not None:
        d += bytes([0xD0 | len(echo), 228]) + echo
    return d


def main():
    host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.connect((host, port))
    b.connect((host, port))
    r = ask(a, "A", get(0x0101), wait)
    # 4.01 with Echo: header, token, then delta 13 / extended 239
    if len(r) < 7 or r[1] != 0x81 or (r[5] >> 4) != 13 or r[6] != 239:
        return
    echo = r[7:7 + (r[5] & 0x0F)]
    ask(b, "B", get(0x0202, echo), wait)
    bad = bytes([echo[0] ^ 1]) + echo[1:]
    ask(a, "A", get(0x0103, bad), wait)
    ask(a, "A", get(0x0104, echo), wait)
    ask(a, "A", get(0x0105), wait)


main()
