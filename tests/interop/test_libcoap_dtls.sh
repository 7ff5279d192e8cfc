#!/bin/bash
# coaps:// (DTLS 1.2, RFC 7252 §9) between rcoap/rcoapd and libcoap 4.3.1
# (Debian libcoap3-bin, INTEROP-NOTES §6), both ways:
#  - coap-client-openssl -> rcoapd: PSK (-u identity -k key) GET /hello,
#    PUT then GET /store/x, block-wise /large (100 KiB) identical to rcoap's
#    copy over coap+tcp; a wrong key gets no answer; a client killed
#    mid-observation (no close_notify) and started again from the same
#    port (-p) is served at once: its new ClientHello in epoch 0 replaces
#    the old peer (RFC 6347 §4.2.8); a certificate verified by libcoap
#    against the test CA (-R).
#  - rcoap -> coap-server-openssl (DTLS on port N+1): PSK GET /time; the
#    certificate verified by name with --cafile; an untrusted CA refused
#    with exit 10 and a sentence.
# Exit 77 when libcoap is missing (a failure under CI=true).
#
#   bash tests/interop/test_libcoap_dtls.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

command -v coap-client-openssl >/dev/null &&
  command -v coap-server-openssl >/dev/null ||
  rc_skip "libcoap3-bin (coap-client-openssl, coap-server-openssl) not installed"

. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null ||
  { rc_fail "tests/certs/gen.sh failed"; rc_done; }

lc() { OUT=$(timeout 20 coap-client-openssl -B 5 "$@" 2>&1); }

# ---- libcoap client -> rcoapd ------------------------------------------------
rcd_start k 2 -l coaps://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 \
  --psk-identity client1 --psk-key s3cr3t || {
  rc_fail "rcoapd starts with a PSK coaps:// listener"
  rc_done
}
UK=coaps://127.0.0.1:$(rcd_port k 127.0.0.1 coaps)
lc -u client1 -k s3cr3t "$UK/hello"
rc_expect "$OUT" "Hello, world! (rcoap" "coap-client PSK -> rcoapd: GET /hello"
lc -u client1 -k s3cr3t -m put -e "from libcoap" "$UK/store/x"
lc -u client1 -k s3cr3t "$UK/store/x"
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
lc -B 3 -u client1 -k wrong-key "$UK/hello"
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
lc -B 3 -p "$CP" -u client1 -k s3cr3t "$UK/hello"
rc_expect "$OUT" "Hello, world! (rcoap" \
  "a client restarted on the same port: its new handshake replaces the old peer ($((SECONDS - S0)) s)"
rcd_stop k

rcd_start c 1 -l coaps://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" || {
  rc_fail "rcoapd starts with a certificate coaps:// listener"
  rc_done
}
lc -R "$PKI/ca.crt" "coaps://127.0.0.1:$(rcd_port c 127.0.0.1 coaps)/hello"
rc_expect "$OUT" "Hello, world! (rcoap" \
  "coap-client -> rcoapd: certificate verified against the CA, GET /hello"
rcd_stop c

# ---- rcoap -> libcoap server ---------------------------------------------------
# A UDP port N with N+1 free too (libcoap serves DTLS on N+1); bounded.
free_pair() {
  python3 - <<'PY'
import random, socket
for _ in range(50):
    n = random.randint(20000, 60000)
    socks = []
    try:
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

# lserver NAME ARGS...: coap-server-openssl on a free pair; waits for its
# DTLS port (N+1) to be bound; sets N.
lserver() {
  local name=$1
  shift
  N=$(free_pair)
  rcd_start_cmd "$name" 0 "" coap-server-openssl -A 127.0.0.1 -p "$N" "$@"
  for _ in $(seq 50); do
    ss -uln 2>/dev/null | grep -q "127.0.0.1:$((N + 1)) " && return 0
    sleep 0.1
  done
}

lserver lk -k s3cr3t -h rcoap-hint
coap -T $RC_TMO --psk-identity client1 --psk-key s3cr3t \
  get "coaps://127.0.0.1:$((N + 1))/time"
rc_expect_status "$ST" 0 "rcoap PSK -> coap-server: GET /time exits 0"
rc_expect_re "$OUT" '[0-9]' "rcoap PSK -> coap-server: a time in the body"
rcd_stop lk

lserver lc -c "$PKI/server.crt" -j "$PKI/server.key"
coap -T $RC_TMO --cafile "$PKI/ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 0 "rcoap -> coap-server: certificate verified for localhost"
coap -T $RC_TMO --cafile "$PKI/rogue-ca.crt" get "coaps://localhost:$((N + 1))/time"
rc_expect_status "$ST" 10 "rcoap -> coap-server: an untrusted CA: exit 10 (TLS)"
rc_expect "$ERR" "certificate verification failed" "an untrusted CA: says why"
rcd_stop lc
rc_done
