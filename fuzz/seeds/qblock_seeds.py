#!/usr/bin/env python3
"""Seeds for fuzz_qblock (RFC 9177 §5 missing-blocks CBOR Sequences):
valid ones (empty, small, every head width, the 20-bit limit) and broken
ones (not ascending, a repeat, over 20 bits, truncated heads, other major
types, indefinite length). Writes fuzz/corpus/qblock/<hex>."""
import os

SEEDS = [
    b"", b"\x00", b"\x00\x01\x02", b"\x02\x05\x17",
    b"\x18\x18", b"\x17\x18\x18\x19\x01\x00", b"\x1a\x00\x0f\xff\xff",
    b"\x1b\x00\x00\x00\x00\x00\x00\x00\x07",
    b"\x05\x03", b"\x04\x04", b"\x1a\x00\x10\x00\x00", b"\x19\x01",
    b"\x18", b"\x20", b"\x81\x01", b"\x1f", b"\x1c", b"\x9f\x01\xff",
]

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "corpus", "qblock")
    os.makedirs(out, exist_ok=True)
    for s in SEEDS:
        name = s.hex() or "empty"
        with open(os.path.join(out, name), "wb") as f:
            f.write(s)

if __name__ == "__main__":
    main()
