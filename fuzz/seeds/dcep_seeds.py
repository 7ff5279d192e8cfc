#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/dcep for fuzz_dcep: DCEP messages
alone (OPEN for coap, coap.v1, another protocol, each channel type, bad
lengths, ACK), and record sequences (role byte, then [sid 2][ppid 1]
[len 1][bytes]) that open a channel, send CoAP on PPID 51 and 53, empty
PPIDs, a second OPEN, data on other streams and a reset.
Run from anywhere; overwrites."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "dcep")


def open_msg(proto=b"coap", label=b"coap", ctype=0, rel=0, prio=256):
    return struct.pack(">BBHIHH", 3, ctype, prio, rel, len(label),
                       len(proto)) + label + proto


def rec(sid, ppid, body):
    return struct.pack(">HBB", sid, ppid, len(body)) + body


COAP = bytes([0x01, 0x01, 0x7a, 0xb5]) + b"hello"  # WS form GET token 7a
seeds = [
    open_msg(), open_msg(b"coap.v1"), open_msg(b"chat"), b"\x02",
    open_msg(ctype=0x81, rel=3), open_msg(ctype=0x02, rel=500),
    open_msg()[:-1], open_msg() + b"x", b"\x03\x09" + b"\x00" * 10, b"",
]
flows = [
    bytes([0]) + rec(0, 50, open_msg()) + rec(0, 53, COAP) + rec(0, 51, COAP),
    bytes([1]) + rec(1, 50, open_msg()) + rec(1, 53, COAP),
    bytes([1]) + rec(0, 50, open_msg()),
    bytes([2]) + rec(1, 50, b"\x02") + rec(1, 53, COAP) + rec(1, 57, b"\x00"),
    bytes([0]) + rec(3, 50, open_msg(b"chat")) + rec(3, 53, COAP),
    bytes([0]) + rec(0, 50, open_msg()) + rec(2, 50, open_msg()),
    bytes([4]) + rec(0, 50, open_msg(ctype=0x82, rel=100)) + rec(0, 255, b""),
    bytes([3]) + rec(0, 50, b"\x02") + rec(0, 53, COAP) + rec(0, 50, b"\x07"),
]
os.makedirs(OUT, exist_ok=True)
for i, s in enumerate(seeds + flows):
    with open(os.path.join(OUT, "seed-%02d" % i), "wb") as f:
        f.write(s)
