"""CoAP options (RFC 7252 §3.1) for the test peers written in Python:
encoded from and parsed into (number, value) pairs. Shared by
coap_origin.py (UDP), coap_tcp_origin.py and bad_opt_origin.py (RFC 8323
framing: frame and take), raw_gen_peer.py and fuzz/seeds/raw_frame_seeds.py
(tcp_frame: the framing alone, every Len class), which import it from this
folder."""
import struct


def _ext(v):
    """The 4-bit nibble and the extended bytes for a delta or length."""
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def enc_opts(opts):
    """Options [(number, value bytes)] in any order, encoded in order."""
    out, last = b"", 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        d, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out += bytes([d << 4 | ln]) + dx + lx + val
        last = num
    return out


def parse_opts(buf):
    """The options and the payload after them: ([(number, value)], bytes)."""
    opts, num, i = [], 0, 0
    while i < len(buf) and buf[i] != 0xFF:
        d, ln = buf[i] >> 4, buf[i] & 15
        i += 1
        vals = []
        for v in (d, ln):
            if v == 13:
                v = buf[i] + 13
                i += 1
            elif v == 14:
                v = struct.unpack(">H", bytes(buf[i:i + 2]))[0] + 269
                i += 2
            vals.append(v)
        num += vals[0]
        opts.append((num, bytes(buf[i:i + vals[1]])))
        i += vals[1]
    return opts, bytes(buf[i + 1:]) if i < len(buf) else b""


def tcp_frame(code, token, body=b""):
    """One RFC 8323 §3.2 frame around body (options and payload, encoded):
    the Len nibble with its 8, 16 or 32-bit Extended Length."""
    n = len(body)
    if n < 13:
        head = bytes([n << 4 | len(token)])
    elif n < 269:
        head = bytes([13 << 4 | len(token), n - 13])
    elif n < 65805:
        head = bytes([14 << 4 | len(token)]) + struct.pack(">H", n - 269)
    else:
        head = bytes([15 << 4 | len(token)]) + struct.pack(">I", n - 65805)
    return head + bytes([code]) + token + body


def frame(code, token, opts, payload=b""):
    """One RFC 8323 §3.2 message: Len, TKL, code, token, options, payload."""
    return tcp_frame(code, token, enc_opts(opts) + (b"\xff" + payload if payload else b""))


def take(buf):
    """One message from buf: (code, token, opts, payload, rest) or None."""
    if len(buf) < 2:
        return None
    ln, tkl, i = buf[0] >> 4, buf[0] & 15, 1
    if ln == 13:
        ln, i = buf[1] + 13, 2
    elif ln == 14:
        if len(buf) < 3:
            return None
        ln, i = struct.unpack(">H", buf[1:3])[0] + 269, 3
    end = i + 1 + tkl + ln
    if len(buf) < end:
        return None
    code, token = buf[i], bytes(buf[i + 1:i + 1 + tkl])
    opts, payload = parse_opts(buf[i + 1 + tkl:end])
    return code, token, opts, payload, buf[end:]
