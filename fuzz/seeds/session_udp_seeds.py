#!/usr/bin/env python3
"""Seed corpus for fuzz/fuzz_session_udp.c, written to
fuzz/corpus/session_udp/.

A seed is a config byte (see the target: bit 0 answer in the callback,
bit 1 NON requests, bit 2 CON notifications, bits 3-4 NSTART-1, bit 5 no
separate delay, bit 6 the amplification limit, factor 1, stub Echo "ok")
and op records: (n << 2) | 0 then n datagram bytes;
(k << 2) | 1 advances time k * 250 ms; (t << 2) | 2 sends a request with
token byte t (bit 7: a response on the last token seen); 3 pings.
"""
import os
import sys


def dgram(b):
    assert len(b) < 64
    return bytes([len(b) << 2]) + b


def tick(k):
    return bytes([(k << 2) | 1])


GET_HELLO = bytes.fromhex("41011001aab568656c6c6f")
SEEDS = {
    "con_get_answered": b"\x01" + dgram(GET_HELLO) + dgram(GET_HELLO) + tick(5),
    "con_get_separate": b"\x00" + dgram(GET_HELLO) + tick(5) + b"\x82" + tick(10),
    "non_get": b"\x01" + dgram(bytes.fromhex("51011002aab568656c6c6f")),
    "ping_both": b"\x00" + dgram(bytes.fromhex("4000beef")) + b"\x03" + tick(3)
    + dgram(bytes.fromhex("7000")),
    "our_request_acked": b"\x00" + b"\x0a" + tick(1)
    + dgram(bytes.fromhex("60000000")) + tick(63),
    "our_request_retransmitted": b"\x18" + b"\x0a\x0e\x12" + tick(63) * 8,
    "malformed": b"\x01" + dgram(bytes.fromhex("49011003010203040506070809"))
    + dgram(bytes.fromhex("4f011004")) + dgram(bytes.fromhex("40011008f100"))
    + dgram(bytes.fromhex("5000100c")) + dgram(bytes.fromhex("7045100e"))
    + dgram(bytes.fromhex("40e1100f")) + dgram(bytes.fromhex("4001")),
    "observe_notify_rst": b"\x05" + dgram(bytes.fromhex("4101100aaa6100b3")) + tick(1)
    + b"\x82" + b"\x82" + dgram(bytes.fromhex("70000000")) + tick(63) * 4,
    "separate_response_in": b"\x00" + b"\x0a" + tick(1)
    + dgram(bytes.fromhex("60000000")) + dgram(bytes.fromhex("41451234020a")),
    # UBSan: a ping's NULL token was passed to memcpy (fixed).
    "regress_ping_no_token": bytes.fromhex("001040 00beef030d087000".replace(" ", "")),
    # Five CONs one after the other under NSTART 1: each ends within
    # MAX_TRANSMIT_WAIT, so together they take longer than one.
    "nstart_queue_long": bytes.fromhex("000a051060180041" "0000eebac2020a"),
    # Amplification limit: a POST with a payload answered twice as large
    # goes as 4.01 + Echo; repeated with Echo "ok" (option 252 after
    # Uri-Path 11: delta 241 = 13 + 228, length 2) it is answered.
    "amp_echo": b"\x41" + dgram(bytes.fromhex("42021101aab568656c6c6fff6869"))
    + dgram(bytes.fromhex("42021102aab568656c6c6fd2e46f6bff6869"))
    + dgram(bytes.fromhex("42021101aab568656c6c6fff6869")) + tick(3),
    # UBSan: a request with no token reached memcmp with NULL (fixed).
    "regress_empty_token_request": b"\x00" + dgram(bytes.fromhex("50010001"))
    + dgram(bytes.fromhex("40010002")),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "corpus", "session_udp")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
