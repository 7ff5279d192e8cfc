#!/usr/bin/python3
"""A scripted coap+tcp notifier for rcoap-bench --observe's checks. It
answers every GET with Observe (RFC 7641 §3.1) with 2.05, Observe 1 and
the payload "0", and every other request (the trigger) with 2.04, then
notifies each observer once with Observe and payload the round's number
(RFC 8323 frames, CSM first). In round 2 MODE spoils it for the first
observer: "ok" nothing, "dup" a second copy after the notification,
"stale" round 1's payload first, "noobs" a 2.05 without Observe first,
"missing" no notification at all. It prints "port N" on stdout and
exits after --secs (default 20) or when stdin closes.

usage: notifier.py MODE [SECS]
"""
import os
import socket
import sys
import threading
import time

MODE = sys.argv[1]
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
lock = threading.Lock()
observers = []  # (socket, token)
rounds = [0]


def frame(code, token, opts=b"", payload=b""):
    body = opts + (b"\xff" + payload if payload else b"")
    n = len(body)
    if n < 13:
        head = bytes([n << 4 | len(token)])
    elif n < 269:
        head = bytes([13 << 4 | len(token), n - 13])
    else:
        head = bytes([14 << 4 | len(token)]) + (n - 269).to_bytes(2, "big")
    return head + bytes([code]) + token + body


def note(token, seq, payload, observe=True):
    opts = bytes([0x61, seq & 0xFF]) if observe else b""
    return frame(0x45, token, opts, payload)


def read_frame(f):
    b0 = f.read(1)
    if not b0:
        return None
    ln, tkl = b0[0] >> 4, b0[0] & 15
    if ln == 13:
        ln = 13 + f.read(1)[0]
    elif ln == 14:
        ln = 269 + int.from_bytes(f.read(2), "big")
    elif ln == 15:
        ln = 65805 + int.from_bytes(f.read(4), "big")
    code = f.read(1)[0]
    token = f.read(tkl)
    return code, token, f.read(ln)


def has_observe(body):
    num, i = 0, 0
    while i < len(body) and body[i] != 0xFF:
        d, l = body[i] >> 4, body[i] & 15
        i += 1
        if d == 13:
            d, i = 13 + body[i], i + 1
        elif d == 14:
            d, i = 269 + int.from_bytes(body[i:i + 2], "big"), i + 2
        if l == 13:
            l, i = 13 + body[i], i + 1
        elif l == 14:
            l, i = 269 + int.from_bytes(body[i:i + 2], "big"), i + 2
        num += d
        if num == 6:
            return True
        i += l
    return False


def fan_out(r):
    with lock:
        obs = list(observers)
    out = {}
    for k, (s, tok) in enumerate(obs):
        msg = b""
        pay = str(r).encode()
        if r == 2 and k == 0:
            if MODE == "missing":
                continue
            if MODE == "stale":
                msg += note(tok, r, str(r - 1).encode())
            if MODE == "noobs":
                msg += note(tok, r, pay, observe=False)
        msg += note(tok, r + 1, pay)
        if r == 2 and k == 0 and MODE == "dup":
            msg += note(tok, r + 1, pay)
        out[s] = out.get(s, b"") + msg
    for s, data in out.items():
        try:
            s.sendall(data)
        except OSError:
            pass


def serve(s):
    f = s.makefile("rb")
    s.sendall(b"\x00\xe1")  # CSM (RFC 8323 §5.3)
    try:
        while True:
            fr = read_frame(f)
            if fr is None:
                return
            code, tok, body = fr
            if code >= 0xE0 or code == 0 or code >= 0x20:
                continue  # signals and responses
            if code == 0x01 and has_observe(body):
                with lock:
                    observers.append((s, tok))
                s.sendall(note(tok, 1, b"0"))
            elif code == 0x01:
                s.sendall(frame(0x45, tok, b"", b"0"))
            else:
                rounds[0] += 1
                s.sendall(frame(0x44, tok))
                fan_out(rounds[0])
    except (OSError, IndexError):
        return


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("port %d" % ls.getsockname()[1], flush=True)
    ls.settimeout(0.2)
    end = time.monotonic() + SECS
    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    os._exit(0)


main()
