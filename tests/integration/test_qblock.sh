#!/usr/bin/env bash
# Q-Block (RFC 9177) between rcoap and rcoapd over coap:// on loopback:
#  - rcoap --qblock PUTs 100 KiB to /store/q (Q-Block1 sets of 10 NON
#    blocks, 2.31 after each) over IPv4 and GETs it back over IPv6 in
#    Q-Block2 sets (a continue request per set): the bytes are the same;
#    /large with --qblock equals /large without; the same 100 KiB both
#    ways through rcoapd --proxy (Q-Block is hop-by-hop: the proxy takes
#    and gives Q-Block, the origin sees Block1/Block2);
#  - a raw UDP peer (python, one socket) uploads 4 blocks of 16 bytes
#    (Size1 60 in each) with block 2 missing: 4 s after the last block rcoapd answers 4.08
#    with Content-Format 272 and the payload 0x02 (the CBOR unsigned
#    integer 2) on the last request's token; block 2 then completes the
#    body (2.01/2.04 on its token) and a plain GET reads it back whole.
# Usage: bash test_qblock.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

rcd_start d 2 -l coap://127.0.0.1:0 -l 'coap://[::1]:0' || {
  rc_fail "rcoapd starts"
  rc_done
}
U=coap://127.0.0.1:$(rcd_port d 127.0.0.1 coap)
U6="coap://[::1]:$(rcd_port d ::1 coap)"

echo "=== rcoap --qblock <-> rcoapd"
head -c 102400 /dev/urandom >"$RC_TMP/body.bin"
coap -T $((10 * RC_SLOW)) -v --qblock put -d @"$RC_TMP/body.bin" "$U/store/q"
rc_expect_status "$ST" 0 "Q-Block1 PUT of 100 KiB exits 0"
rc_expect "$ERR" "Q-Block1:99/0/1024" "the last of 100 Q-Block1 blocks went"
rc_expect_eq "$(grep -c '^< 2.31 Continue.*Q-Block1:[0-9]*9/1/1024' <<<"$ERR")" 9 \
  "a 2.31 after each of the 9 whole sets before the last"
coap -T $((10 * RC_SLOW)) -v --qblock -o "$RC_TMP/back.bin" get "$U6/store/q"
rc_expect_status "$ST" 0 "Q-Block2 GET over IPv6 exits 0"
cmp -s "$RC_TMP/body.bin" "$RC_TMP/back.bin" &&
  rc_pass "the 100 KiB came back intact" ||
  rc_fail "the body differs ($(wc -c <"$RC_TMP/back.bin") bytes)"
rc_expect_eq "$(grep -c '^> .*Q-Block2:[1-9]0/1/1024' <<<"$ERR")" 9 \
  "one continue request (Q-Block2 N0/1) per set"
# A new address (IPv6 here): rcoapd holds the first set back (RFC 9175
# §2.4, amplification limit): one 4.01 with Echo, the GET again with that
# Echo, then each of the 100 blocks once (none of the held-back set).
rc_expect_eq "$(grep -c '^< 4.01 .*Echo:' <<<"$ERR")" 1 "exactly one 4.01 with Echo"
rc_expect_eq "$(grep -c '^> .*GET.*Q-Block2:0/1/1024 Echo:' <<<"$ERR")" 1 \
  "the GET repeated once with the Echo, its Q-Block2 option kept"
rc_expect_eq "$(grep -c '^< 2.05.*Q-Block2:' <<<"$ERR")" 100 "100 Q-Block2 responses"
coap -T $((10 * RC_SLOW)) -o "$RC_TMP/l1.bin" get "$U/large"
coap -T $((10 * RC_SLOW)) --qblock -o "$RC_TMP/l2.bin" get "$U/large"
rc_expect_status "$ST" 0 "Q-Block2 GET /large exits 0"
cmp -s "$RC_TMP/l1.bin" "$RC_TMP/l2.bin" && rc_pass "/large with --qblock equals Block2" ||
  rc_fail "/large with --qblock differs"

echo "=== through rcoapd --proxy: Q-Block is hop-by-hop"
rcd_start px 1 -l coap://127.0.0.1:0 --proxy --proxy-allow 'coap://127.0.0.1:*' || {
  rc_fail "the proxy starts"
  rc_done
}
X=coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)
coap -T $((10 * RC_SLOW)) --qblock -d @"$RC_TMP/body.bin" \
  -O "35,$U/store/viaproxy" put "$X/"
rc_expect_status "$ST" 0 "Q-Block1 PUT through the proxy exits 0"
coap -T $((10 * RC_SLOW)) -v --qblock -o "$RC_TMP/px.bin" -O "35,$U/store/viaproxy" get "$X/"
rc_expect_status "$ST" 0 "Q-Block2 GET through the proxy exits 0"
rc_expect "$ERR" "Q-Block2:99/0/1024" "the proxy answered in Q-Block2 sets"
cmp -s "$RC_TMP/body.bin" "$RC_TMP/px.bin" && rc_pass "the 100 KiB went through the proxy both ways intact" ||
  rc_fail "the body through the proxy differs"
rcd_stop px

echo "=== raw peer: a missing Q-Block1 block"
PO=$(timeout $((30 * RC_SLOW)) /usr/bin/python3 - 127.0.0.1 "$(rcd_port d 127.0.0.1 coap)" <<'EOF' 2>&1
import socket, sys, time

def opt(last, num, val):
    d = num - last
    dn, dx = (d, b"") if d < 13 else (13, bytes([d - 13]))
    return bytes([dn << 4 | len(val)]) + dx + val

def put(mid, tok, num, more, payload):
    o = opt(0, 11, b"store") + opt(11, 11, b"h")
    o += opt(11, 19, bytes([num << 4 | (8 if more else 0) | 0]))  # SZX 0
    o += opt(19, 60, bytes([60]))  # Size1 60, in every block (§4.6)
    return bytes([0x50 | len(tok), 0x03, mid >> 8, mid & 0xff]) + tok + o \
        + b"\xff" + payload

body = bytes((i * 7 + 1) % 251 for i in range(60))
blocks = [body[i:i + 16] for i in range(0, 60, 16)]  # 16, 16, 16, 12
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
for n in (0, 1, 3):
    s.send(put(0x100 + n, bytes([0xa0 + n]), n, n < 3, blocks[n]))
t0 = time.monotonic()
s.settimeout(20)
d = s.recv(2048)
print("answer after %.1f s: %s" % (time.monotonic() - t0, d.hex()))
s.send(put(0x102, b"\xa2", 2, True, blocks[2]))
d = s.recv(2048)
print("final: %s" % d.hex())
EOF
)
echo "$PO" | sed 's/^/    | /'
# NON 4.08, token a3 (block 3's), Content-Format 272 (0xc2 0x01 0x10),
# payload marker, 0x02.
rc_expect_re "$PO" 'answer after [4-9]\.[0-9] s: 5188....a3c20110ff02([^0-9a-f]|$)' \
  "4.08 naming block 2 (CBOR 0x02), CF 272, on the last token, after 4 s"
rc_expect_re "$PO" 'final: 51(41|44)....a2' "block 2 completes the body: 2.01/2.04 on its token"
coap -T $RC_TMO -o "$RC_TMP/h.bin" get "$U/store/h"
rc_expect_eq "$(od -An -tx1 "$RC_TMP/h.bin" | tr -d ' \n')" \
  "$(python3 -c 'print(bytes((i*7+1)%251 for i in range(60)).hex())')" \
  "the 60 bytes read back whole"
rcd_stop d
rc_done
