#!/bin/bash
# coaps+tcp against libcoap 4.3.1 (Debian libcoap3-bin, INTEROP-NOTES §1,
# §4), a peer nobody here wrote, both ways:
#  - coap-client-openssl -> rcoapd: certificate (verified with -R ca.crt):
#    GET /hello, PUT then GET /store/NAME; an untrusted CA refused; PSK
#    (-u/-k) against rcoapd --psk-identity/--psk-key --allow-no-alpn (libcoap
#    4.3.1 offers no ALPN in PSK mode); wrong key and unknown identity
#    refused; without --allow-no-alpn the PSK client is refused for ALPN.
#  - rcoap -> coap-server-openssl (TLS on port N+1): certificate GET /time,
#    PUT/GET /example_data, rogue CA refused; PSK (-k/-h) needs rcoap
#    --allow-no-alpn (libcoap's PSK server negotiates no ALPN), wrong key
#    refused.
# coap-client always exits 0: the assertions read its output.
#
#   bash tests/interop/test_libcoap_tls.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

. "$RC_SRC/tests/interop/lib/libcoap.sh" # lc_need, lcs (no rcd_* here)
lc_need coap-client-openssl coap-server-openssl

. "$RC_SRC/tests/integration/lib/tls.sh"

# ---- libcoap client -> rcoapd, certificate -------------------------------------
d_start C -l coaps+tcp://127.0.0.1:0 --cert "$PKI/server.crt" \
  --key "$PKI/server.key" --state-dir "$RC_TMP/stC" || rc_done
