#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/{msg,frame,options,obs_note}: RFC
7252 and RFC 8323 examples, libcoap's signaling bytes, extended lengths at
their boundaries, and a few malformed inputs; for obs_note what follows a
notification's token (rcoap-bench --observe's walker). Run from anywhere;
overwrites."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")


def opt(delta, value):
    """One option: header with delta/length (extended as needed) + value."""
    def nib(v):
        if v < 13:
            return v, b""
        if v < 269:
            return 13, bytes([v - 13])
        return 14, (v - 269).to_bytes(2, "big")
    dn, dx = nib(delta)
    ln, lx = nib(len(value))
    return bytes([dn << 4 | ln]) + dx + lx + value


def tkl(n):
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, (n - 269).to_bytes(2, "big")


def body(opts, payload):
    return opts + (b"\xff" + payload if payload else b"")


def udp(t, code, mid, token, opts=b"", payload=b""):
    n, x = tkl(len(token))
    return bytes([0x40 | t << 4 | n, code]) + mid.to_bytes(2, "big") + x + token + body(opts, payload)


def tcp(code, token, opts=b"", payload=b""):
    b = body(opts, payload)
    n, x = tkl(len(token))
    L = len(b)
    if L < 13:
        h = bytes([L << 4 | n])
    elif L < 269:
        h = bytes([13 << 4 | n, L - 13])
    elif L < 65805:
        h = bytes([14 << 4 | n]) + (L - 269).to_bytes(2, "big")
    else:
        h = bytes([15 << 4 | n]) + (L - 65805).to_bytes(4, "big")
    return h + bytes([code]) + x + token + b


def ws(code, token, opts=b"", payload=b""):
    n, x = tkl(len(token))
    return bytes([n, code]) + x + token + body(opts, payload)


path = opt(11, b"sensors") + opt(0, b"temperature") + opt(4, b"u=Cel")
msgs = [
    (0, udp(0, 0x01, 0x7d34, b"", opt(11, b"temperature"))),
    (0, udp(2, 0x45, 0x7d34, b"", b"", b"22.5 C")),
    (0, udp(2, 0x00, 0x7d35, b"")),
    (0, udp(1, 0x02, 0x1234, b"\x01\x02\x03\x04", opt(11, b"a") + opt(1, b"\x3c"), b"hello")),
    (0, udp(0, 0x01, 1, bytes(range(13)))),
    (0, bytes([0x4f, 0x01, 0, 0])),
    (0, bytes([0x41, 0x00, 0, 0, 0xaa])),
    (1, bytes([0x01, 0x43, 0x7f])),
    (1, bytes([0x50, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20])),
    (1, bytes([0x10, 0xe3, 0x20])),
    (1, bytes([0x00, 0xe2])),
    (1, tcp(0x01, b"\x53", path)),
    (1, tcp(0x45, b"\x53", b"", b"x" * 300)),
    (1, tcp(0x02, bytes(270), opt(300, b"v" * 14), b"p")),
    (1, tcp(0x01, b"", opt(65535, b""))),
    (2, ws(0x01, b"\x53", path)),
    (2, ws(0x45, b"\x53", b"", b"22.3 Cel")),
    (2, bytes([0x00, 0xe1])),
    (2, ws(0x01, b"\x7d", opt(35, b"coap://[2001:db8::1]/"))),
    (2, bytes([0x10, 0x45, 0xff])),
]

streams = [
    bytes([0x50, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20, 0x00, 0xe2, 0x10, 0xe3, 0x20]),
    tcp(0x01, b"\x01", path) + tcp(0x45, b"\x01", b"", b"22.3 Cel") + bytes([0x01, 0x43, 0x7f]),
    tcp(0x03, b"\xde\xad", opt(11, b"big"), b"x" * 400) + tcp(0x01, b"\x01", opt(11, b"a")),
    tcp(0x02, bytes(100), b"", b"z") + bytes([0x00, 0xe2]),
    bytes([0x01, 0x43, 0x7f, 0x0f]),
    bytes([0x01, 0x43, 0x7f, 0x10, 0x45, 0xff]),
]
# config bytes: max = b0 * 4; b1 bit 6: larger buffer, bit 7: tiny pieces
configs = [bytes([16, 0x80, 1]), bytes([255, 0x00, 7]), bytes([4, 0xc0, 9]), bytes([64, 0x41, 3])]

regions = [
    (0x01, path),
    (0x01, opt(11, b"a") + opt(0, b"b") + opt(1, b"\x3c") + b"\xffpay"),
    (0xe1, opt(2, b"\x80\x01\x00") + opt(2, b"")),
    (0xe3, opt(2, b"")),
    (0xe4, opt(2, b"alt.example") + opt(2, b"\x05")),
    (0xe5, opt(2, b"\x02")),
    (0x01, opt(13, b"") + opt(268, b"") + opt(269, b"x" * 13)),
    (0x01, opt(65535, b"y" * 269)),
    (0x45, opt(12, b"\x00\x00\x00") + opt(2, b"\x01\x02\x03\x04\x05")),
    (0x01, bytes([0xf0])),
    (0x01, bytes([0x0f])),
    (0x01, bytes([0xe0, 0xff, 0xff])),
    (0x01, bytes([0xff])),
]

# after a notification's token: Observe of 0-3 bytes (4: refused), one
# repeated, none; extended deltas and lengths; malformed regions (reserved
# nibbles, truncated, a marker before an empty payload, a number past
# 65535)
notes = [
    opt(6, b"\x07") + opt(6, b"") + b"\xff42",
    opt(6, b"") + b"\xff1",
    opt(6, b"\x01\x02") + opt(6, b"") + b"\xff123456",
    opt(6, b"\xff\xff\xff") + b"\xff" + b"x" * 64,
    opt(6, b"\x01\x02\x03\x04") + b"\xffx",
    opt(6, b"\x05") + opt(0, b"\x09") + b"\xffr",
    opt(12, b"") + b"\xff1",
    opt(6, b"\x01") + opt(300, b"a" * 20) + opt(14, b"b" * 300) + b"\xffz",
    b"",
    b"\xff",
    opt(6, b"\x01") + b"\xff",
    b"\xf1\x00",
    b"\x6f",
    b"\xd1",
    b"\x63\x01",
    opt(65000, b"") + opt(1000, b""),
]


def write(sub, items):
    d = os.path.join(CORPUS, sub)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(data)


write("msg", [bytes([f]) + m for f, m in msgs])
write("frame", [c + s for c in configs for s in streams])
write("options", [bytes([c]) + r for c, r in regions])
write("obs_note", notes)
