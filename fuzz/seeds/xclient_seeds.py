#!/usr/bin/env python3
"""Seed corpus for fuzz/fuzz_xclient.c, written to fuzz/corpus/xclient/.

Each seed is one config byte (bit 0: the server's CSM offers Block-Wise-
Transfer, bit 1: its Max-Message-Size is 8192, bit 2: our requests use no
BERT, bit 3: small blocks, bit 4: Q-Block) and records [ctl, code, len (2 bytes), options
and payload]: the fuzzer wraps each in a frame with the token of one of
our last 8 requests (ctl bits 0-2). Requests go out in the order
observe /o, GET /a, GET /b (sink), then, once the server's CSM is in,
PUT /c (5000 bytes) and POST /d (7000 bytes from a source); each later
block or re-registration takes the next token.
"""
import os
import sys

from exchange_seeds import block, options, uint  # same option encoding

CONTENT, CHANGED, CONTINUE, NOT_FOUND, TOO_LARGE, UNAVAILABLE = \
    0x45, 0x44, 0x5F, 0x84, 0x8D, 0xA3
OBSERVE, ETAG, MAX_AGE, BLOCK2, BLOCK1, SIZE2, SIZE1 = 6, 4, 14, 23, 27, 28, 60
CONTENT_FORMAT, Q_BLOCK1, Q_BLOCK2 = 12, 19, 31
INCOMPLETE, BAD_OPTION = 0x88, 0x82


def opts(pairs, payload=b""):
    return options(pairs, payload)


def rec(tok, code, body, ctl=0):
    return bytes([ctl | tok, code]) + len(body).to_bytes(2, "big") + body


def pat(n, shift=0):
    return bytes((i * 13 + shift) % 251 for i in range(n))


SEEDS = {
    # a notification for /o, then the whole body for /a and /b
    "observe_then_small": bytes([0x03])
    + rec(0, CONTENT, opts([(OBSERVE, uint(1))], b"21.5"))
    + rec(1, CONTENT, opts([], b"hello"))
    + rec(2, CONTENT, opts([], b"world"))
    + rec(0, CONTENT, opts([(OBSERVE, uint(2))], b"21.6")),
    # /a in three 16-byte blocks (small blocks, no BERT), ETag and Size2
    "block2_small": bytes([0x0C])
    + rec(1, CONTENT, opts([(ETAG, b"\x01\x02"), (BLOCK2, block(0, 1, 0)),
                            (SIZE2, uint(40))], pat(16)))
    + rec(5, CONTENT, opts([(ETAG, b"\x01\x02"), (BLOCK2, block(1, 1, 0))],
                           pat(16, 16)))
    + rec(6, CONTENT, opts([(ETAG, b"\x01\x02"), (BLOCK2, block(2, 0, 0))],
                           pat(8, 32))),
    # /a as BERT: two 1024-byte units, then the rest
    "block2_bert": bytes([0x03])
    + rec(1, CONTENT, opts([(BLOCK2, block(0, 1, 7)), (SIZE2, uint(2500))],
                           pat(2048)))
    + rec(5, CONTENT, opts([(BLOCK2, block(2, 0, 7))], pat(452))),
    # the PUT /c upload acknowledged block by block, then 2.04
    "block1_continue": bytes([0x00])
    + rec(3, CONTINUE, opts([(BLOCK1, block(0, 1, 6))]))
    + rec(5, CONTINUE, opts([(BLOCK1, block(1, 1, 6))]))
    + rec(6, CONTINUE, opts([(BLOCK1, block(2, 1, 6))]))
    + rec(7, CONTINUE, opts([(BLOCK1, block(3, 1, 6))]))
    + rec(0, CHANGED, opts([(BLOCK1, block(4, 0, 6))])),
    # refusals: 4.13 with Size1 for the POST, 5.03 with Max-Age, 4.04
    "refusals": bytes([0x01])
    + rec(4, TOO_LARGE, opts([(SIZE1, uint(1024))], b"too big"))
    + rec(3, UNAVAILABLE, opts([(MAX_AGE, uint(2))], b"busy"))
    + rec(1, NOT_FOUND, opts([])),
    # the ETag changes between blocks; then a timeout jump and cancels
    "etag_change_and_cancel": bytes([0x0C])
    + rec(1, CONTENT, opts([(ETAG, b"\x01"), (BLOCK2, block(0, 1, 0))],
                           pat(16)))
    + rec(5, CONTENT, opts([(ETAG, b"\x02"), (BLOCK2, block(1, 0, 0))],
                           pat(4)))
    + rec(0, CONTENT, opts([(OBSERVE, uint(3))], b"x"), ctl=0x20)
    + rec(2, CONTENT, opts([]), ctl=0x08 | 0x10),
    # Q-Block2 (RFC 9177) blocks of /a out of order, then a clock jump
    # (the missing one asked for)
    "qblock2_sets": bytes([0x18])
    + rec(1, CONTENT, opts([(ETAG, b"\x07"), (Q_BLOCK2, block(0, 1, 0)),
                            (SIZE2, uint(40))], pat(16)))
    + rec(1, CONTENT, opts([(ETAG, b"\x07"), (Q_BLOCK2, block(2, 0, 0))],
                           pat(8, 32)))
    + rec(1, CONTENT, opts([(ETAG, b"\x07")]), ctl=0x08)
    + rec(1, CONTENT, opts([(ETAG, b"\x07"), (Q_BLOCK2, block(1, 1, 0))],
                           pat(16, 16))),
    # the Q-Block1 PUT /c: 2.31 for a set, a 4.08 naming blocks 1 and 3,
    # a malformed 4.08, then 2.04
    "qblock1_missing": bytes([0x18])
    + rec(3, CONTINUE, opts([(Q_BLOCK1, block(9, 1, 0))]))
    + rec(3, INCOMPLETE, opts([(CONTENT_FORMAT, uint(272))], b"\x01\x03"))
    + rec(4, INCOMPLETE, opts([(CONTENT_FORMAT, uint(272))], b"\x82\x01\x02"))
    + rec(3, CHANGED, opts([])),
    # a server without Q-Block: 4.02 to the GET and to the upload
    "qblock_fallback": bytes([0x10])
    + rec(1, BAD_OPTION, opts([]))
    + rec(3, BAD_OPTION, opts([]))
    + rec(5, CONTENT, opts([], b"plain")),
    # raw bytes: a Pong, then garbage
    "raw": bytes([0x02])
    + bytes([0x80, 0, 0, 2]) + b"\x00\xe3"
    + bytes([0x80, 0, 0, 3]) + b"\xf0\xff\xff",
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "corpus",
                                                             "xclient")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
