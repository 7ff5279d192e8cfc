#!/usr/bin/env python3
"""A fake CoAP-over-UDP server that sends observe notifications out of
order, for the RFC 7641 §3.4 check of rcoap's client.

usage: udp_reorder_server.py PORTFILE
Binds 127.0.0.1:0 and writes its port to PORTFILE. To the first request
with an Observe option it answers in the ACK with Observe 10 "n10", then
sends NON notifications with Observe 12 "n12", 11 "n11" (older than 12:
the client must drop it), 13 "n13", 2^23 + 14 "wrap" (V2 - V1 = 2^23 + 1
> 2^23: older by the serial-number rule, dropped) and 14 "n14", then exits after answering any later request (the deregistration) or 5 s.
"""
import socket
import sys
import time


def opt_observe(v, prev=0):
    b = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
    return bytes([((6 - prev) << 4) | len(b)]) + b


def msg(t, code, mid, tok, obs, payload):
    h = bytes([0x40 | (t << 4) | len(tok), code, mid >> 8, mid & 0xFF]) + tok
    return h + opt_observe(obs) + b"\xff" + payload


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(sys.argv[1], "w") as f:
        f.write(str(s.getsockname()[1]))
    s.settimeout(10)
    d, peer = s.recvfrom(2048)
    tkl = d[0] & 0xF
    tok = d[4:4 + tkl]
    mid = (d[2] << 8) | d[3]
    s.sendto(msg(2, 0x45, mid, tok, 10, b"n10"), peer)
    for i, (obs, pl) in enumerate([(12, b"n12"), (11, b"n11"), (13, b"n13"),
                                   ((1 << 23) + 14, b"wrap"), (14, b"n14")]):
        time.sleep(0.1)
        s.sendto(msg(1, 0x45, 0x5000 + i, tok, obs, pl), peer)
    s.settimeout(5)
    try:
        d, peer = s.recvfrom(2048)
        if (d[0] >> 4) & 3 == 0:
            s.sendto(bytes([0x60 | 0, 0, d[2], d[3]]), peer)
    except socket.timeout:
        pass


main()
