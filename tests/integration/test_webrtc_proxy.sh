#!/usr/bin/env bash
# rcoapd as a gateway to and from coaps+wr (draft-groves-coap-webrtcdc-02
# §10: a WebRTC peer reaches local devices on another CoAP transport
# through a WebRTC endpoint that proxies), on 127.0.0.1:
#  - from coaps+wr: rcoap on a data channel to rcoapd --proxy, which
#    forwards to a UDP rcoapd "device": a PUT to the reverse-proxy route
#    /devices/lamp read back over the channel and from the device itself
#    over coap://, a GET by Proxy-Uri coap://, an observation relayed
#    (the device's notifications reach the WebRTC client);
#  - to coaps+wr: Proxy-Uri coaps+wr://127.0.0.1/... from a coap+ws
#    client; the proxy POSTs its offer to --proxy-signal (the device's
#    /webrtc) and forwards over its own data channel: GET, PUT read back
#    from the device over coap://; WebRTC on both sides (coaps+wr client
#    -> proxy -> coaps+wr upstream);
#  - to coaps+wr with the signaling unreachable: 5.02 naming the
#    signaling URI that failed; a coaps+wr Proxy-Uri with a port: 4.00
#    (draft-groves §6.1: the port SHALL be omitted).
# Usage: bash test_webrtc_proxy.sh BUILD_DIR  (RCOAP_VALGRIND=1: memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

# The device: coap:// (UDP), and coaps+wr with its signaling on coap+ws.
rcd_start dev 3 "${RCD_HS[@]}" -l coap://127.0.0.1:0 -l coaps+wr://127.0.0.1:0 \
  -l coap+ws://127.0.0.1:0 || {
  rc_fail "the device rcoapd starts"
  rc_done
}
DEV=coap://127.0.0.1:$(rcd_port dev 127.0.0.1 coap)
DEVSIG=coap+ws://127.0.0.1:$(rcd_port dev 127.0.0.1 coap+ws)/webrtc
# A TCP port nobody listens on: the second proxy's dead signaling.
DEAD=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

rcd_start px 2 "${RCD_HS[@]}" -v --proxy --proxy-timeout $((8000 * RC_SLOW)) \
  --proxy-allow 'coap://127.0.0.1:*' --proxy-allow 'coaps+wr://127.0.0.1:*' \
  --proxy-signal "$DEVSIG" --route "/devices/lamp=$DEV/store/lamp" \
  --route "/devices/temp=$DEV/sensors/temp" \
  -l coaps+wr://127.0.0.1:0 -l coap+ws://127.0.0.1:0 || {
  rc_fail "the proxy rcoapd starts"
  rc_done
}
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
SIG=(--signal "$PXW/webrtc")
U=coaps+wr://127.0.0.1

echo "=== from coaps+wr: data channel -> proxy -> coap:// device"
coap -T $RC_TMO "${SIG[@]}" get "$U/hello"
rc_expect "$OUT" "Hello, world!" "the proxy's own /hello over coaps+wr"
# The subject here is rcoapd --proxy (under memcheck in the valgrind pass,
# like every rcoapd of this test); rcoap is only the client, under memcheck
# in its own tests: after its first run here it runs natively
# (RC_NATIVE_TOOLS, scripts/testlib.sh).
RC_NATIVE_TOOLS=rcoap
coap -T $RC_TMO "${SIG[@]}" -i put -d on "$U/devices/lamp"
[ "$ST" = 0 ] || printf '    | rcoap exit %s: %s\n' "$ST" "$(tail -n 3 <<<"$ERR")"
rc_expect_re "$OUT" '^2\.0[14] ' "PUT /devices/lamp over coaps+wr through the route: 2.01/2.04"
coap -T $RC_TMO "${SIG[@]}" get "$U/devices/lamp"
rc_expect_eq "$OUT" "on" "GET /devices/lamp back over coaps+wr"
coap -T $RC_TMO get "$DEV/store/lamp"
rc_expect_eq "$OUT" "on" "the UDP device itself has what the WebRTC client PUT"
coap -T $RC_TMO "${SIG[@]}" get -O "35,$DEV/hello" "$U/"
rc_expect "$OUT" "Hello, world!" "GET by Proxy-Uri coap:// over coaps+wr"
coap -T $((10 * RC_SLOW)) "${SIG[@]}" observe --count 2 "$U/devices/temp"
rc_expect_status "$ST" 0 "observe /devices/temp over coaps+wr exits 0"
rc_expect_eq "$(grep -c ' 2\.05 ' <<<"$OUT")" 2 \
  "the device's notifications reach the WebRTC client through the proxy"

echo "=== to coaps+wr: proxy -> data channel -> upstream"
coap -T $((10 * RC_SLOW)) -i get -O "35,$U/hello" "$PXW/"
rc_expect_re "$OUT" '^2\.05 ' "Proxy-Uri coaps+wr:// from coap+ws: 2.05"
rc_expect "$OUT" "Hello, world!" "with the upstream's body"
rc_expect "$(cat "$RC_TMP/px.err")" "webrtc: answer from signaling" \
  "the proxy got its answer from --proxy-signal"
coap -T $((10 * RC_SLOW)) -i put -d "via a data channel" -O "35,$U/store/up" "$PXW/"
rc_expect_re "$OUT" '^2\.0[14] ' "PUT by Proxy-Uri coaps+wr://: 2.01/2.04"
coap -T $RC_TMO get "$DEV/store/up"
rc_expect_eq "$OUT" "via a data channel" "the upstream has it (read over coap://)"
coap -T $((10 * RC_SLOW)) "${SIG[@]}" get -O "35,$U/store/up" "$U/"
rc_expect_eq "$OUT" "via a data channel" "coaps+wr client -> proxy -> coaps+wr upstream"

echo "=== to coaps+wr: failures"
rcd_start px2 1 --proxy --proxy-allow 'coaps+wr://127.0.0.1:*' \
  --proxy-signal "coap+ws://127.0.0.1:$DEAD/webrtc" -l coap+ws://127.0.0.1:0 || {
  rc_fail "the second proxy starts"
  rc_done
}
PX2=coap+ws://127.0.0.1:$(rcd_port px2 127.0.0.1 coap+ws)
coap -T $((10 * RC_SLOW)) -i get -O "35,$U/hello" "$PX2/"
rc_expect_re "$OUT" '^5\.02 ' "signaling unreachable: 5.02"
rc_expect "$OUT" "signaling at coap+ws://127.0.0.1:$DEAD/webrtc failed" \
  "naming the signaling that failed"
coap -T $RC_TMO -i get -O "35,$U:5684/hello" "$PX2/"
rc_expect_re "$OUT" '^4\.00 ' "a coaps+wr Proxy-Uri with a port: 4.00"
coap -T $RC_TMO get "$PX2/hello"
rc_expect "$OUT" "Hello, world!" "the proxy still serves"

rcd_stop px2
rcd_stop px
rcd_stop dev
rc_done
