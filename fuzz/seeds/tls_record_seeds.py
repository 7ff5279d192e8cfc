#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/tls_record for fuzz_tls_record: a
suite/chunk byte, then operations (see the target's header): records the
client seals (application data, long ones, alerts, handshake messages),
KeyUpdates with and without update_requested, raw bytes (an oversized
header, a cut record) and flipped bits.
Run from anywhere; overwrites."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "tls_record")


def rec(typ, body):
    return bytes([0, typ, len(body)]) + body


def ku(req):
    return bytes([1, req])


def raw(b):
    return bytes([2, len(b)]) + b


def flip(pos, bit):
    return bytes([3, pos, bit])


APP = 23
seeds = {}
for suite in range(3):
    for chunk in (0, 4, 40):
        head = bytes([suite | chunk << 2])
        seeds["app_%d_%d" % (suite, chunk)] = head + rec(APP, b"hello") + rec(APP, b"")
        seeds["ku_%d_%d" % (suite, chunk)] = (
            head + rec(APP, b"a") + ku(0) + rec(APP, b"b") + ku(1) + rec(APP, b"c"))
    head = bytes([suite])
    seeds["long_%d" % suite] = head + rec(APP | 0x80, bytes(range(200)))
    seeds["close_%d" % suite] = head + rec(APP, b"x") + rec(21, b"\x01\x00") + rec(APP, b"y")
    seeds["fatal_%d" % suite] = head + rec(21, b"\x02\x28")
    seeds["cancel_%d" % suite] = head + rec(21, b"\x01\x5a") + rec(APP, b"z")
    seeds["nst_%d" % suite] = head + rec(22, b"\x04\x00\x00\x04\x00\x00\x00\x00")
    seeds["ku_bad_%d" % suite] = head + rec(22, b"\x18\x00\x00\x01\x02")
    seeds["ccs_%d" % suite] = head + rec(20, b"\x01")
    seeds["pad_%d" % suite] = head + rec(0, b"\x00\x00\x00")
    seeds["overflow_%d" % suite] = head + raw(b"\x17\x03\x03\x41\x01")
    seeds["cut_%d" % suite] = head + rec(APP, b"hello") + raw(b"\x17\x03\x03\x00\x20abc")
    seeds["flip_%d" % suite] = head + rec(APP, b"hello world") + flip(9, 3)
    seeds["hdr_%d" % suite] = head + raw(b"\x16\x03\x03\x00\x05hello")

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.remove(os.path.join(OUT, name))
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
