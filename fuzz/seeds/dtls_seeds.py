#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dtls.

Usage: python3 fuzz/seeds/dtls_seeds.py  (from the repository root)
Records of op (1 byte), length (2 bytes), datagram; see fuzz/fuzz_dtls.c.
The datagrams are DTLS 1.2 ClientHellos (RFC 6347 §4.2.2, RFC 5246
§7.4.1.2) offering the PSK suites, without a cookie and with the cookie
fuzz_dtls's server computes (HMAC-SHA-256 of the peer address under an
all-zero key), plus a few damaged and timer-driving variants.
"""
import hashlib
import hmac
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "corpus", "dtls")
ADDR = bytes([127, 0, 0, 1, 0x16, 0x34])
COOKIE = hmac.new(bytes(32), ADDR, hashlib.sha256).digest()
# PSK-AES128-CCM8, PSK-AES128-GCM-SHA256, ECDHE-PSK-CHACHA20-POLY1305
SUITES = [0xC0A8, 0x00A8, 0xCCAC]


def ext(t, body):
    return struct.pack(">HH", t, len(body)) + body


def client_hello(cookie=b"", seq=0, msg_seq=0):
    exts = ext(0x0017, b"")  # extended_master_secret
    exts += ext(0x000A, struct.pack(">HH", 2, 0x0017))  # groups: P-256
    exts += ext(0x000B, b"\x01\x00")  # ec_point_formats: uncompressed
    exts += ext(0xFF01, b"\x00")  # renegotiation_info
    body = b"\xfe\xfd" + bytes(range(32)) + b"\x00"
    body += bytes([len(cookie)]) + cookie
    body += struct.pack(">H", 2 * len(SUITES))
    body += b"".join(struct.pack(">H", s) for s in SUITES)
    body += b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    n = len(body)
    hs = bytes([1]) + n.to_bytes(3, "big") + struct.pack(">H", msg_seq)
    hs += (0).to_bytes(3, "big") + n.to_bytes(3, "big") + body
    rec = bytes([22, 0xFE, 0xFD]) + struct.pack(">H", 0)
    rec += seq.to_bytes(6, "big") + struct.pack(">H", len(hs)) + hs
    return rec


def rec(op, dg):
    return bytes([op]) + struct.pack(">H", len(dg)) + dg


def main():
    os.makedirs(ROOT, exist_ok=True)
    plain = client_hello()
    good = client_hello(COOKIE, seq=1, msg_seq=1)
    seeds = {
        "hello_no_cookie": rec(0, plain),
        "hello_then_cookie": rec(0, plain) + rec(0, good),
        "cookie_then_timers": rec(0, good) + rec(2 | (4 << 2), b"") +
        rec(2 | (8 << 2), b"") + rec(2 | (63 << 2), b""),
        "direct_no_cookie": rec(1, plain) + rec(1, good),
        "bad_cookie": rec(0, client_hello(bytes(32), seq=1, msg_seq=1)),
        "truncated": rec(0, good[:40]) + rec(1, good[:60]),
        "cookie_then_garbage": rec(0, good) + rec(1, bytes(range(64))) +
        rec(1, bytes([23, 0xFE, 0xFD, 0, 1]) + bytes(6) + b"\x00\x10" +
            bytes(16)) + rec(4, b""),
        "alert": rec(0, good) + rec(1, bytes([21, 0xFE, 0xFD, 0, 0]) +
                                     bytes(6) + b"\x00\x02\x02\x28"),
    }
    for name, data in seeds.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
