#!/bin/bash
# coaps:// (DTLS 1.2, RFC 7252 §9) against libcoap 4.3.1 (Debian
# libcoap3-bin, INTEROP-NOTES §6), a peer nobody here wrote, both ways,
# through tests/dtls_peer: the DTLS filter (src/transport/dtls.c) on a real
# UDP socket with the stateless cookie check in front (the filter itself;
# test_libcoap_dtls.sh runs rcoap and rcoapd over coaps://):
#  - coap-client-openssl -> dtls_peer server: PSK with identity and hint
#    (after our HelloVerifyRequest), a wrong key gets nothing; certificate
#    verified by libcoap against ca.crt; mutual authentication.
#  - dtls_peer client -> coap-server-openssl (DTLS on port N+1): PSK GET
#    /time; certificate GET /time verified by name; a wrong name and an
#    untrusted CA refused with a sentence; mutual authentication.
# Exit 77 when libcoap is missing (a failure under CI=true).
#
#   bash tests/interop/test_libcoap_dtls_filter.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

command -v coap-client-openssl >/dev/null &&
  command -v coap-server-openssl >/dev/null ||
  rc_skip "libcoap3-bin (coap-client-openssl, coap-server-openssl) not installed"

PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null ||
  { rc_fail "tests/certs/gen.sh failed"; rc_done; }

# peer_server NAME ARGS...: dtls_peer server in the background; sets PORT.
peer_server() {
  local name=$1
  shift
  rc_run tests/dtls_peer server 0 1 "$@" >"$RC_TMP/$name.out" \
    2>"$RC_TMP/$name.err" &
  SPID=$!
  PORT=
  for _ in $(seq 50); do
    PORT=$(awk '/^PORT/{print $2}' "$RC_TMP/$name.out")
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  rc_fail "dtls_peer server $name did not start"
  return 1
}

# A UDP port N with N+1 free too (libcoap serves DTLS on N+1); bounded.
free_pair() {
  python3 - <<'PY'
import random, socket
for _ in range(50):
    n = random.randint(20000, 60000)
    try:
        socks = []
        for p in (n, n + 1):
            for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, t)
                s.bind(("127.0.0.1", p))
                socks.append(s)
        print(n)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}

lc() { OUT=$(timeout 20 coap-client-openssl -B 5 "$@" 2>&1); }

# ---- libcoap client -> dtls_peer server ----------------------------------------
peer_server P --psk client1 s3cr3t --hint rcoap-hint && {
  lc -k s3cr3t -u client1 "coaps://127.0.0.1:$PORT/x"
  rc_expect "$OUT" "hello from rcoap dtls" "coap-client PSK: 2.05 from the DTLS filter"
  wait "$SPID"
  rc_expect_status $? 0 "dtls_peer server (PSK) served one request"
  rc_expect "$(cat "$RC_TMP/P.err")" "1 HelloVerifyRequests sent" \
    "libcoap's ClientHello answered statelessly, then accepted with the cookie"
  rc_expect "$(cat "$RC_TMP/P.err")" "open, DTLSv1.2" "DTLS 1.2 negotiated"
}

peer_server W --psk client1 s3cr3t --deadline 4000 && {
  lc -k wrong-key -u client1 "coaps://127.0.0.1:$PORT/x"
  rc_expect_not "$OUT" "hello from rcoap dtls" "coap-client with a wrong PSK: no answer"
  wait "$SPID"
  rc_expect_status $? 1 "dtls_peer server (wrong PSK) served nothing"
}

peer_server C --cert "$PKI/server.crt" --key "$PKI/server.key" && {
  lc -C "$PKI/ca.crt" "coaps://127.0.0.1:$PORT/x"
  rc_expect "$OUT" "hello from rcoap dtls" "coap-client certificate (CA-verified): 2.05"
  wait "$SPID"
  rc_expect "$(cat "$RC_TMP/C.err")" "ECDHE-ECDSA" "certificate handshake with an ECDHE-ECDSA suite"
}

peer_server M --cert "$PKI/server.crt" --key "$PKI/server.key" \
  --ca "$PKI/ca.crt" --mtls && {
  lc -C "$PKI/ca.crt" -c "$PKI/client.crt" -j "$PKI/client.key" \
    "coaps://127.0.0.1:$PORT/x"
  rc_expect "$OUT" "hello from rcoap dtls" "coap-client with a client certificate (mTLS): 2.05"
  wait "$SPID"
  rc_expect_status $? 0 "dtls_peer server (mTLS) served one request"
}

# ---- dtls_peer client -> libcoap server ----------------------------------------
N=$(free_pair)
coap-server-openssl -A 127.0.0.1 -p "$N" -k s3cr3t -h rcoap-hint \
  >"$RC_TMP/lsk.log" 2>&1 &
LPID=$!
sleep 0.5
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --psk client1 s3cr3t 2>&1)
rc_expect "$OUT" "CODE 2.05" "DTLS filter PSK -> coap-server: GET /time 2.05"
rc_expect "$OUT" "open, DTLSv1.2" "DTLS 1.2 with libcoap's server"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null

N=$(free_pair)
coap-server-openssl -A 127.0.0.1 -p "$N" -c "$PKI/server.crt" \
  -j "$PKI/server.key" >"$RC_TMP/lsc.log" 2>&1 &
LPID=$!
sleep 0.5
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --ca "$PKI/ca.crt" --name localhost 2>&1)
rc_expect "$OUT" "CODE 2.05" "DTLS filter -> coap-server: certificate verified for localhost"
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --ca "$PKI/ca.crt" --name wrong.example 2>&1)
rc_expect "$OUT" "host name mismatch: certificate is for DNS:localhost" \
  "DTLS filter: a wrong host name refused with a sentence"
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --ca "$PKI/rogue-ca.crt" 2>&1)
rc_expect "$OUT" "unknown CA" "DTLS filter: an untrusted CA refused with a sentence"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null

N=$(free_pair)
coap-server-openssl -A 127.0.0.1 -p "$N" -c "$PKI/server.crt" \
  -j "$PKI/server.key" -C "$PKI/ca.crt" >"$RC_TMP/lsm.log" 2>&1 &
LPID=$!
sleep 0.5
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --ca "$PKI/ca.crt" 2>&1)
rc_expect "$OUT" "it may require a client certificate" \
  "DTLS filter without a certificate against a mutual-auth server: a sentence"
OUT=$(rc_run tests/dtls_peer client 127.0.0.1 $((N + 1)) time \
  --ca "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" 2>&1)
rc_expect "$OUT" "CODE 2.05" "DTLS filter with a client certificate (mTLS) -> coap-server: 2.05"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null

rc_done
