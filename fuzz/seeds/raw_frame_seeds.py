#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/raw_frame for fuzz_raw_frame: byte 0
picks the body limit (index into the target's table; 7 is 1 MiB), the rest
is a stream of coap+tcp frames as raw_gen reads them: the server's CSM,
2.05 answers with 4-byte tokens and bodies of each Len class (0-12, 13,
14, 15), a Ping, an Empty message, and cut or refused ones (TKL 9, a
body over the limit, a header cut inside its Extended Length). Run from
anywhere; overwrites."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "raw_frame")
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "lib"))
from coap_opts import tcp_frame as frame  # noqa: E402


TOK = b"\x00\x03\x00\x01"
HELLO = b"\xc0\xff" + b"Hello, world! (rcoap 0.1.0)"
SEEDS = {
    "csm-answers": b"\x07" + frame(0xe1, b"", b"\x22\x04\x80") + frame(0x45, TOK, HELLO) * 3,
    "len-classes": b"\x07" + b"".join(frame(0x45, TOK, b"\xff" + b"x" * k) for k in (0, 11, 12, 268, 300)),
    "len15": b"\x07" + frame(0x45, TOK, b"\xff" + b"y" * 65805),
    "ping-empty": b"\x07" + frame(0xe2, b"\x07") + frame(0, b"") + frame(0x84, TOK),
    "tkl9": b"\x07" + frame(0x45, TOK, HELLO) + bytes([0x09, 0x45]) + b"\0" * 9,
    "over-limit": b"\x02" + frame(0x45, TOK, b"\xff" + b"z" * 20),
    "cut-ext": b"\x07" + bytes([0xe4, 0x00]),
    "cut-body": b"\x07" + frame(0x45, TOK, HELLO)[:-5],
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
