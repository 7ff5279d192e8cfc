#!/usr/bin/env python3
"""A raw CoAP-over-UDP peer for the bad-input tests.

usage: udp_peer.py HOST PORT WAIT_S HEX [HEX ...]
Sends each HEX datagram in turn (from one socket, so one peer) and prints
every datagram that comes back within WAIT_S after each, as
"<- HEX" lines; "-- HEX" before each send. A CON that comes back
(a separate response) is acknowledged with an empty ACK, as a client
must, and that is shown as "-> ack MID". With RST_NON=1 in the
environment every NON that comes back is rejected with a RST ("-> rst
MID"), as a client that no longer wants notifications does (RFC 7641
§3.6).
"""
import os
import socket
import sys
import time


def main():
    host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rst_non = os.environ.get("RST_NON") == "1"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    for hx in sys.argv[4:]:
        print("-- " + hx, flush=True)
        s.send(bytes.fromhex(hx))
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                d = s.recv(70000)
            except (socket.timeout, ConnectionRefusedError):
                break
            print("<- " + d.hex(), flush=True)
            if len(d) >= 4 and (d[0] >> 4) & 3 == 0 and d[1] != 0:
                s.send(bytes([0x60, 0, d[2], d[3]]))
                print("-> ack %02x%02x" % (d[2], d[3]), flush=True)
            if len(d) >= 4 and (d[0] >> 4) & 3 == 1 and rst_non:
                s.send(bytes([0x70, 0, d[2], d[3]]))
                print("-> rst %02x%02x" % (d[2], d[3]), flush=True)


main()
