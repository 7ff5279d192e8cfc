#!/usr/bin/env bash
# The amplification limit on coap:// (RFC 7252 §11.3, RFC 9175 §2.4),
# rcoapd's default (--amplification-factor 3):
#  - a raw peer's first CON GET /large (11 bytes) gets, instead of a
#    1 KiB block, a piggybacked 4.01 with the request's Message ID and
#    token and a 12-byte Echo (19 bytes in all: under 3x the request);
#  - that Echo sent from another source port (a spoofer) gets a 4.01 with
#    another Echo, as does the Echo with one byte changed; sent back from
#    the peer's own address it gets the 2.05 block, and so does a later
#    request without Echo (the peer stays confirmed);
#  - rcoap fetches /large (100 KiB) whole: its first GET is repeated with
#    the Echo once (rcoap -v shows the 4.01 and the repeat);
#  - coaps:// (DTLS) answers a first large request at once (the cookie
#    exchange proved the address);
#  - a POST runs once (RFC 7252 §5.8: not idempotent): at
#    --amplification-factor 1 the answer to POST /log (its entries, one
#    more than the request's bytes) goes as 4.01 + Echo, rcoap repeats
#    the POST with the Echo and gets the entry the first run appended;
#    /log holds one entry, not two; a raw peer's repeat under a new token
#    and MID gets the same 2.04, and so does a duplicate of that repeat;
#  - --amplification-factor 0 sends the block at once; a bad value is a
#    usage error.
# Usage: bash test_udp_echo.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
EP="$RC_SRC/tests/integration/lib/echo_peer.py"

rcd_start d 2 -l coap://127.0.0.1:0 -l coaps://127.0.0.1:0 \
  --psk-identity u --psk-key secretkey || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1 coap)
PS=$(rcd_port d 127.0.0.1 coaps)
W=$(awk "BEGIN{print 2 * $RC_SLOW}")

echo "=== raw peers"
PO=$(timeout $((30 * RC_SLOW)) $PY "$EP" 127.0.0.1 "$P" "$W" 2>&1)
line() { sed -n "$1p" <<<"$PO"; }
rc_expect_re "$(line 1)" '^A <- 61810101aadcef[0-9a-f]{24}$' \
  "first GET /large: ACK 4.01, MID 0101, token aa, Echo of 12 bytes"
echo1=$(line 1 | cut -c 20-)
rc_expect_re "$(line 2)" '^B <- 61810202aadcef[0-9a-f]{24}$' "the Echo from another port: 4.01 again"
rc_expect_not "$(line 2)" "$echo1" "with an Echo of its own address"
rc_expect_re "$(line 3)" '^A <- 61810103aadcef[0-9a-f]{24}$' "a changed Echo: 4.01 again"
rc_expect_re "$(line 4)" '^A <- 61450104aa48[0-9a-f]{16}80b10e' "the Echo as it came: 2.05 (ETag, Content-Format, Block2 0/1/1024)"
rc_expect_re "$(line 4)" '^.{2000,}$' "(a whole 1024-byte block)"
rc_expect_re "$(line 5)" '^A <- 61450105aa' "later requests without Echo: answered (confirmed)"

echo "=== rcoap"
coap -T $RC_TMO -v get "coap://127.0.0.1:$P/large"
rc_expect_status "$ST" 0 "rcoap GET /large exits 0"
rc_expect_eq "$(printf '%s' "$OUT" | wc -c)" 102400 "the whole 100 KiB body"
rc_expect "$ERR" "< 4.01 Unauthorized" "rcoap -v shows the 4.01"
rc_expect_re "$(grep -c 'Echo:' <<<"$ERR")" '^2$' "and one repeat with its Echo (2 lines with Echo)"
coap -T $RC_TMO --psk-identity u --psk-key secretkey -v get "coaps://127.0.0.1:$PS/large"
rc_expect_eq "$(printf '%s' "$OUT" | wc -c)" 102400 "coaps:// /large: the whole body"
rc_expect_not "$ERR" "4.01" "coaps://: no 4.01 (the DTLS cookie proved the address)"
rcd_stop d

echo "=== POST runs once (--amplification-factor 1)"
rcd_start o 1 --amplification-factor 1 -l coap://127.0.0.1:0 || rc_fail "rcoapd --amplification-factor 1 starts"
PO=$(rcd_port o 127.0.0.1 coap)
coap -T $RC_TMO -v post -d first "coap://127.0.0.1:$PO/log"
rc_expect_status "$ST" 0 "rcoap POST /log exits 0"
rc_expect_eq "$OUT" "#1 first" "the answer of the one run"
rc_expect "$ERR" "< 4.01 Unauthorized" "the answer was held back first (4.01 + Echo)"
rc_expect_re "$(grep -c 'Echo:' <<<"$ERR")" '^2$' "and the POST repeated with its Echo"
coap -T $RC_TMO post -d second "coap://127.0.0.1:$PO/log"
rc_expect_eq "$OUT" "$(printf '#1 first\n#2 second')" "a second POST: one entry more, each POST ran once"
RO=$(timeout $((30 * RC_SLOW)) $PY "$EP" 127.0.0.1 "$PO" "$W" post 2>&1)
rc_expect_re "$(sed -n 1p <<<"$RO")" '^A <- 61810201aadcef[0-9a-f]{24}$' "raw POST /log: ACK 4.01 with Echo"
rc_expect_re "$(sed -n 2p <<<"$RO")" '^A <- 61440202bbc0ff23312066697273740a233220' "its repeat (token bb, MID 0202) with the Echo: 2.04 (Content-Format 0), the entries"
rc_expect "$(sed -n 2p <<<"$RO")" "$(printf '#3 third' | od -An -tx1 | tr -d ' \n')" "the third one the first run appended"
rc_expect_eq "$(sed -n 3p <<<"$RO")" "$(sed -n 2p <<<"$RO")" "a duplicate of the repeat: the same 2.04"
coap -T $RC_TMO get "coap://127.0.0.1:$PO/log"
rc_expect_eq "$(wc -l <<<"$OUT")" 3 "GET /log: three entries for three POSTs"
rcd_stop o

echo "=== --amplification-factor"
rcd_start z 1 --amplification-factor 0 -l coap://127.0.0.1:0 || rc_fail "rcoapd --amplification-factor 0 starts"
PO=$(timeout $((30 * RC_SLOW)) $PY "$EP" 127.0.0.1 "$(rcd_port z 127.0.0.1 coap)" "$W" 2>&1)
rc_expect_re "$PO" '^A <- 61450101aa' "factor 0: the block at once"
rcd_stop z
ST=0
rc_run rcoapd --amplification-factor 2x >/dev/null 2>"$RC_TMP/bad.err" || ST=$?
rc_expect_status "$ST" 1 "--amplification-factor 2x: usage error"
rc_expect "$(cat "$RC_TMP/bad.err")" "--amplification-factor takes 0-1000" "and says why"
rc_done
