#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_http_upgrade and fuzz_ws_frames.

Usage: python3 fuzz/seeds/ws_seeds.py  (from the repository root)
http_upgrade: requests, good and refused (the fuzzer splits them where
their first byte says). ws_frames: one control byte (bit 0: also send a
message; the rest: the piece size) followed by client frames.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def write(folder, name, data):
    d = os.path.join(ROOT, folder)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def request(method=b"GET", path=b"/.well-known/coap", version=b"HTTP/1.1",
            headers=None):
    if headers is None:
        headers = [(b"Host", b"example.org"), (b"Upgrade", b"websocket"),
                   (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Key", KEY),
                   (b"Sec-WebSocket-Protocol", b"coap"),
                   (b"Sec-WebSocket-Version", b"13")]
    out = method + b" " + path + b" " + version + b"\r\n"
    for k, v in headers:
        out += k + b": " + v + b"\r\n"
    return out + b"\r\n"


def base_headers():
    return [(b"Host", b"example.org"), (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Key", KEY),
            (b"Sec-WebSocket-Protocol", b"coap"),
            (b"Sec-WebSocket-Version", b"13")]


def replace(name, value):
    return [(k, value if k == name else v) for k, v in base_headers()]


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    if n < 126:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = b"\x37\xfa\x21\x3d"
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def main():
    reqs = {
        "rfc8323": request(),
        "coap_v1": request(headers=replace(b"Sec-WebSocket-Protocol", b"coap.v1")),
        "both": request(headers=replace(b"Sec-WebSocket-Protocol", b"coap.v1, coap")),
        "mqtt": request(headers=replace(b"Sec-WebSocket-Protocol", b"mqtt")),
        "ver8": request(headers=replace(b"Sec-WebSocket-Version", b"8")),
        "badkey": request(headers=replace(b"Sec-WebSocket-Key", b"c2hvcnQ=")),
        "keepalive": request(headers=replace(b"Connection", b"keep-alive, Upgrade")),
        "origin_ok": request(headers=base_headers() + [(b"Origin", b"http://localhost")]),
        "origin_bad": request(headers=base_headers() + [(b"Origin", b"http://evil")]),
        "post": request(method=b"POST"),
        "http10": request(version=b"HTTP/1.0"),
        "http20": request(version=b"HTTP/2.0"),
        "plain_get": request(path=b"/index.html", headers=[(b"Host", b"h")]),
        "head": request(method=b"HEAD", path=b"/app.js", headers=[(b"Host", b"h")]),
        "no_upgrade": request(headers=[(b"Host", b"h")]),
        "obsfold": b"GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n",
        "bare_lf": b"GET / HTTP/1.1\nHost: h\n\n",
        "tls_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "frames_after": request() + frame(2, b"\x01\x45hi"),
        "many_headers": b"GET / HTTP/1.1\r\n" + b"".join(
            b"X-%d: v\r\n" % i for i in range(60)) + b"\r\n",
    }
    for name, data in reqs.items():
        write("http_upgrade", name, data)

    frames = {
        "one": frame(2, b"\x01\x45hi"),
        "empty": frame(2, b""),
        "two": frame(2, b"\x00\xe1") + frame(2, b"\x01\x01\x07"),
        "fragments": frame(2, b"ab", fin=False) + frame(9, b"p") +
                     frame(0, b"cd", fin=False) + frame(0, b"ef"),
        "ping": frame(9, b"ping"),
        "pong": frame(10, b""),
        "close": frame(8, b"\x03\xe8bye"),
        "close_empty": frame(8, b""),
        "close_bad": frame(8, b"\x03\xe7"),
        "close_utf8": frame(8, b"\x03\xe8\xc0\xaf"),
        "text": frame(1, b"hello"),
        "unmasked": frame(2, b"ab", mask=False),
        "rsv": frame(2, b"ab", rsv=4),
        "opcode3": frame(3, b"ab"),
        "cont_first": frame(0, b"ab"),
        "len126": frame(2, bytes(200)),
        "len127": frame(2, bytes(300))[:2] + b"\x00" * 6 + b"\x01\x2c",
        "oversize": frame(2, bytes(301)),
        "frag_oversize": frame(2, bytes(200), fin=False) + frame(0, bytes(200)),
        "big_ping": frame(9, bytes(126)),
    }
    for i, (name, data) in enumerate(frames.items()):
        for ctl in (0x00, 0x06 | (i & 1)):
            write("ws_frames", "%s_%02x" % (name, ctl), bytes([ctl]) + data)


if __name__ == "__main__":
    main()
