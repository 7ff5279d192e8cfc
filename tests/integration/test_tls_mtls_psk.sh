#!/bin/bash
# coaps+tcp with client authentication: mutual TLS (rcoapd --client-auth
# require / request with --cafile) and pre-shared keys (rcoapd
# --psk-identity/--psk-key; rcoap --psk-identity/--psk-key), checked from
# both ends: each refusal exits 3 quickly and both logs say why. A PSK-only
# rcoapd must not let in a client that has no key (no demo certificate
# beside the PSK). TLS 1.2 PSK suites are checked with openssl s_client.
#
#   bash tests/integration/test_tls_mtls_psk.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

. "$RC_SRC/tests/integration/lib/tls.sh"
# Under valgrind every rcoapd and rcoap run is under memcheck but those
# marked RC_NATIVE=1 (scripts/testlib.sh): a client run that repeats the
# handshake of the run before it (the same certificate or key) for a
# request whose answer is the server's part.
CA=(--cafile "$PKI/ca.crt")
CLIENT=(--cert "$PKI/client.crt" --key "$PKI/client.key")

# ---- mutual TLS required -----------------------------------------------------
d_start R -l coaps+tcp://127.0.0.1:0 --cert "$PKI/server.crt" \
  --key "$PKI/server.key" --cafile "$PKI/ca.crt" --client-auth require \
  --state-dir "$RC_TMP/stR" || rc_done
