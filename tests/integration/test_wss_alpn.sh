#!/bin/bash
# coaps+ws is HTTPS: its TLS carries an HTTP/1.1 Upgrade (RFC 8323 §4
# builds on RFC 6455), so rcoapd's coaps+ws listener talks ALPN the way an
# HTTPS server does, while its coaps+tcp listener keeps demanding "coap"
# (RFC 8323 §8.2). Checked with the clients people use: openssl s_client
# offering http/1.1, nothing, coap, only h2 (refused with alert 120);
# curl fetching the demo page over https with the test CA; rcoap -v over
# coaps+ws (ALPN http/1.1); and s_client against the coaps+tcp port
# without coap (refused).
#
#   bash tests/integration/test_wss_alpn.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

. "$RC_SRC/tests/integration/lib/tls.sh"

d_start W -l coaps+ws://127.0.0.1:0 -l coaps+tcp://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" \
  --web-root "$RC_SRC/web" --state-dir "$RC_TMP/stateW" || rc_done
# (d_port takes the last colon: the coaps+ws line ends with the web demo's
# URL.)
PW=$(grep -o 'listening on coaps+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/W.out" | sed 's/.*://')
PT=$(d_port W coaps+tcp://127.0.0.1)

# s_client against the coaps+ws port
sclient -connect "127.0.0.1:$PW" -alpn http/1.1 -CAfile "$PKI/ca.crt"
rc_expect_status "$RC" 0 "coaps+ws: s_client -alpn http/1.1 completes"
rc_expect "$OUT" "ALPN protocol: http/1.1" "coaps+ws: http/1.1 selected"
sclient -connect "127.0.0.1:$PW" -alpn h2,http/1.1 -CAfile "$PKI/ca.crt"
rc_expect "$OUT" "ALPN protocol: http/1.1" "coaps+ws: h2,http/1.1 -> http/1.1 (a browser's list)"
sclient -connect "127.0.0.1:$PW" -CAfile "$PKI/ca.crt"
rc_expect_status "$RC" 0 "coaps+ws: s_client without -alpn completes"
rc_expect "$OUT" "No ALPN negotiated" "coaps+ws: no ALPN offered, none negotiated"
rc_expect "$OUT" "Verification: OK" "coaps+ws: certificate verifies"
sclient -connect "127.0.0.1:$PW" -alpn coap -CAfile "$PKI/ca.crt"
rc_expect_status "$RC" 0 "coaps+ws: s_client -alpn coap (older rcoap) completes"
rc_expect "$OUT" "ALPN protocol: coap" "coaps+ws: coap selected when it is all that is offered"
sclient -connect "127.0.0.1:$PW" -alpn h2 -CAfile "$PKI/ca.crt"
rc_expect_status "$((RC != 0))" 1 "coaps+ws: s_client -alpn h2 fails"
rc_expect "$OUT" "SSL alert number 120" "coaps+ws: only h2 -> no_application_protocol (alert 120)"
expect_log W "client did not offer ALPN http/1.1 or coap" \
  "server log: says what coaps+ws wanted"

# coaps+tcp is unchanged: coap or nothing
sclient -connect "127.0.0.1:$PT" -alpn http/1.1 -CAfile "$PKI/ca.crt"
rc_expect "$OUT" "SSL alert number 120" "coaps+tcp: http/1.1 only -> alert 120"
sclient -connect "127.0.0.1:$PT" -CAfile "$PKI/ca.crt"
rc_expect "$OUT" "SSL alert number 120" "coaps+tcp: no ALPN -> alert 120"
sclient -connect "127.0.0.1:$PT" -alpn coap -CAfile "$PKI/ca.crt"
rc_expect "$OUT" "ALPN protocol: coap" "coaps+tcp: coap selected"

# curl: the demo page over https, then the upgrade request is HTTP/1.1
OUTC=$(timeout 20 curl -sS --cacert "$PKI/ca.crt" "https://localhost:$PW/" 2>&1)
rc_expect_status "$?" 0 "curl https://localhost:$PW/ exits 0"
rc_expect "$OUTC" "rcoap demo page" "curl: the demo page over coaps+ws's port"
HDR=$(timeout 20 curl -sS -o /dev/null -D - -w 'alpn=%{http_version}\n' \
  --cacert "$PKI/ca.crt" "https://localhost:$PW/rcoap.js" 2>&1)
rc_expect "$HDR" "HTTP/1.1 200" "curl: rcoap.js 200 over HTTP/1.1"
rc_expect "$HDR" "alpn=1.1" "curl: HTTP version 1.1 (ALPN http/1.1, not h2)"

# rcoap over coaps+ws offers http/1.1 and gets it
client -v --cafile "$PKI/ca.crt" "coaps+ws://localhost:$PW/hello"
rc_expect_status "$RC" 0 "rcoap get coaps+ws: exit 0"
rc_expect "$OUT" "Hello, world!" "rcoap get coaps+ws: /hello body"
rc_expect "$OUT" "ALPN http/1.1" "rcoap -v coaps+ws: ALPN http/1.1"
client -v --cafile "$PKI/ca.crt" "coaps+tcp://localhost:$PT/hello"
rc_expect "$OUT" "ALPN coap" "rcoap -v coaps+tcp: ALPN coap"

d_stop W
rc_done
