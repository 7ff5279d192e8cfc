#!/usr/bin/env python3
"""A tiny CoAP-over-UDP origin that answers what rcoap's demo server does
not: validation (ETag -> 2.03), an unregistered Content-Format and a
Max-Age, and logs every request's options, for the HTTP-to-CoAP tests.

usage: coap_origin.py PORTFILE SECONDS
Binds 127.0.0.1:0, writes the port to PORTFILE, serves for SECONDS.
Each request is logged on stdout as "REQ code=0.01 path=/v opts=N:hex,..."
(N the option number). GET /v without ETag: 2.05, ETag 0x0102, Max-Age 5,
Content-Format 9999, payload "v1"; with ETag 0x0102: 2.03 and the ETag.
POST /c: 2.01 with Location-Path "c", "a b" and Location-Query "x=1".
Anything else: 4.04 with the diagnostic "no such thing".
"""
import socket
import sys
import time

from coap_opts import enc_opts, parse_opts


def parse(d):
    """Token and options of a UDP message."""
    tkl = d[0] & 15
    return d[4:4 + tkl], parse_opts(d[4 + tkl:])[0]


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(sys.argv[1], "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            d, peer = s.recvfrom(2048)
        except socket.timeout:
            break
        if len(d) < 4 or d[1] == 0:
            continue
        tok, opts = parse(d)
        path = "/" + "/".join(v.decode() for n, v in opts if n == 11)
        print("REQ code=%d.%02d path=%s opts=%s" % (
            d[1] >> 5, d[1] & 31, path,
            ",".join("%d:%s" % (n, v.hex()) for n, v in opts)), flush=True)
        etag = [v for n, v in opts if n == 4]
        if path == "/v" and etag == [b"\x01\x02"]:
            code, ropts, body = 0x43, [(4, b"\x01\x02")], b""
        elif path == "/v":
            code = 0x45
            ropts = [(4, b"\x01\x02"), (12, (9999).to_bytes(2, "big")),
                     (14, b"\x05")]
            body = b"v1"
        elif path == "/c" and d[1] == 2:
            code, body = 0x41, b""
            ropts = [(8, b"c"), (8, b"a b"), (20, b"x=1")]
        else:
            code, ropts, body = 0x84, [], b"no such thing"
        typ = 2 << 4 if (d[0] >> 4) & 3 == 0 else 1 << 4  # ACK to a CON
        hdr = bytes([0x40 | typ | len(tok), code]) + d[2:4] + tok
        s.sendto(hdr + enc_opts(ropts) + (b"\xff" + body if body else b""),
                 peer)


main()
