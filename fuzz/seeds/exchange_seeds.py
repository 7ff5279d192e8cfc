#!/usr/bin/env python3
"""Seed corpus for fuzz/fuzz_exchange.c, written to fuzz/corpus/exchange/.

Each seed is one config byte (bit 0: the peer's CSM offers Block-Wise-
Transfer, bit 1: its Max-Message-Size is 8192 instead of 1152; the fuzzer
sends that CSM itself) followed by CoAP-over-TCP frames (RFC 8323 §3.2:
Len<<4 | TKL, extended length, code, token, options, 0xFF payload). The
first token byte steers the fuzzer's handler: 0x80 body limit, 0x40
observe, 0x20 defer, 0x10 sink / 2.04, 0x08 ETag, low 2 bits the answer
(small, large, streamed, empty).
"""
import os
import sys

GET, POST, PUT = 1, 2, 3
URI_PATH, OBSERVE, ETAG, BLOCK2, BLOCK1, SIZE2, SIZE1, REQ_TAG = \
    11, 6, 4, 23, 27, 28, 60, 292
Q_BLOCK1, Q_BLOCK2 = 19, 31


def uint(v):
    out = b""
    while v:
        out = bytes([v & 0xFF]) + out
        v >>= 8
    return out


def block(num, more, szx):
    return uint(num << 4 | (8 if more else 0) | szx)


def ext(v):
    """Option delta/length nibble and its extension bytes (RFC 7252 §3.1)."""
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, (v - 269).to_bytes(2, "big")


def options(opts=(), payload=b""):
    """Options in ascending order (delta encoding), then 0xFF and payload."""
    body = b""
    last = 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        dn, dx = ext(num - last)
        ln, lx = ext(len(val))
        body += bytes([dn << 4 | ln]) + dx + lx + val
        last = num
    if payload:
        body += b"\xff" + payload
    return body


def frame(code, token, opts=(), payload=b""):
    body = options(opts, payload)
    n = len(body)
    if n < 13:
        head, lenx = n, b""
    elif n < 269:
        head, lenx = 13, bytes([n - 13])
    elif n < 65805:
        head, lenx = 14, (n - 269).to_bytes(2, "big")
    else:
        head, lenx = 15, (n - 65805).to_bytes(4, "big")
    return bytes([head << 4 | len(token)]) + lenx + bytes([code]) + token + body


def path(p):
    return [(URI_PATH, s.encode()) for s in p.strip("/").split("/")]


def put_blocks(tok, total, szx, tag=None, size1=None, skip=None,
               opt=BLOCK1):
    out = b""
    bs = 16 << szx
    n = (total + bs - 1) // bs
    for i in range(n):
        if i == skip:
            continue
        chunk = bytes((i * bs + j) % 251 for j in range(min(bs, total - i * bs)))
        opts = path("/up") + [(opt, block(i, i < n - 1, szx))]
        if tag is not None:
            opts.append((REQ_TAG, tag))
        if size1 is not None and i == 0:
            opts.append((SIZE1, uint(size1)))
        out += frame(PUT, tok, opts, chunk)
    return out


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(root, "..", "corpus", "exchange")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "get_small": b"\x00" + frame(GET, b"\x00\x01", path("/hello")),
        "get_large_block2": b"\x01" + frame(GET, b"\x01\x02", path("/large"))
        + frame(GET, b"\x01\x03", path("/large") + [(BLOCK2, block(1, 0, 6))])
        + frame(GET, b"\x01\x04", path("/large") + [(BLOCK2, block(2, 0, 2))]),
        "get_block2_num_stream": b"\x00" + frame(
            GET, b"\x0a", path("/s") + [(BLOCK2, block(3, 0, 4))]),
        "put_block1": b"\x00" + put_blocks(b"\x00\x07", 300, 2, tag=b"t1"),
        "put_block1_out_of_order": b"\x00" + put_blocks(b"\x01", 200, 1, skip=1),
        "put_block1_limit": b"\x00" + put_blocks(b"\x85", 2000, 3),
        "put_block1_sink": b"\x00" + put_blocks(b"\x10", 500, 3),
        "put_size1_oversize": b"\x00" + put_blocks(b"\x00", 200, 2, size1=10**6),
        "observe_get": b"\x00" + frame(GET, b"\x41\x09", path("/obs")
                                       + [(OBSERVE, b"")])
        + frame(GET, b"\x41\x09", path("/obs") + [(OBSERVE, b"\x01")]),
        "observe_large": b"\x03" + frame(GET, b"\x61", path("/obs")
                                         + [(OBSERVE, b"")]) + b"\x00" * 64,
        "bert_put": b"\x03" + frame(
            PUT, b"\x02", path("/up") + [(BLOCK1, block(0, 1, 7))],
            bytes(i % 251 for i in range(1024)))
        + frame(PUT, b"\x02", path("/up") + [(BLOCK1, block(1, 0, 7))], b"end"),
        "bert_get": b"\x03" + frame(GET, b"\x09", path("/big")
                                    + [(BLOCK2, block(0, 0, 7))])
        + frame(GET, b"\x09", path("/big") + [(BLOCK2, block(1, 0, 7))]),
        # Q-Block (RFC 9177): sets, a hole (4.08 after the timer), a
        # continue, a list of missing blocks, mixed Block1 + Q-Block1
        "qblock1_whole": b"\x00" + put_blocks(b"\x00\x11", 700, 2, tag=b"q",
                                             size1=700, opt=Q_BLOCK1),
        "qblock1_hole": b"\x00" + put_blocks(b"\x00\x12", 400, 1, skip=3,
                                            tag=b"h", opt=Q_BLOCK1)
        + b"\x00" * 16,
        "qblock2_sets": b"\x00" + frame(GET, b"\x01\x13", path("/big")
                                       + [(Q_BLOCK2, block(0, 0, 0))])
        + frame(GET, b"\x01\x14", path("/big") + [(Q_BLOCK2, block(10, 1, 0))])
        + frame(GET, b"\x01\x15", path("/big") + [(Q_BLOCK2, block(2, 0, 0)),
                                                   (Q_BLOCK2, block(5, 0, 0))]),
        "qblock_mixed": b"\x00" + frame(PUT, b"\x16", path("/up")
                                       + [(Q_BLOCK1, block(0, 1, 0)),
                                          (BLOCK1, block(0, 1, 0))], b"x" * 16),
        "deferred": b"\x00" + frame(GET, b"\x21", path("/slow"))
        + frame(GET, b"\x22", path("/slow")) + b"\x00" * 32,
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(len(seeds), "seeds in", os.path.normpath(out), file=sys.stderr)


if __name__ == "__main__":
    main()
