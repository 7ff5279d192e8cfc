#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_session into fuzz/corpus/session/: byte
streams a server session may see (CSM first, then requests, signals,
split and oversize frames). The first byte of each seed is the fuzzer's
split seed (bit 6 clear: stream mode; bit 7: the rx_budget); the ws_*
seeds set bit 6: WebSocket message mode, each piece one message."""
import os, sys

def frame(code, token=b"", opts=b"", payload=b""):
    body = opts + (b"\xff" + payload if payload else b"")
    n = len(body)
    if n < 13:
        hdr = bytes([(n << 4) | len(token)])
    elif n < 269:
        hdr = bytes([(13 << 4) | len(token), n - 13])
    elif n < 65805:
        hdr = bytes([(14 << 4) | len(token)]) + (n - 269).to_bytes(2, "big")
    else:
        hdr = bytes([(15 << 4) | len(token)]) + (n - 65805).to_bytes(4, "big")
    return hdr + bytes([code]) + token + body

CSM = frame(0xe1, opts=b"\x23\x80\x01\x00\x20")
seeds = {
    "csm_only": CSM,
    "csm_get": CSM + frame(0x01, b"\x42", b"\xb4time"),
    "get_first": frame(0x01, b"\x42"),
    "ping": CSM + frame(0xe2, b"\x42"),
    "ping_custody": CSM + frame(0xe2, b"\x01", b"\x20") + frame(0xe2, b"\x02"),
    "pong": CSM + b"\x10\xe3\x20",
    "release": CSM + frame(0xe4, opts=b"\x2ba.example:5683\x21\x3c", payload=b"bye"),
    "abort": CSM + frame(0xe5, opts=b"\x21\x09", payload=b"bad"),
    "bad_csm": frame(0xe1, opts=b"\x91x"),
    "oversize_req": CSM + frame(0x02, b"\x77", payload=b"a" * 3000) + frame(0x01, b"\x01"),
    "oversize_resp": CSM + frame(0x45, b"\x77", payload=b"a" * 3000),
    "empty": CSM + b"\x00\x00" * 4,
    "pipelined": CSM + b"".join(frame(0x01, bytes([i]), b"\xb4time") for i in range(16)),
    "tkl15": CSM + b"\x0f\x01",
    "ext_token": CSM + frame(0x01, b"\x00" * 8),
    "csm_update": CSM + frame(0xe1, opts=b"\x22\x04\x00") + frame(0xe1, opts=b"\x61\x20"),
    "reserved_class": CSM + b"\x00\x21",
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "corpus", "session")
os.makedirs(out, exist_ok=True)
for i, (name, data) in enumerate(seeds.items()):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([i * 37 & 0xbf]) + data)

# rx_budget seeds: first byte 0x80 | k turns the budget on (200 KiB, of
# which k * 3 KiB are held by others); frames over 64 KiB, cut short.
def post_head(tok, size, keep):
    return frame(0x02, tok, payload=b"a" * size)[:keep]

budget_seeds = {
    "budget_take": (0x80 | 5, CSM + post_head(b"\x11", 100 * 1024, 400)),
    "budget_busy": (0x80 | 60, CSM + post_head(b"\x12", 100 * 1024, 300)),
    "budget_never": (0x80 | 1, CSM + post_head(b"\x13", 300 * 1024, 300)),
    "budget_two": (0x80 | 20, CSM + frame(0x01, b"\x01")
                   + post_head(b"\x14", 70 * 1024, 200)),
}
for name, (first, data) in budget_seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([first]) + data)

# WebSocket message mode (bit 6): the pieces the fuzzer cuts are messages
# (Len nibble 0), some of them empty or shorter than the 2-byte header.
ws_seeds = {
    "ws_csm_get": (0x40, b"\x00\xe1" + b"\x01\x01\x42\xb4time"),
    "ws_short": (0x41, b"\x00\xe1" + b"\x00" + b"\x02\x01\xaa"),
    "ws_len_nibble": (0x42, b"\x00\xe1" + b"\x50\x01\xb5hello"),
}
for name, (first, data) in ws_seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([first]) + data)
