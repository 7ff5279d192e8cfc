#!/usr/bin/env python3
"""Raw CoAP-over-UDP peers for the amplification-limit test.

usage: echo_peer.py HOST PORT WAIT_S [post]
Peer A sends CON GET /large (token aa) and prints what comes back; if it
is a 4.01 with an Echo option, peer B (another source port: a spoofer
that has A's Echo) sends the same request with that Echo, then A sends it
with the Echo changed in one byte, then A with the Echo as it came. One
line per answer: "NAME <- HEX", "NAME -- silence" when nothing came.
With "post": A sends CON POST /log "third" (token aa, MID 0201); if a
4.01 with Echo comes, it repeats the POST with that Echo under token bb
and MID 0202 (as libcoap does), then sends that repeat once more (a
duplicate: same MID).
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


def post(mid, token, echo=None):
    # CON POST, TKL 1, MID, token, Uri-Path "log", Echo, payload "third"
    d = bytes([0x41, 0x02, mid >> 8, mid & 0xFF, token, 0xB3]) + b"log"
    if echo is not None:
        d += bytes([0xD0 | len(echo), 228]) + echo
    return d + b"\xffthird"


def echo_of(r):
    # 4.01 with Echo: header, token, then delta 13 / extended 239
    if len(r) < 7 or r[1] != 0x81 or (r[5] >> 4) != 13 or r[6] != 239:
        return None
    return r[7:7 + (r[5] & 0x0F)]


def main():
    host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.connect((host, port))
    b.connect((host, port))
    if sys.argv[4:] == ["post"]:
        echo = echo_of(ask(a, "A", post(0x0201, 0xAA), wait))
        if echo is not None:
            ask(a, "A", post(0x0202, 0xBB, echo), wait)
            ask(a, "A", post(0x0202, 0xBB, echo), wait)
        return
    r = ask(a, "A", get(0x0101), wait)
    echo = echo_of(r)
    if echo is None:
        return
    ask(b, "B", get(0x0202, echo), wait)
    bad = bytes([echo[0] ^ 1]) + echo[1:]
    ask(a, "A", get(0x0103, bad), wait)
    ask(a, "A", get(0x0104, echo), wait)
    ask(a, "A", get(0x0105), wait)


main()
