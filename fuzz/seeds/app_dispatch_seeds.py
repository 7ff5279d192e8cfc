#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/app_dispatch for fuzz_app_dispatch:
Uri-Path sequences for the resource table the target builds (rcoapd's demo
paths, exact and prefix resources whose segments share prefixes, 16-, 17-
and 40-byte segments, bytes >= 0x80, empty segments, '%' and '/' that
rc_msg_path escapes, 16, 17 and 18 segments, paths of 1023 bytes and one
over RC_APP_PATH_MAX, a 300-byte segment). Each seed is the flags byte
(bit 0: context with a root prefix resource, bit 1: UDP, bit 2: Uri-Host,
bit 3: Content-Format and Uri-Query, bit 4: the path's own resource added
and removed between lookups) then raw segments: a length byte
below 0x60 and the bytes, or 0x70, length - 96 and the bytes.
Run from anywhere; overwrites."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "app_dispatch")


def enc(flags, segs):
    out = bytearray([flags])
    for s in segs:
        s = s.encode("latin-1") if isinstance(s, str) else s
        if len(s) < 0x60:
            out.append(len(s))
        else:
            assert 96 <= len(s) <= 351
            out += bytes([0x70, len(s) - 96])
        out += s
    return bytes(out)


def p(path):
    return path.split("/")[1:]


# The target's long paths: "/L" and 15 segments of 67 bytes (1022), the
# last one byte longer (1023).
L = ["L"] + ["".join(chr(65 + (k + i) % 26) for i in range(67))
             for k in range(15)]
L1023 = L[:-1] + [L[-1] + "z"]
D16 = "/d/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15"

SEEDS = {
    "demo-hello": enc(0, p("/hello")),
    "demo-store-prefix-udp": enc(2, p("/store/a/b")),
    "sensors-query": enc(8, p("/sensors/temperature/x")),
    "root-none-ctx1": enc(1, []),
    "well-known-host": enc(4, p("/.well-known/core")),
    "seg16-prefix": enc(0, p("/abcdefghijklmnop/x")),
    "seg17-off": enc(9, p("/abcdefghijklmnoq/x")),
    "seg40-child": enc(0, p("/abcdefghijklmnopqrstuvwxyz0123456789ABCD/y/z")),
    "high-bytes": enc(2, [b"x", b"\xff\x80", b"y"]),
    "empty-segment": enc(0, ["e", "", "f", "g"]),
    "empty-last": enc(1, ["g", "", "x"]),
    "segs16": enc(0, p(D16)),
    "segs17": enc(0, p(D16 + "/16")),
    "segs18": enc(1, p(D16 + "/16/x")),
    "escaped-percent": enc(0, ["p%q", "r"]),
    "escaped-slash": enc(0, ["m", "x/y"]),
    "long-1022-child": enc(0, L + ["x"]),
    "long-1023-exact": enc(2, L1023),
    "seg300": enc(0, ["a", "Q" * 300]),
    "memo-add-under-prefix": enc(16, p("/store/new")),
    "memo-add-escaped": enc(17, ["m", "x/z"]),
    "memo-add-none": enc(18, p("/nothing/here")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
