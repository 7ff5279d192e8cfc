#!/usr/bin/env bash
# rcoapd's proxy between libcoap 4.3.1 (Debian libcoap3-bin, INTEROP-NOTES
# §6) and rcoap, across transports:
#  1. rcoap over coap+ws -> rcoapd --proxy -> coap-server-notls on UDP:
#     GET /time (libcoap's text), PUT /example_data of 3000 bytes (whole on
#     WS, Block1 on UDP) and GET it back through the proxy (Block2 on UDP,
#     whole on WS); libcoap's log shows the requests arriving without
#     Proxy-Uri, with Uri-Path and Hop-Limit 16.
#  2. coap-client-notls -P (Proxy-Uri over UDP) -> rcoapd --proxy -> a
#     second rcoapd over coap+tcp: GET /hello, /large (100 KiB, Block2
#     downstream on UDP, whole upstream) equal to the body fetched
#     directly; libcoap's own Hop-Limit 16 arrives upstream as 15.
# A missing peer skips (exit 77); under CI=true it fails.
# Usage: bash test_proxy_libcoap.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls

# A port free on both UDP and TCP (coap-server-notls opens both).
LP=$(rcd_free_port_udp_tcp)

lc_server ls "$LP" -v 7
L=coap://127.0.0.1:$LP

rcd_start d2 1 -v -l coap+tcp://127.0.0.1:0 || {
  rc_fail "second rcoapd starts"
  rc_done
}
D2=coap+tcp://127.0.0.1:$(rcd_port d2 127.0.0.1)
rcd_start px 2 --proxy --proxy-timeout $((5000 * RC_SLOW)) \
  --proxy-allow 'coap://127.0.0.1:*' --proxy-allow 'coap+tcp://127.0.0.1:*' \
  -l coap+ws://127.0.0.1:0 -l coap://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
PXU=coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)

echo "=== 1. rcoap (coap+ws) -> rcoapd proxy -> coap-server-notls (UDP)"
coap -T $RC_TMO get -O "35,$L/time" "$PXW/"
rc_expect_status "$ST" 0 "GET libcoap's /time through the proxy"
rc_expect_re "$(tail -n 1 <<<"$OUT")" '^[A-Z][a-z]{2} [ 0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]$' \
  "libcoap /time: its 'Mon DD HH:MM:SS' text arrives over WS"
head -c 2250 /dev/urandom | base64 -w0 >"$RC_TMP/up.txt"
coap -T $((10 * RC_SLOW)) put -d "@$RC_TMP/up.txt" -O "35,$L/example_data" "$PXW/"
rc_expect_status "$ST" 0 "PUT 3000 bytes to libcoap's /example_data through the proxy"
coap -T $((10 * RC_SLOW)) get -O "35,$L/example_data" "$PXW/"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/up.txt")" "and GET it back through the proxy, byte for byte"
sleep 0.3
LLOG=$(grep '^v:1' "$RC_TMP/ls.err" "$RC_TMP/ls.out" 2>/dev/null)
rc_expect_re "$LLOG" 'c:GET .*Uri-Path:time' "libcoap sees GET with Uri-Path time"
rc_expect_re "$LLOG" 'c:GET .*Hop-Limit:16' "with Hop-Limit 16 (RFC 8768)"
rc_expect_not "$LLOG" "Proxy-Uri" "and never Proxy-Uri"
rc_expect_re "$LLOG" 'c:PUT .*Block1:' "the upload reaches libcoap in Block1 over UDP"

echo "=== 2. coap-client-notls -P -> rcoapd proxy -> rcoapd (coap+tcp)"
lc -P "$PXU" "$D2/hello"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap through the proxy gets the coap+tcp server's /hello"
rc_expect "$LERR" "Proxy-Uri:$D2/hello" "libcoap sent Proxy-Uri"
rc_expect_re "$(cat "$RC_TMP/d2.err")" 'GET .*Uri-Path:"hello".*Hop-Limit:15' \
  "the upstream gets Uri-Path hello and libcoap's Hop-Limit 16 decremented to 15"
coap -T $RC_TMO get "$D2/large"
cp "$RC_TMP/coap.out" "$RC_TMP/large.tcp"
lc -P "$PXU" "$D2/large"
if cmp -s "$RC_TMP/lc.body" "$RC_TMP/large.tcp"; then
  rc_pass "libcoap gets /large (100 KiB) through the proxy byte for byte"
else
  rc_fail "libcoap's /large through the proxy differs ($(wc -c <"$RC_TMP/lc.body") bytes)"
fi
rc_expect "$LERR" "Block2:99/_/1024" "block-wise to libcoap on UDP (100 blocks of 1024)"

kill -TERM "$(rcd_pid ls)" 2>/dev/null
rcd_stop px
rcd_stop d2
rc_done
