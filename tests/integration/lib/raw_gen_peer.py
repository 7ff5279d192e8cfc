#!/usr/bin/python3
"""A scripted coap+tcp server (RFC 8323) for test_raw_gen.sh: it serves on
127.0.0.1, prints "port N" first, answers requests by one of these modes,
and when it ends prints "requests N pongs N" (what it received).

  ok          every request gets 2.05 with a payload whose size goes round
              0, 5, 20, 300 and 70000 bytes (Len 0-12, 13, 14 and 15),
              the answers of one read in reverse order, written in pieces
              cut at odd places, with an Empty message and a Ping between
              them (the client must answer Pong)
  wrongcode   as ok, but request number --at gets 4.04
  badtoken    as ok, but request number --at gets a token no request has
  repeat      as ok, but request number --at is answered twice
  nocsm       a 2.05 instead of the CSM first
  badtkl      request number --at gets a frame with TKL 9
  release     a Release (7.04) at request number --at
  silent      no answer at all

It ends when the client has closed every connection, and at the latest
after --life seconds.

usage: raw_gen_peer.py MODE [--at N] [--life S]
(frames are built with coap_opts.tcp_frame, imported from this folder)
"""
import select
import socket
import struct
import sys
import time

from coap_opts import tcp_frame as frame

MODE = sys.argv[1]
AT = int(sys.argv[sys.argv.index("--at") + 1]) if "--at" in sys.argv else 50
LIFE = float(sys.argv[sys.argv.index("--life") + 1]) if "--life" in sys.argv else 20
SIZES = [0, 5, 20, 300, 70000]


def frames(buf):
    """Splits whole frames off buf: (list of (code, token), rest)."""
    out = []
    while buf:
        ln, tkl = buf[0] >> 4, buf[0] & 15
        ext = {13: 1, 14: 2, 15: 4}.get(ln, 0)
        if len(buf) < 2 + ext:
            break
        body = ln
        if ln == 13:
            body = 13 + buf[1]
        elif ln == 14:
            body = 269 + struct.unpack(">H", buf[1:3])[0]
        elif ln == 15:
            body = 65805 + struct.unpack(">I", buf[1:5])[0]
        total = 1 + ext + 1 + tkl + body
        if len(buf) < total:
            break
        out.append((buf[1 + ext], bytes(buf[2 + ext:2 + ext + tkl])))
        buf = buf[total:]
    return out, buf


def answer(n, token):
    """The bytes that answer request number n (from 1)."""
    size = SIZES[n % len(SIZES)]
    ok = frame(0x45, token, b"\xc0" + (b"\xff" + b"x" * (size - 2) if size > 1 else b""))
    if n != AT:
        return ok
    if MODE == "wrongcode":
        return frame(0x84, token)
    if MODE == "badtoken":
        return frame(0x45, bytes(b ^ 0x5a for b in token) + b"\x01")
    if MODE == "repeat":
        return ok + ok
    if MODE == "badtkl":
        return bytes([0x09, 0x45]) + b"\x00" * 9
    if MODE == "release":
        return frame(0xe4, b"")
    return ok


def main():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("port", ls.getsockname()[1], flush=True)
    conns = {}
    requests = pongs = 0
    served = False
    end = time.monotonic() + LIFE
    while time.monotonic() < end and not (served and not conns):
        r, _, _ = select.select([ls] + list(conns), [], [], 0.2)
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sendall(frame(0x45, b"") if MODE == "nocsm" else frame(0xe1, b""))
                conns[c] = b""
                served = True
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                del conns[s]
                s.close()
                continue
            got, conns[s] = frames(conns[s] + data)
            out = []
            for code, token in got:
                if code == 0xe3:
                    pongs += 1
                if code == 0 or code >> 5 != 0:
                    continue
                requests += 1
                if MODE != "silent":
                    out.append(answer(requests, token))
            if not out:
                continue
            out.reverse()
            blob = b"".join(out[:1]) + frame(0, b"") + frame(0xe2, b"\x07") + b"".join(out[1:])
            # pieces cut at odd places: a header, a token, a body split;
            # the client may have closed already (it stops at its count or
            # at the first wrong answer): then the connection is dropped
            cut = 0
            try:
                for step in (1, 2, 3, 7, 11):
                    s.sendall(blob[cut:cut + step])
                    cut += step
                s.sendall(blob[cut:])
            except OSError:
                del conns[s]
                s.close()
    print("requests", requests, "pongs", pongs, flush=True)


main()
