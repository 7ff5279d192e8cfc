#!/usr/bin/env bash
# rcoapd --max-unrequested-body 1024 over coap+ws, as a peer that cannot
# receive a WebSocket message over 1472 bytes (libcoap up to 4.3.5,
# docs/INTEROP.md) sees it on the wire: a raw WebSocket client
# (python3-websockets) sends the CSM and GET /large with no Block2, and
# gets block 0 of 1024 bytes (Block2 0/1/1024 = 0x0e, Size2 102400) in one
# message under 1472 bytes, unasked (RFC 7959 §2.4); it asks for block 1
# with the same size and gets it (Block2 0x1e); GET /hello, which fits,
# comes whole. Without the option the same GET gets the whole 100 KiB in
# one message, and a client that names its own block size (Block2 szx 2)
# gets what it asked for either way.
# Usage: bash test_unrequested_body.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
PY=/usr/bin/python3 # Debian's, with python3-websockets (INTEROP-NOTES §3)
"$PY" -c 'import websockets' 2>/dev/null ||
  rc_skip "python3-websockets is not installed (apt-get install python3-websockets)"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

cat >"$RC_TMP/wsget.py" <<'EOF'
# python3 wsget.py PORT REQ_HEX...: CSM, then each request (CoAP over
# WebSocket framing, hex) in turn; prints "len HEX" of each answer.
import asyncio, sys, websockets

async def main():
    port, reqs = sys.argv[1], sys.argv[2:]
    async with websockets.connect(f"ws://127.0.0.1:{port}/.well-known/coap",
                                  subprotocols=["coap"], compression=None,
                                  max_size=None, open_timeout=20) as ws:
        # our CSM as libcoap sends it: Max-Message-Size 8388864, Block-Wise-Transfer
        await ws.send(bytes.fromhex("00e12380010020"))
        csm = await asyncio.wait_for(ws.recv(), 20)
        print("csm", len(csm), csm.hex())
        for r in reqs:
            await ws.send(bytes.fromhex(r))
            m = await asyncio.wait_for(ws.recv(), 20)
            print("msg", len(m), m.hex())

asyncio.run(main())
EOF

# GET tok=42 Uri-Path "large" (Len 0, TKL 1, 0.01, 0x42, 0xb5 "large");
# the same with Block2 (option 23: delta 12, 0xc1) 1/0/1024 (0x16); GET
# tok=43 /hello; GET tok=44 /large with Block2 0/0/64 (szx 2: 0x02).
GET_LARGE=010142b56c61726765
GET_LARGE_B1=010142b56c61726765c116
GET_HELLO=010143b568656c6c6f
GET_LARGE_SZX2=010144b56c61726765c102

# wsget PORT REQ...: OUT (the answers), ST
wsget() {
  ST=0
  OUT=$(timeout $((60 * RC_SLOW)) "$PY" "$RC_TMP/wsget.py" "$@" 2>&1) || ST=$?
}
# msg N: the Nth answer's hex; mlen N: its length
msg() { sed -n "s/^msg [0-9]* //p" <<<"$OUT" | sed -n "${1}p"; }
mlen() { sed -n "s/^msg \([0-9]*\) .*/\1/p" <<<"$OUT" | sed -n "${1}p"; }
decode() { rc_run rcoap-decode --framing ws "$1" 2>&1; }

rcd_start capped 1 -l coap+ws://127.0.0.1:0 --max-unrequested-body 1024 || {
  rc_fail "rcoapd --max-unrequested-body 1024 starts"
  rc_done
}
P=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/capped.out" | head -n 1 | sed 's/.*://')
wsget "$P" "$GET_LARGE" "$GET_LARGE_B1" "$GET_HELLO" "$GET_LARGE_SZX2"
rc_expect_status "$ST" 0 "raw WebSocket client: four requests answered"
M1=$(msg 1)
# 0x01 (Len 0, TKL 1), 0x45 2.05, tok 42; then ETag (4), Content-Format (12), Block2 (23):
# 0xb1 0x0e (delta 11, len 1: num 0, M 1, szx 6), Size2 (28): 0x53
# 0x019000 (102400).
[[ "$M1" == 014542* ]] && rc_pass "GET /large unasked: 2.05 for tok 42" ||
  rc_fail "GET /large unasked: answer starts ${M1:0:6}"
rc_expect "$M1" "b10e53019000ff" "GET /large unasked: Block2 0/1/1024 (0x0e) and Size2 102400 on the wire"
[ "$(mlen 1)" -le 1472 ] && rc_pass "GET /large unasked: one message of $(mlen 1) bytes (<= 1472)" ||
  rc_fail "GET /large unasked: $(mlen 1) bytes, over 1472"
D=$(decode "$M1")
rc_expect "$D" "Block2 (23)" "rcoap-decode: Block2 in the first answer"
rc_expect "$D" "payload:  1024 bytes" "rcoap-decode: 1024 payload bytes"
M2=$(msg 2)
rc_expect "$M2" "b11e" "GET /large Block2 1/0/1024: block 1, more, 1024 (0x1e)"
rc_expect "$(decode "$M2")" "payload:  1024 bytes" "block 1: 1024 payload bytes"
M3=$(msg 3)
rc_expect_not "$M3" "b10e" "GET /hello (fits): whole, no Block2"
rc_expect "$(decode "$M3")" "Hello, world!" "GET /hello (fits): the whole body"
rc_expect "$(decode "$(msg 4)")" "payload:  64 bytes" "Block2 szx 2 asked: 64-byte block"
rcd_stop capped

rcd_start plain 1 -l coap+ws://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/plain.out" | head -n 1 | sed 's/.*://')
wsget "$P" "$GET_LARGE" "$GET_LARGE_SZX2"
rc_expect_status "$ST" 0 "without the option: answered"
rc_expect_not "$(decode "$(msg 1)")" "Block2" "without the option: GET /large whole, no Block2"
[ "$(mlen 1)" -gt 102400 ] && rc_pass "without the option: one message of $(mlen 1) bytes" ||
  rc_fail "without the option: $(mlen 1) bytes"
rc_expect "$(decode "$(msg 2)")" "payload:  64 bytes" "without the option: Block2 szx 2 asked: 64-byte block"
rcd_stop plain

# rcoap (the library's client) reads the whole body from the capped server.
rcd_start capped2 1 -l coap+ws://127.0.0.1:0 --max-unrequested-body 1k || rc_done
P=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/capped2.out" | head -n 1 | sed 's/.*://')
ST=0
rc_run rcoap -T 30 get "coap+ws://127.0.0.1:$P/large" >"$RC_TMP/large.out" 2>&1 || ST=$?
rc_expect_status "$ST" 0 "rcoap get /large from the capped server: exit 0"
[ "$(wc -c <"$RC_TMP/large.out")" -eq 102400 ] && rc_pass "rcoap: all 102400 bytes" ||
  rc_fail "rcoap: $(wc -c <"$RC_TMP/large.out") bytes"
rcd_stop capped2

OUT=$(rc_run rcoapd --max-unrequested-body 8 2>&1)
rc_expect "$OUT" "at least 16" "--max-unrequested-body 8 refused"
rc_done
