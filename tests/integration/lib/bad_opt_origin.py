#!/usr/bin/env python3
"""A CoAP origin whose answers carry a known option with a value length
outside its range (RFC 7252 §5.4.3), over UDP and over coap+tcp (RFC
8323 framing), for the client side of the malformed-option tests.

usage: bad_opt_origin.py SECONDS
Binds UDP and TCP on 127.0.0.1:0 and prints "udp N" and "tcp N", then
serves for SECONDS. A GET /NAME gets 2.05 "body" with one option, by NAME:
  cf    Content-Format of 3 bytes (elective, range 0-2)
  obs   Observe of 4 bytes (elective, 0-3)
  ma    Max-Age of 5 bytes (elective, 0-4)
  etag  ETag of 9 bytes (elective, 1-8)
  b2    Block2 of 4 bytes (critical, 0-3)
  ok    Content-Format 0 (well formed)
over UDP piggybacked in the ACK (same Message ID and token). Every
request is logged as "req udp|tcp /NAME"; over TCP a 7.05 Abort is
logged as "abort".
"""
import select
import socket
import sys
import time

from coap_opts import enc_opts, frame, parse_opts, take

BAD = {
    "cf": (12, b"\x00\x00\x2a"),
    "obs": (6, b"\x00\x00\x00\x07"),
    "ma": (14, b"\x00\x00\x00\x00\x3c"),
    "etag": (4, b"123456789"),
    "b2": (23, b"\x00\x00\x00\x06"),
    "ok": (12, b""),
}


def path_of(opts):
    return "/" + "/".join(v.decode() for n, v in opts if n == 11)


def answer_opts(path):
    o = BAD.get(path[1:])
    return [o] if o else []


def main():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", 0))
    t.listen(8)
    print("udp %d" % u.getsockname()[1], flush=True)
    print("tcp %d" % t.getsockname()[1], flush=True)
    end = time.time() + float(sys.argv[1])
    conns = {}
    while time.time() < end:
        r, _, _ = select.select([u, t] + list(conns), [], [], 0.2)
        for s in r:
            if s is u:
                d, peer = u.recvfrom(2048)
                if len(d) < 4 or d[1] == 0:
                    continue
                tkl = d[0] & 15
                tok, opts = d[4:4 + tkl], parse_opts(d[4 + tkl:])[0]
                p = path_of(opts)
                print("req udp " + p, flush=True)
                hdr = bytes([0x60 | tkl, 0x45, d[2], d[3]])
                u.sendto(hdr + tok + enc_opts(answer_opts(p)) + b"\xffbody",
                         peer)
            elif s is t:
                c, _ = t.accept()
                c.sendall(frame(0xE1, b"", []))  # CSM
                conns[c] = b""
            else:
                d = s.recv(65536)
                if not d:
                    del conns[s]
                    s.close()
                    continue
                buf = conns[s] + d
                while True:
                    m = take(buf)
                    if m is None:
                        break
                    code, tok, opts, _, buf = m
                    if code == 0xE5:
                        print("abort", flush=True)
                    elif 1 <= code <= 7:
                        p = path_of(opts)
                        print("req tcp " + p, flush=True)
                        s.sendall(frame(0x45, tok, answer_opts(p), b"body"))
                if s in conns:
                    conns[s] = buf


main()
