#!/usr/bin/env bash
# What the interop audit found off RFC 7252 against libcoap 4.3.1 (Debian
# libcoap3-bin) over coap:// (UDP), checked with libcoap's tools:
#  1. unrecognized critical options (§5.4.1): coap-client-notls's CON
#     request with option 2049 gets 4.02 in the ACK; the same as NON gets
#     a Reset (§4.3: rejected), not a NON 4.02; OSCORE (option 9, RFC
#     8613, not implemented by rcoapd) gets 4.02, as from libcoap's own
#     server, instead of being served in the clear.
#  2. conditional requests on /store/NAME (§5.10.8): PUT with
#     If-None-Match creates (2.01 with an ETag) and then gets 4.12; PUT
#     with If-Match of another ETag gets 4.12, with the current one 2.04;
#     an empty If-Match on a missing item 4.12; GET with the current ETag
#     2.03 (§5.10.6.2). A PUT over the store's 1 MiB item limit whose
#     Size1 says so gets 4.13 with Size1 at its first block (RFC 7959
#     §2.9.3), not after the whole upload.
#  3. rcoapd as a forward proxy to coap-server-notls (§5.7.2): a request
#     with an unrecognized safe-to-forward critical option (2049) is
#     forwarded, and libcoap's own 4.02 comes back (its echo of the option
#     and its "Bad Option" text); an unrecognized unsafe option (2050) is
#     refused by the proxy with 4.02 (it was 5.02). The same through a
#     reverse route (--route /lc=coap://libcoap): 2049 reaches libcoap
#     (it answered 4.02 from the route itself); off a route rcoapd still
#     refuses it.
#  4. rcoap's last datagrams leave before it exits: the ACK of a separate
#     response (libcoap's /async) and, after observe --count, the ACK of
#     a CON notification and the cancelling GET (Observe: 1) reach
#     coap-server-notls (they were collected for a batch and dropped with
#     the socket; libcoap retransmitted the response to no one).
#  5. rcoap observe over coap:// outlives a crash of the server: libcoap
#     killed (SIGKILL: no 4.04 farewell, no connection to lose) and
#     restarted on its port; once the last notification's Max-Age (1 s)
#     and the grace (2 s) pass in silence, rcoap registers again (RFC
#     7641 §3.3.1) and prints the new server's notifications (it went
#     silent until --duration before).
# coap-client exits 0 whatever happens, so its -v 7 PDU log is checked.
# A missing peer skips (exit 77); under CI=true it fails.
# Usage: bash test_libcoap_audit.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls

LP=$(rcd_free_port_udp_tcp)
lc_server ls "$LP" -v 7 || {
  rc_fail "coap-server-notls starts"
  rc_done
}
rcd_start d 2 -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 \
  --proxy --proxy-allow "coap://127.0.0.1:$LP" --route "/lc=coap://127.0.0.1:$LP" || {
  rc_fail "rcoapd starts"
  rc_done
}
U=coap://127.0.0.1:$(rcd_port d 127.0.0.1 coap)
T=coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)
L=coap://127.0.0.1:$LP
LC_B=$((3 * RC_SLOW))

# The PDU lines the server sent (not the client's own requests).
answers() { grep -vE ' c:(GET|PUT|POST|DELETE) ' <<<"$LERR"; }

echo "=== 1. unrecognized critical options"
lc -O 2049,x "$U/hello"
rc_expect_re "$(answers)" 't:ACK c:4\.02 .*unrecognized critical option 2049' \
  "CON with option 2049: 4.02 in the ACK"
lc -N -O 2049,x "$U/hello"
rc_expect_re "$(answers)" '^v:1 t:RST c:0\.00 ' "NON with option 2049: a Reset"
rc_expect_eq "$(answers | grep -c ' c:[245]\.')" 0 "NON with option 2049: no response"
lc -O 9,0x00 "$U/hello"
rc_expect_re "$(answers)" 't:ACK c:4\.02 .*unrecognized critical option 9' \
  "OSCORE (not implemented): 4.02"
