#!/bin/bash
# coaps:// (DTLS 1.2, RFC 7252 §9) between rcoap/rcoapd and libcoap 4.3.1
# (Debian libcoap3-bin, INTEROP-NOTES §6), both ways:
#  - coap-client-openssl -> rcoapd: PSK (-u identity -k key) GET /hello,
#    its ClientHello answered with a stateless HelloVerifyRequest (RFC 6347
#    §4.2.1; libcoap's -v 9 log) and the PSK hint rcoapd is given
#    (--psk-hint; none by default); PUT then GET
#    /store/x, block-wise /large (100 KiB) identical to rcoap's copy over
#    coap+tcp; a wrong key gets no answer; a client killed
#    mid-observation (no close_notify) and started again from the same
#    port (-p) is served at once: its new ClientHello in epoch 0 replaces
#    the old peer (RFC 6347 §4.2.8); a certificate verified by libcoap
#    against the test CA (-R), with an ECDHE-ECDSA suite; mutual
#    authentication (rcoapd --client-auth require): with libcoap's client
#    certificate 2.05, without one refused with rcoapd saying why.
#  - rcoap -> coap-server-openssl (DTLS on port N+1): PSK GET /time; the
#    certificate verified by name with --cafile; a certificate for another
#    name and an untrusted CA refused with exit 10 and a sentence; a server
#    asking for a client certificate: without one a sentence, with
#    --cert/--key (mTLS) 2.05.
# (These took over the checks of test_libcoap_dtls_filter.sh, which ran
# the same against a bare DTLS filter harness.)
# Exit 77 when libcoap is missing (a failure under CI=true).
#
#   bash tests/interop/test_libcoap_dtls.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

. "$RC_SRC/tests/integration/lib/rcoapd.sh"
. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-openssl coap-server-openssl
PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null ||
  { rc_fail "tests/certs/gen.sh failed"; rc_done; }

# ---- libcoap client -> rcoapd ------------------------------------------------
rcd_start k 2 -l coaps://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 \
  --psk-identity client1 --psk-key s3cr3t --psk-hint rcoapd || {
  rc_fail "rcoapd starts with a PSK coaps:// listener"
  rc_done
}
UK=coaps://127.0.0.1:$(rcd_port k 127.0.0.1 coaps)
lcs -v 9 -u client1 -k s3cr3t "$UK/hello"
rc_expect "$OUT" "Hello, world! (rcoap" "coap-client PSK -> rcoapd: GET /hello"
rc_expect "$OUT" "read hello verify request" \
  "libcoap's ClientHello answered with a HelloVerifyRequest (stateless cookie), then accepted"
rc_expect "$OUT" "got psk_identity_hint: 'rcoapd'" "with the PSK identity hint rcoapd was given (--psk-hint)"
lcs -u client1 -k s3cr3t -m put -e "from libcoap" "$UK/store/x"
lcs -u client1 -k s3cr3t "$UK/store/x"
rc_expect "$OUT" "from libcoap" "coap-client PSK -> rcoapd: PUT then GET /store/x"
timeout 30 coap-client-openssl -B 10 -u client1 -k s3cr3t \
  -o "$RC_TMP/large.lc" "$UK/large" >/dev/null 2>&1
coap -T $RC_TMO get "coap+tcp://127.0.0.1:$(rcd_port k 127.0.0.1)/large"
if [ -s "$RC_TMP/large.lc" ] && [ "$(wc -c <"$RC_TMP/large.lc")" -ge 102400 ] &&
  cmp -s "$RC_TMP/large.lc" "$RC_TMP/coap.out"; then
  rc_pass "coap-client PSK -> rcoapd: /large block-wise ($(wc -c <"$RC_TMP/large.lc") bytes) as over coap+tcp"
else
  rc_fail "coap-client PSK -> rcoapd: /large differs ($(wc -c <"$RC_TMP/large.lc" 2>/dev/null) bytes)"
fi
lcs -B 3 -u client1 -k wrong-key "$UK/hello"
rc_expect_not "$OUT" "Hello, world" "coap-client with a wrong PSK: no answer"
rcd_alive k && rc_pass "rcoapd still runs after the wrong key" ||
  rc_fail "rcoapd died after the wrong key"
CP=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 20 coap-client-openssl -B 15 -p "$CP" -u client1 -k s3cr3t -s 15 \
  "$UK/sensors/temp" >"$RC_TMP/obs.lc" 2>&1 &