PC=$(d_port C coaps+tcp://127.0.0.1)
lcs -R "$PKI/ca.crt" "coaps+tcp://127.0.0.1:$PC/hello"
rc_expect "$OUT" "Hello, world!" "coap-client -R ca.crt GET /hello (127.0.0.1)"
rc_expect_not "$OUT" "ERR" "coap-client: no error"
lcs -R "$PKI/ca.crt" "coaps+tcp://localhost:$PC/hello"
rc_expect "$OUT" "Hello, world!" "coap-client -R ca.crt GET /hello (localhost)"
lcs -R "$PKI/ca.crt" -m put -e "libcoap was here" "coaps+tcp://localhost:$PC/store/lc"
rc_expect_not "$OUT" "ERR" "coap-client PUT /store/lc"
lcs -R "$PKI/ca.crt" "coaps+tcp://localhost:$PC/store/lc"
rc_expect "$OUT" "libcoap was here" "coap-client GET /store/lc gives the PUT body"
lcs -R "$PKI/ca.crt" -m delete "coaps+tcp://localhost:$PC/store/lc"
lcs -R "$PKI/ca.crt" "coaps+tcp://localhost:$PC/store/lc"
rc_expect "$OUT" "4.04" "coap-client GET after DELETE: 4.04"
lcs -R "$PKI/rogue-ca.crt" "coaps+tcp://localhost:$PC/hello"
rc_expect "$OUT" "ERR  cannot send CoAP pdu" "coap-client with another CA: refused"
rc_expect_not "$OUT" "Hello" "coap-client with another CA: no body"
# (under valgrind rcoapd may read libcoap's reset before its alert)
[ "${RCOAP_VALGRIND:-0}" = 1 ] ||
  expect_log C "the peer rejected our certificate: unknown CA" \
    "rcoapd log: libcoap rejected our certificate"
d_stop C

# ---- libcoap client -> rcoapd, PSK ---------------------------------------------
d_start K -l coaps+tcp://127.0.0.1:0 --psk-identity client1 --psk-key s3cr3t \
  --allow-no-alpn --state-dir "$RC_TMP/stK" || rc_done
PK=$(d_port K coaps+tcp://127.0.0.1)
lcs -u client1 -k s3cr3t "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect "$OUT" "Hello, world!" "coap-client -u/-k PSK GET /hello (--allow-no-alpn)"
lcs -u client1 -k s3cr3t -m put -e psk-body "coaps+tcp://127.0.0.1:$PK/store/p"
lcs -u client1 -k s3cr3t "coaps+tcp://127.0.0.1:$PK/store/p"
rc_expect "$OUT" "psk-body" "coap-client PSK PUT then GET /store/p"
lcs -u client1 -k wrong "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect "$OUT" "bad record mac" "coap-client wrong PSK: bad_record_mac"
rc_expect_not "$OUT" "Hello" "coap-client wrong PSK: no body"
lcs -u client9 -k s3cr3t "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect "$OUT" "unknown psk identity" "coap-client unknown identity: refused"
lcs "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect_not "$OUT" "Hello" "coap-client without PSK or CA: no way in"
expect_log K "bad record MAC (wrong pre-shared key?)" \
  "rcoapd log: wrong PSK"
expect_log K "unknown PSK identity" "rcoapd log: unknown identity"
d_stop K

d_start A -l coaps+tcp://127.0.0.1:0 --psk-identity client1 --psk-key s3cr3t \
  --state-dir "$RC_TMP/stA" || rc_done
PA=$(d_port A coaps+tcp://127.0.0.1)
lcs -u client1 -k s3cr3t "coaps+tcp://127.0.0.1:$PA/hello"
rc_expect "$OUT" "no application protocol" \
  "libcoap PSK client (no ALPN) refused without --allow-no-alpn"
expect_log A "client did not offer ALPN coap (no ALPN extension)" \
  "rcoapd log: no ALPN extension"
d_stop A

# ---- rcoap -> coap-server-openssl ----------------------------------------------
# S_start ARGS...: coap-server-openssl on a free port pair N (UDP/TCP) and
# N+1 (DTLS/TLS); sets SN and SPID.
S_start() {
  local try i
  for ((try = 0; try < 20; try++)); do
    SN=$((20000 + RANDOM % 20000))
    ss -Htan "( sport = :$SN or sport = :$((SN + 1)) )" | grep -q . && continue
    ss -Huan "( sport = :$SN or sport = :$((SN + 1)) )" | grep -q . && continue
    coap-server-openssl -A 127.0.0.1 -p "$SN" "$@" >"$RC_TMP/srv.log" 2>&1 &
    SPID=$!
    for ((i = 0; i < 100; i++)); do
      ss -Htln "( sport = :$((SN + 1)) )" | grep -q . && return 0
      kill -0 "$SPID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
  done
  rc_fail "coap-server-openssl did not start"
  return 1
}
S_stop() {
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
}

S_start -c "$PKI/server.crt" -j "$PKI/server.key" || rc_done
ST=$((SN + 1))
client -v --cafile "$PKI/ca.crt" "coaps+tcp://127.0.0.1:$ST/time"
rc_expect_status "$RC" 0 "rcoap --cafile GET /time from coap-server-openssl"
rc_expect "$OUT" "< 2.05 Content" "rcoap: 2.05 from libcoap"
rc_expect "$OUT" "ALPN coap" "libcoap server negotiates ALPN coap"
rc_expect "$OUT" "server certificate CN=localhost" "rcoap -v names libcoap's certificate"
rc_expect "$OUT" "< 7.01 CSM" "rcoap received libcoap's CSM"
client --cafile "$PKI/ca.crt" "coaps+tcp://localhost:$ST/time"
rc_expect_status "$RC" 0 "rcoap GET /time by name (localhost)"
[[ "$OUT" =~ [A-Z][a-z][a-z]\ [0-9]+\ [0-9:]+ ]] &&
  rc_pass "libcoap /time body looks like a date ($OUT)" ||
  rc_fail "libcoap /time body: '$OUT'"
client --cafile "$PKI/ca.crt" put "coaps+tcp://localhost:$ST/example_data" -d from-rcoap
rc_expect_status "$RC" 0 "rcoap PUT /example_data to libcoap"
client --cafile "$PKI/ca.crt" "coaps+tcp://localhost:$ST/example_data"
rc_expect "$OUT" "from-rcoap" "rcoap GET /example_data: what it PUT"
client --cafile "$PKI/rogue-ca.crt" "coaps+tcp://localhost:$ST/time"
rc_expect_status "$RC" 10 "rcoap with another CA vs libcoap: exit 10 (TLS)"
rc_expect "$OUT" "unknown CA" "rcoap with another CA: 'unknown CA'"
S_stop

S_start -k s3cr3t -h hint || rc_done
ST=$((SN + 1))
client --psk-identity client1 --psk-key s3cr3t "coaps+tcp://127.0.0.1:$ST/time"
rc_expect_status "$RC" 10 "rcoap PSK vs libcoap without --allow-no-alpn: exit 10 (TLS)"
rc_expect "$OUT" "server did not negotiate ALPN coap" \
  "libcoap PSK server negotiates no ALPN: rcoap says so"
client -v --allow-no-alpn --psk-identity client1 --psk-key s3cr3t \
  "coaps+tcp://127.0.0.1:$ST/time"
rc_expect_status "$RC" 0 "rcoap --allow-no-alpn PSK GET /time from libcoap"
rc_expect "$OUT" "ALPN none" "rcoap -v: no ALPN"
rc_expect "$OUT" 'pre-shared key, identity "client1"' "rcoap -v: PSK identity"
client --allow-no-alpn --psk-identity client1 --psk-key wrong \
  "coaps+tcp://127.0.0.1:$ST/time"
rc_expect_status "$RC" 10 "rcoap wrong PSK vs libcoap: exit 10 (TLS)"
rc_expect "$OUT" "pre-shared key" "rcoap wrong PSK: says the key was rejected"
S_stop

rc_done