PR=$(d_port R coaps+tcp://127.0.0.1)
client "${CA[@]}" "coaps+tcp://localhost:$PR/hello"
rc_expect_status "$RC" 10 "require, no client certificate: exit 10 (TLS)"
rc_expect "$OUT" "the server requires a client certificate (mutual TLS)" \
  "require, no client certificate: rcoap says so"
expect_log R "client did not send a certificate (mutual TLS is required)" \
  "require, no client certificate: rcoapd says so"
[ "$MS" -lt "$PROMPT_MS" ] && rc_pass "refused in ${MS} ms" ||
  rc_fail "refusal took ${MS} ms"
client "${CA[@]}" "${CLIENT[@]}" "coaps+tcp://localhost:$PR/hello"
rc_expect_status "$RC" 0 "require, client certificate: exit 0"
rc_expect "$OUT" "Hello, world!" "require, client certificate: /hello"
RC_NATIVE=1 client "${CA[@]}" "${CLIENT[@]}" put "coaps+tcp://localhost:$PR/store/m" -d mtls
rc_expect_status "$RC" 0 "require: PUT /store/m"
RC_NATIVE=1 client "${CA[@]}" "${CLIENT[@]}" "coaps+tcp://localhost:$PR/store/m"
rc_expect "$OUT" "mtls" "require: GET /store/m gives the body back"
client "${CA[@]}" --cert "$PKI/rogue-client.crt" --key "$PKI/rogue-client.key" \
  "coaps+tcp://localhost:$PR/hello"
rc_expect_status "$RC" 10 "require, certificate from an unknown CA: exit 10 (TLS)"
rc_expect "$OUT" "the peer rejected our certificate: unknown CA" \
  "unknown-CA client certificate: rcoap hears why"
expect_log R "client certificate: unknown CA: CN=rogue CA" \
  "unknown-CA client certificate: rcoapd names the issuer"
# a server certificate (EKU serverAuth only) is no client certificate
client "${CA[@]}" --cert "$PKI/server.crt" --key "$PKI/server.key" \
  "coaps+tcp://localhost:$PR/hello"
rc_expect_status "$RC" 10 "require, serverAuth-only certificate: exit 10 (TLS)"
expect_log R "unsuitable certificate purpose" \
  "serverAuth-only certificate: rcoapd says wrong purpose"
client "${CA[@]}" --cert "$PKI/client.crt" --key "$PKI/server.key" \
  "coaps+tcp://localhost:$PR/hello"
rc_expect_status "$RC" 1 "client key not matching its certificate: usage error"
rc_expect "$OUT" "does not match the certificate" "mismatched key: said before connecting"
d_stop R

# ---- mutual TLS requested ----------------------------------------------------
d_start Q -l coaps+tcp://127.0.0.1:0 --cert "$PKI/server.crt" \
  --key "$PKI/server.key" --cafile "$PKI/ca.crt" --client-auth request \
  --state-dir "$RC_TMP/stQ" || rc_done
PQ=$(d_port Q coaps+tcp://127.0.0.1)
client "${CA[@]}" "coaps+tcp://localhost:$PQ/hello"
rc_expect_status "$RC" 0 "request, no client certificate: exit 0"
RC_NATIVE=1 client "${CA[@]}" "${CLIENT[@]}" "coaps+tcp://localhost:$PQ/hello"
rc_expect_status "$RC" 0 "request, client certificate: exit 0"
client "${CA[@]}" --cert "$PKI/rogue-client.crt" --key "$PKI/rogue-client.key" \
  "coaps+tcp://localhost:$PQ/hello"
rc_expect_status "$RC" 10 "request, a certificate that does not verify: exit 10 (TLS)"
d_stop Q

# ---- PSK ------------------------------------------------------------------------
d_start K -l coaps+tcp://127.0.0.1:0 --psk-identity client1 --psk-key s3cr3t \
  --state-dir "$RC_TMP/stK" || rc_done
PK=$(d_port K coaps+tcp://127.0.0.1)
rc_expect_not "$(cat "$RC_TMP/K.out")" "demo certificate" \
  "PSK only: no demo certificate made"
client --psk-identity client1 --psk-key s3cr3t "coaps+tcp://localhost:$PK/hello"
rc_expect_status "$RC" 0 "PSK: right identity and key: exit 0"
rc_expect "$OUT" "Hello, world!" "PSK: /hello"
client -v --psk-identity client1 --psk-key s3cr3t "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect "$OUT" 'pre-shared key, identity "client1"' "PSK: -v shows the identity"
rc_expect "$OUT" "rcoap: TLS: TLSv1.3" "PSK: TLS 1.3"
# Regression: OpenSSL reports a TLS 1.3 external-PSK handshake as a reused
# session; rc_tls_resumed must not.
rc_expect "$OUT" "ALPN coap, new session" "PSK: a new session, not 'resumed'"
client --psk-identity client1 --psk-key wrong "coaps+tcp://localhost:$PK/hello"
rc_expect_status "$RC" 10 "PSK: wrong key: exit 10 (TLS)"
rc_expect "$OUT" "rejected our pre-shared key" "PSK: wrong key: rcoap says so"
expect_log K "pre-shared key mismatch" "PSK: wrong key: rcoapd says so"
[ "$MS" -lt "$PROMPT_MS" ] && rc_pass "wrong key refused in ${MS} ms" ||
  rc_fail "wrong key refusal took ${MS} ms"
client --psk-identity client2 --psk-key s3cr3t "coaps+tcp://localhost:$PK/hello"
rc_expect_status "$RC" 10 "PSK: unknown identity: exit 10 (TLS)"
# without any key: no way in (no certificate to fall back on)
client --insecure put "coaps+tcp://localhost:$PK/store/x" -d intruder
rc_expect_status "$RC" 10 "PSK only: a client without the key is refused (--insecure), exit 10"
RC_NATIVE=1 client --psk-identity client1 --psk-key s3cr3t "coaps+tcp://localhost:$PK/store/x"
rc_expect_status "$RC" 4 "PSK only: nothing was stored by the keyless client"
# TLS 1.2 PSK suites (RFC 4279), with openssl s_client
KHEX=$(printf s3cr3t | od -An -tx1 | tr -d ' \n')
sclient -connect "127.0.0.1:$PK" -tls1_2 -alpn coap -psk_identity client1 -psk "$KHEX"
rc_expect_status "$RC" 0 "TLS 1.2 PSK client succeeds"
rc_expect "$OUT" "New, TLSv1.2, Cipher is ECDHE-PSK-CHACHA20-POLY1305" \
  "TLS 1.2 PSK: ECDHE-PSK suite chosen"
sclient -connect "127.0.0.1:$PK" -tls1_2 -alpn coap -psk_identity client1 -psk "00$KHEX"
rc_expect "$OUT" "bad record mac" "TLS 1.2 PSK, wrong key: bad_record_mac"
expect_log K "bad record MAC (wrong pre-shared key?)" \
  "TLS 1.2 PSK, wrong key: rcoapd says so"
sclient -connect "127.0.0.1:$PK" -tls1_2 -alpn coap
rc_expect_status "$((RC != 0))" 1 "TLS 1.2 without PSK: refused (no certificate)"
d_stop K

# ---- PSK beside a certificate: the operator is told --------------------------
d_start KC -l coaps+tcp://127.0.0.1:0 --psk-key s3cr3t \
  --cert "$PKI/server.crt" --key "$PKI/server.key" --state-dir "$RC_TMP/stKC" ||
  rc_done
expect_log KC "clients without the key get in through the certificate" \
  "PSK + certificate: rcoapd warns that certificate clients get in"
PKC=$(d_port KC coaps+tcp://127.0.0.1)
client --psk-identity anyone --psk-key s3cr3t "coaps+tcp://localhost:$PKC/hello"
rc_expect_status "$RC" 0 "--psk-key alone: any identity with the key"
d_stop KC

rc_done