rc_expect_not "$LOUT" "Hello" "OSCORE: not served in the clear"
lc -O 9,0x00 "$L/time"
rc_expect_re "$(answers)" 't:ACK c:4\.02 ' "(libcoap's server answers OSCORE with 4.02 too)"
# rcoap's client (§5.4.1: a response with an unrecognized critical option
# "MUST cause the response to be rejected"): libcoap's 4.02 echoes 2049.
coap -T $((10 * RC_SLOW)) -i -O 2049,x get "$L/time"
rc_expect_status "$ST" 4 "rcoap -O 2049 to libcoap: exit 4 (the server refused)"
rc_expect_re "$ERR" 'response rejected: it carries an unrecognized critical option: option 2049 in a 4\.02 Bad Option response' \
  "rcoap rejects libcoap's 4.02 that carries option 2049"
rc_expect_re "$OUT" $'^4\\.02 .*\nOption-2049: 78' "rcoap -i still shows what came"

echo "=== 2. conditional requests on /store"
lc -m put -e one -O 5 "$U/store/cond"
rc_expect_re "$(answers)" 't:ACK c:2\.01 .*ETag:0x' "PUT If-None-Match creates: 2.01 with an ETag"
etag=$(answers | sed -n 's/.*ETag:0x\([0-9a-f]*\).*/\1/p' | head -n 1)
lc -m put -e two -O 5 "$U/store/cond"
rc_expect_re "$(answers)" 't:ACK c:4\.12 ' "PUT If-None-Match on an existing item: 4.12"
lc -m put -e two -O 1,0xffffffff "$U/store/cond"
rc_expect_re "$(answers)" 't:ACK c:4\.12 ' "PUT If-Match of another ETag: 4.12"
lc "$U/store/cond"
rc_expect_eq "$LOUT" "one" "the failed PUTs changed nothing"
lc -O "4,0x$etag" "$U/store/cond"
rc_expect_re "$(answers)" "t:ACK c:2\\.03 .*ETag:0x$etag" "GET with the current ETag: 2.03"
lc -m put -e three -O "1,0x$etag" "$U/store/cond"
rc_expect_re "$(answers)" 't:ACK c:2\.04 ' "PUT If-Match of the current ETag: 2.04"
lc -m put -e four -O 1 "$U/store/missing"
rc_expect_re "$(answers)" 't:ACK c:4\.12 ' "PUT empty If-Match on a missing item: 4.12"

head -c 1100000 /dev/zero >"$RC_TMP/big.bin"
lc -m put -b 1024 -f "$RC_TMP/big.bin" "$U/store/big"
rc_expect_re "$(answers)" '^v:1 t:ACK c:4\.13 .*Size1:1048576' \
  "PUT of 1.1 MB (Size1 said so): 4.13 with Size1 1 MiB at its first block"
rc_expect_eq "$(answers | grep -c ' c:2\.31 ')" 0 "no block taken before the 4.13"

echo "=== 3. forward proxy to libcoap (Proxy-Uri over coap+tcp)"
coap -T $((10 * RC_SLOW)) -i -O 2049,x -O "35,$L/time" get "$T/"
rc_expect_status "$ST" 4 "option 2049 through the proxy: a 4.xx"
rc_expect_re "$OUT" $'^4\\.02 .*\nOption-2049: 78' "the origin's 4.02 (it echoes option 2049): forwarded"
rc_expect_not "$OUT" "unrecognized critical option" "not refused by the proxy itself"
# rcoap itself rejects that 4.02 (RFC 7252 §5.4.1; over TCP an Abort,
# RFC 8323 §5.6) and says what it was; the proxy lives on.
rc_expect_re "$ERR" 'response rejected: .*option 2049 in a 4\.02 Bad Option response' \
  "rcoap rejects the relayed 4.02 carrying critical option 2049"
coap -T $((10 * RC_SLOW)) get "$T/hello"
rc_expect_status "$ST" 0 "the proxy answers the next connection"
coap -T $((10 * RC_SLOW)) -i -O 2049,y get "$U/lc/time"
rc_expect_re "$OUT" $'^4\\.02 .*\nOption-2049: 79' "a route forwards option 2049 (libcoap's 4.02 echoes it)"
rc_expect_re "$(grep -a ' c:GET ' "$RC_TMP/ls.err" "$RC_TMP/ls.out" 2>/dev/null)" '2049:\\x79' \
  "libcoap got option 2049 through the route"
