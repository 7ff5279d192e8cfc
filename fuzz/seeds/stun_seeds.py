#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/stun for fuzz_stun (and
fuzz/corpus/ice for fuzz_ice): the four RFC 5769 test vectors, and ICE
Binding requests, responses and errors signed with the credentials the
fuzz_ice target uses (local ufrag "LOCL", pwd "localpasswordlocalpass00",
remote "REMT" / "remotepasswordremotepass"). Run from anywhere;
overwrites."""
import hashlib
import hmac
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

RFC5769 = {
    "rfc5769-request": "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e"
    "207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600"
    "0965767 46a3a6836765920202000080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b5"
    "71a280280004e57a3bcf",
    "rfc5769-ipv4": "010100 3c2112a442b7e7a701bc34d686fa87dfae8022000b74657374"
    "20766563746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f9"
    "2af9ba53f06be7d780280004c07d4c96",
    "rfc5769-ipv6": "010100482112a442b7e7a701bc34d686fa87dfae8022000b74657374"
    "20766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014"
    "a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c",
    "rfc5769-longterm": "000100602112a44278ad3433c6ad72c029da412e00060012e3839e"
    "e38388e383aae38383e382afe382b90000001500 1c662f2f3439396b393534643 64f4c"
    "33346f4c394653547679363473410014000b6578616d706c652e6f726700000800 14f6"
    "7024656dd64a3e02b8e0712e85c9a28ca89666",
}

MAGIC = 0x2112A442
TID = bytes(range(1, 13))


def attr(t, v, pad=b"\0"):
    return struct.pack("!HH", t, len(v)) + v + pad * ((4 - len(v) % 4) % 4)


def message(cls, attrs, key, tid=TID, fingerprint=True):
    t = 0x0001 | ((cls & 1) << 4) | ((cls & 2) << 7)
    body = b"".join(attrs)
    if key is not None:
        hdr = struct.pack("!HHI", t, len(body) + 24, MAGIC) + tid
        mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(0x0008, mac)
    if fingerprint:
        hdr = struct.pack("!HHI", t, len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", t, len(body), MAGIC) + tid + body


def xor_v4(ip, port):
    a = bytes(int(x) for x in ip.split("."))
    x = bytes(b ^ c for b, c in zip(a, struct.pack("!I", MAGIC)))
    return attr(0x0020, struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + x)


LPWD = b"localpasswordlocalpass00"
RPWD = b"remotepasswordremotepass"
ICE = {
    # The peer's check to us (we are the controlled, lite side).
    "check": message(0, [attr(0x0006, b"LOCL:REMT"),
                         attr(0x0024, struct.pack("!I", 0x6E7FFFFF)),
                         attr(0x802A, struct.pack("!Q", 0x1122334455667788))],
                     LPWD),
    "check-use-candidate": message(0, [
        attr(0x0006, b"LOCL:REMT"), attr(0x0024, struct.pack("!I", 0x6E7FFFFF)),
        attr(0x0025, b""), attr(0x802A, struct.pack("!Q", 7))], LPWD),
    "check-wrong-pwd": message(0, [attr(0x0006, b"LOCL:REMT")], b"nope"),
    "check-controlled-conflict": message(0, [
        attr(0x0006, b"LOCL:REMT"), attr(0x8029, struct.pack("!Q", 1 << 63))],
        LPWD),
    "success": message(2, [xor_v4("10.77.0.1", 40000)], RPWD),
    "error-487": message(3, [attr(0x0009, b"\0\0\x04\x57Role Conflict")], RPWD),
    "unknown-attr": message(0, [attr(0x0006, b"LOCL:REMT"),
                                attr(0x7777, b"xyz")], LPWD),
}

for name, corpus in (("stun", {}), ("ice", {})):
    os.makedirs(os.path.join(HERE, "..", "corpus", name), exist_ok=True)
out = os.path.join(HERE, "..", "corpus", "stun")
for name, hexs in RFC5769.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes.fromhex(hexs.replace(" ", "")))
for name, b in ICE.items():
    with open(os.path.join(out, "ice-" + name), "wb") as f:
        f.write(b)
# fuzz_ice: a sequence of records: 1 byte source (which of 4 addresses),
# 2 bytes time step in ms, 2 bytes length, then the datagram.
out = os.path.join(HERE, "..", "corpus", "ice")
for name, b in ICE.items():
    for src in (0, 3):
        with open(os.path.join(out, "%s-%d" % (name, src)), "wb") as f:
            f.write(struct.pack("!BHH", src, 100, len(b)) + b
                    + struct.pack("!BHH", src, 40000, 0))
seq = b"".join(struct.pack("!BHH", 1, 60, len(b)) + b
               for b in (ICE["check"], ICE["check-use-candidate"],
                         ICE["success"]))
with open(os.path.join(out, "sequence"), "wb") as f:
    f.write(seq)
