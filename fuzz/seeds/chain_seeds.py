#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_chain.

Usage: python3 fuzz/seeds/chain_seeds.py  (from the repository root)
One control byte (bit 0: close half-way; bit 1: consume in two parts;
bit 2: coap+tcp instead of coap+ws; the rest: the piece size), then the
input: masked client WS frames each holding one CoAP message (Len=0 form,
RFC 8323 §4), or for coap+tcp the same messages with the length shim.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "corpus", "chain")
MASK = b"\x01\x02\x03\x04"


def ws_frame(payload, op=2):
    n = len(payload)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + body


def coap(code, token=b"", opts=b"", payload=b"", tcp=False):
    """RFC 8323 §3.2 header; WS uses Len=0 and no extended length."""
    body = opts + (b"\xff" + payload if payload else b"")
    tkl = len(token)
    if not tcp:
        return bytes([tkl, code]) + token + body
    n = len(body)
    if n < 13:
        return bytes([(n << 4) | tkl, code]) + token + body
    if n < 269:
        return bytes([(13 << 4) | tkl, n - 13, code]) + token + body
    return bytes([(14 << 4) | tkl]) + struct.pack(">H", n - 269) + \
        bytes([code]) + token + body


CSM = 0xE1       # 7.01
PING = 0xE2      # 7.02
RELEASE = 0xE4   # 7.04
GET = 0x01
MAXMSG = b"\x22\x04\x00"           # option 2 Max-Message-Size 1024
HELLO = b"\xb5hello"               # Uri-Path "hello"


def messages(tcp):
    return [coap(CSM, opts=MAXMSG, tcp=tcp),
            coap(GET, b"\x01\x02", HELLO, tcp=tcp),
            coap(PING, b"\x09", tcp=tcp),
            coap(GET, b"\x03", HELLO, b"x" * 300, tcp=tcp),
            coap(RELEASE, tcp=tcp)]


def write(name, data):
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, name), "wb") as f:
        f.write(data)


def main():
    ws = b"".join(ws_frame(m) for m in messages(False))
    tcp = b"".join(messages(True))
    for ctl in (0x00, 0x01, 0x02, 0x18, 0xF8):
        write("ws_%02x" % ctl, bytes([ctl]) + ws)
        write("tcp_%02x" % ctl, bytes([ctl | 4]) + tcp)
    write("ws_close_frame", b"\x40" + ws_frame(b"\x03\xe8", op=8))
    write("ws_ping_frame", b"\x40" + ws_frame(b"hi", op=9) + ws)


if __name__ == "__main__":
    main()