coap -T $((10 * RC_SLOW)) -i -O 2049,y get "$U/hello"
rc_expect_re "$OUT" '^4\.02 .*unrecognized critical option 2049' "off a route: rcoapd's own 4.02"
coap -T $((10 * RC_SLOW)) -i -O 2050,y get "$U/lc/time"
rc_expect_re "$OUT" '^4\.02 .*cannot forward unsafe option 2050' "an unsafe one on a route: the proxy's 4.02"
coap -T $((10 * RC_SLOW)) -i -O 2050,x -O "35,$L/time" get "$T/"
rc_expect_re "$OUT" '^4\.02 .*cannot forward unsafe option 2050' "an unknown unsafe option: 4.02 from the proxy"

echo "=== 4. rcoap's last datagrams reach libcoap"
# The server's log of what it received from the client's port: sent
# lines carry the server's MID too, so match on what only a client sends.
coap -T $((10 * RC_SLOW)) get "$L/async?1"
rc_expect_eq "$OUT" "done" "rcoap GET libcoap /async?1: the separate response"
mid=$(grep -a '^v:1 t:CON c:2\.05 .*:: .done.' "$RC_TMP/ls.err" "$RC_TMP/ls.out" 2>/dev/null |
  tail -n 1 | sed 's/.* i:\([0-9a-f]*\) .*/\1/')
sleep $((1 * RC_SLOW))
rc_expect_re "$(cat "$RC_TMP/ls.err" "$RC_TMP/ls.out" 2>/dev/null | grep -a '^v:1 t:ACK c:0\.00 ')" "i:$mid " \
  "libcoap got rcoap's ACK of the separate response (MID $mid)"
coap -T $((10 * RC_SLOW)) observe --count 2 "$L/time"
rc_expect_status "$ST" 0 "rcoap observe --count 2 libcoap /time"
sleep $((1 * RC_SLOW))
rc_expect_re "$(cat "$RC_TMP/ls.err" "$RC_TMP/ls.out" 2>/dev/null | grep -a '^v:1 t:CON c:GET ')" \
  'Observe:1, Uri-Path:time' "libcoap got the cancelling GET (Observe: 1)"

echo "=== 5. observe over coap:// survives a server crash"
RCOAP=$(rc_tool rcoap)
timeout $((40 * RC_SLOW)) "$RCOAP" observe --duration $((30 * RC_SLOW)) "$L/time" \
  >"$RC_TMP/obs.out" 2>"$RC_TMP/obs.err" &
OBS=$!
trap 'kill "$OBS" 2>/dev/null; rcd_cleanup; rm -rf "$RC_TMP"' EXIT
nlines() { wc -l <"$RC_TMP/obs.out"; }
for _ in $(seq 1 $((50 * RC_SLOW))); do [ "$(nlines)" -ge 2 ] && break; sleep 0.1; done
kill -KILL "$(rcd_pid ls)"
wait "$(rcd_pid ls)" 2>/dev/null
unset "RCD_PID[ls]"
sleep 1
lc_server ls2 "$LP" -v 7
BEFORE=$(nlines)
for _ in $(seq 1 $((100 * RC_SLOW))); do [ "$(nlines)" -ge $((BEFORE + 2)) ] && break; sleep 0.1; done
rc_expect_re "$(nlines)" "^[0-9]+$" "(observer output: $BEFORE lines at the restart, $(nlines) now)"
[ "$(nlines)" -ge $((BEFORE + 2)) ] && rc_pass "rcoap prints the restarted server's notifications" ||
  rc_fail "rcoap prints the restarted server's notifications ($BEFORE -> $(nlines))"
rc_expect_re "$(cat "$RC_TMP/ls2.out" "$RC_TMP/ls2.err" 2>/dev/null | grep -a '^v:1 t:CON c:GET ')" \
  'Observe:0, Uri-Path:time' "the restarted libcoap got a new registration"
kill "$OBS" 2>/dev/null
wait "$OBS" 2>/dev/null

rcd_stop d
rcd_stop ls2
rc_done