OPID=$!
for _ in $(seq 100); do
  [ -s "$RC_TMP/obs.lc" ] && break
  sleep 0.1
done
kill -KILL "$OPID" 2>/dev/null
wait "$OPID" 2>/dev/null
rc_expect_re "$(cat "$RC_TMP/obs.lc")" '[0-9]' "coap-client observes /sensors/temp from port $CP"
S0=$SECONDS
lcs -B 3 -p "$CP" -u client1 -k s3cr3t "$UK/hello"
rc_expect "$OUT" "Hello, world! (rcoap" \
  "a client restarted on the same port: its new handshake replaces the old peer ($((SECONDS - S0)) s)"
rcd_stop k

rcd_start c 1 -l coaps://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" || {
  rc_fail "rcoapd starts with a certificate coaps:// listener"
  rc_done
}
lcs -v 9 -R "$PKI/ca.crt" "coaps://127.0.0.1:$(rcd_port c 127.0.0.1 coaps)/hello"
rc_expect "$OUT" "Hello, world! (rcoap" \
  "coap-client -> rcoapd: certificate verified against the CA, GET /hello"
rc_expect "$OUT" "Using cipher: ECDHE-ECDSA" "certificate handshake with an ECDHE-ECDSA suite"
rcd_stop c

rcd_start m 1 -v -l coaps://127.0.0.1:0 --cert "$PKI/server.crt" \
  --key "$PKI/server.key" --cafile "$PKI/ca.crt" --client-auth require || {
  rc_fail "rcoapd starts with a mutual-auth coaps:// listener"
  rc_done
}
UM=coaps://127.0.0.1:$(rcd_port m 127.0.0.1 coaps)
lcs -R "$PKI/ca.crt" -c "$PKI/client.crt" -j "$PKI/client.key" "$UM/hello"
rc_expect "$OUT" "Hello, world! (rcoap" "coap-client with a client certificate (mTLS) -> rcoapd: 2.05"
lcs -B 3 -R "$PKI/ca.crt" "$UM/hello"
rc_expect_not "$OUT" "Hello, world" "coap-client without a client certificate: no answer"
rc_expect "$(cat "$RC_TMP/m.err")" "client did not send a certificate (mutual TLS is required)" \
  "rcoapd says why it refused"
rcd_stop m

# ---- rcoap -> libcoap server ---------------------------------------------------
lcs_server lk -k s3cr3t -h rcoap-hint
coap -T $RC_TMO -v --psk-identity client1 --psk-key s3cr3t \
  get "coaps://127.0.0.1:$((N + 1))/time"
rc_expect_status "$ST" 0 "rcoap PSK -> coap-server: GET /time exits 0"
rc_expect_re "$OUT" '[0-9]' "rcoap PSK -> coap-server: a time in the body"
rc_expect "$ERR" "TLS: DTLSv1.2 " "DTLS 1.2 with libcoap's server"
rcd_stop lk

lcs_server lc -c "$PKI/server.crt" -j "$PKI/server.key"
coap -T $RC_TMO --cafile "$PKI/ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 0 "rcoap -> coap-server: certificate verified for localhost"
coap -T $RC_TMO --cafile "$PKI/rogue-ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 10 "rcoap -> coap-server: an untrusted CA: exit 10 (TLS)"
rc_expect "$ERR" "certificate verification failed" "an untrusted CA: says why"
rcd_stop lc

lcs_server lo -c "$PKI/other.crt" -j "$PKI/other.key"
coap -T $RC_TMO --cafile "$PKI/ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 10 "rcoap -> coap-server: a certificate for another name: exit 10 (TLS)"
rc_expect "$ERR" "host name mismatch: certificate is for DNS:other.test" \
  "a wrong host name refused with a sentence"
rcd_stop lo

lcs_server lm -c "$PKI/server.crt" -j "$PKI/server.key" -C "$PKI/ca.crt"
coap -T $RC_TMO --cafile "$PKI/ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 10 "rcoap without a certificate -> a mutual-auth coap-server: exit 10"
rc_expect "$ERR" "it may require a client certificate" "with a sentence"
coap -T $RC_TMO --cafile "$PKI/ca.crt" --cert "$PKI/client.crt" \
  --key "$PKI/client.key" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 0 "rcoap with a client certificate (mTLS) -> coap-server: GET /time"
rc_expect_re "$OUT" '[0-9]' "a time in the body"
rcd_stop lm
rc_done
