"""CoAP options (RFC 7252 §3.1) for the test peers written in Python:
encoded from and parsed into (number, value) pairs. Shared by
coap_origin.py (UDP) and coap_tcp_origin.py (RFC 8323 framing), which
import it from this folder."""
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
