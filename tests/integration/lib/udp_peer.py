#!/usr/bin/env python3
"""A raw CoAP-over-UDP peer for the bad-input tests.

usage: udp_peer.py HOST PORT WAIT HEX [HEX ...]
Sends each HEX datagram in turn (from one socket, so one peer) and prints
every datagram that comes back for it as "<- HEX" lines; "-- HEX" before
each send. A CON that comes back (a separate response) is acknowledged
with an empty ACK, as a client must, and that is shown as "-> ack MID".
With RST_NON=1 in the environment every NON that comes back is rejected
with a RST ("-> rst MID"), as a client that no longer wants
notifications does (RFC 7641 §3.6).

What comes back "for" a datagram:
- WAIT "sync": everything that arrives before the answer to a CoAP ping
  (an Empty CON, Message ID 0xfexx) sent right after the datagram. The
  server reads one socket in order and answers a ping at once with a RST
  (RFC 7252 §4.3), so an immediate answer to the datagram comes before
  that RST and silence is known without waiting it out. The probe's RST
  is not printed; a probe left unanswered for SYNC_CAP seconds (default
  20) ends the peer with exit status 3.
- WAIT in seconds: everything within WAIT seconds after the send; with
  QUIET=S and MIN=N in the environment, it stops earlier, once N
  datagrams have come and then S seconds passed without another (for
  late answers: a separate response, a notification, and no
  retransmission of them).
"""
import os
import socket
import sys
import time


def answer(s, d, rst_non):
    """Prints d; acknowledges a CON, rejects a NON when asked."""
    print("<- " + d.hex(), flush=True)
    if len(d) >= 4 and (d[0] >> 4) & 3 == 0 and d[1] != 0:
        s.send(bytes([0x60, 0, d[2], d[3]]))
        print("-> ack %02x%02x" % (d[2], d[3]), flush=True)
    if len(d) >= 4 and (d[0] >> 4) & 3 == 1 and rst_non:
        s.send(bytes([0x70, 0, d[2], d[3]]))
        print("-> rst %02x%02x" % (d[2], d[3]), flush=True)


def recv(s, left):
    """One datagram within left seconds, or None."""
    if left <= 0:
        return None
    s.settimeout(left)
    try:
        return s.recv(70000)
    except (socket.timeout, ConnectionRefusedError):
        return None


def main():
    host, port, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rst_non = os.environ.get("RST_NON") == "1"
    quiet = float(os.environ.get("QUIET", "0"))
    want = int(os.environ.get("MIN", "0"))
    cap = float(os.environ.get("SYNC_CAP", "20"))
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    for n, hx in enumerate(sys.argv[4:]):
        print("-- " + hx, flush=True)
        s.send(bytes.fromhex(hx))
        if wait == "sync":
            probe = bytes([0x40, 0, 0xFE, n & 0xFF])
            s.send(probe)
            end = time.monotonic() + cap
            while True:
                d = recv(s, end - time.monotonic())
                if d is None:
                    print("!! no answer to the ping after %s" % hx, flush=True)
                    sys.exit(3)
                if d == bytes([0x70, 0, 0xFE, n & 0xFF]):
                    break
                answer(s, d, rst_non)
            continue
        end = time.monotonic() + float(wait)
        got, last = 0, time.monotonic()
        while True:
            now = time.monotonic()
            left = end - now
            if quiet and got >= want:
                left = min(left, last + quiet - now)
            d = recv(s, left)
            if d is None:
                break
            got, last = got + 1, time.monotonic()
            answer(s, d, rst_non)


main()
