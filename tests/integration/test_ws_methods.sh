#!/usr/bin/env bash
# rcoap against rcoapd over CoAP over WebSockets (RFC 8323 §4): one rcoapd
# with coap+ws listeners on 127.0.0.1 and ::1 and a coaps+ws one; every
# method and demo resource through rcoap over coap+ws (v4 and v6), coaps+ws
# (trusting the demo certificate with --cafile) and the coap+wss alias:
# GET /hello, /time, /sensors/temp, /large (100 KiB in one message), POST
# /echo, PUT/GET/DELETE /store/NAME, /slow, 4.04 and 4.05, discovery with
# and without RFC 6690 filters, the CSM both ways with -v; then the TLS
# failures: no --cafile, and the wrong scheme for a port.
# Usage: bash test_ws_methods.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

# Valgrind makes everything slower: give the client more time then.
TMO=10
[ "${RCOAP_VALGRIND:-0}" = 1 ] && TMO=60

# --- the server: lib/rcoapd.sh (rcd_start, rcd_port, rcd_stop) -----------
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

rcd_start rcoapd 3 -l coap+ws://127.0.0.1:0 -l 'coap+ws://[::1]:0' \
  -l coaps+ws://127.0.0.1:0 || {
  rc_fail "rcoapd starts with three WebSocket listeners"
  rc_done
}
WS4=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/rcoapd.out" | head -n 1)
WS6=$(grep -o 'coap+ws://\[::1\]:[0-9]*' "$RC_TMP/rcoapd.out" | head -n 1)
WSS=$(grep -o 'coaps+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/rcoapd.out" | head -n 1)
CERT="$RC_TMP/state-rcoapd/demo-cert.pem"
[ -n "$WS4" ] && [ -n "$WS6" ] && [ -n "$WSS" ] &&
  rc_pass "listeners: $WS4 $WS6 $WSS" ||
  rc_fail "listener lines: $(cat "$RC_TMP/rcoapd.out")"
rc_expect "$(cat "$RC_TMP/rcoapd.out")" "(web demo: http://127.0.0.1:" "coap+ws listener announces the web demo"
[ -s "$CERT" ] && rc_pass "demo certificate created in --state-dir" ||
  rc_fail "no demo certificate at $CERT: $(cat "$RC_TMP/rcoapd.err")"

# coap METHOD URI [ARGS...]: runs rcoap -i; sets OUT (stdout+stderr), ST.
# NATIVE=1: rcoap without valgrind (rc_run's RC_NATIVE; see check_base).
NATIVE=0
coap() {
  local m=$1 u=$2
  shift 2
  ST=0
  OUT=$(RC_NATIVE=$NATIVE rc_run rcoap -i -T "$TMO" "${EXTRA[@]}" "$@" "$m" "$u" 2>&1) || ST=$?
}
# again coap ...: a run whose client side differs from another run of the
# base only in the answer it prints (another resource's 2.05, a 4.04, a
# 4.05 for another method, a filtered discovery); see check_base.
again() { local NATIVE=$AGAIN_NATIVE; "$@"; }

# --- every method and resource, once per base URI ---------------------------
# Under valgrind rcoapd is under memcheck throughout; rcoap's runs are:
#   MODE=all    every run under memcheck (coap+ws over IPv4);
#   MODE=again  the runs marked 'again' natively (coaps+ws: what they
#               repeat of coap+ws is above the transport, and the TLS
#               transport is under memcheck in the base's other runs);
#   MODE=first  only the first (GET /hello: the URI, the address family,
#               the handshake) under memcheck (coap+ws over IPv6, and the
#               coap+wss alias of coaps+ws: the rest repeats a base above).
# Every check runs in every mode (RC_NATIVE in scripts/testlib.sh).
check_base() { # NAME BASE [rcoap args for every call...]
  local name=$1 base=$2
  shift 2
  EXTRA=("$@")
  local key="k-$name-$$"

  NATIVE=0
  AGAIN_NATIVE=0
  [ "${MODE:-all}" = again ] && AGAIN_NATIVE=1
  coap get "$base/hello"
  [ "${MODE:-all}" = first ] && NATIVE=1 AGAIN_NATIVE=1
  rc_expect_status "$ST" 0 "$name: GET /hello exits 0"
  rc_expect "$OUT" "2.05 Content" "$name: GET /hello is 2.05"
  rc_expect "$OUT" "Content-Format: text/plain" "$name: GET /hello says text/plain"
  rc_expect "$OUT" "Hello, world!" "$name: GET /hello payload"

  again coap get "$base/time"
  rc_expect_status "$ST" 0 "$name: GET /time exits 0"
  if [[ "$OUT" =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ]]; then
    rc_pass "$name: GET /time is an ISO 8601 UTC time"
  else
    rc_fail "$name: GET /time payload: $OUT"
  fi

  again coap get "$base/sensors/temp"
  rc_expect_status "$ST" 0 "$name: GET /sensors/temp exits 0"
  rc_expect "$OUT" "Max-Age: 1" "$name: /sensors/temp has Max-Age 1"
  if [[ "$OUT" =~ $'\n'-?[0-9]+\.[0-9]{2}$ ]]; then
    rc_pass "$name: /sensors/temp is a number"
  else
    rc_fail "$name: /sensors/temp payload: $OUT"
  fi

  coap post "$base/echo" -d "echo over $name" -t json
  rc_expect_status "$ST" 0 "$name: POST /echo exits 0"
  rc_expect "$OUT" "2.04 Changed" "$name: POST /echo is 2.04"
  rc_expect "$OUT" "Content-Format: application/json" "$name: POST /echo repeats the content format"
  rc_expect "$OUT" "echo over $name" "$name: POST /echo echoes the payload"

  coap put "$base/store/$key" -d "first"
  rc_expect_status "$ST" 0 "$name: PUT new /store/NAME exits 0"
  rc_expect "$OUT" "2.01 Created" "$name: PUT new /store/NAME is 2.01"
  again coap put "$base/store/$key" -d "second value" -t text
  rc_expect "$OUT" "2.04 Changed" "$name: PUT existing /store/NAME is 2.04"
  coap get "$base/store/$key"
  rc_expect_status "$ST" 0 "$name: GET /store/NAME exits 0"
  rc_expect "$OUT" "second value" "$name: GET /store/NAME gives the PUT payload"
  rc_expect "$OUT" "Content-Format: text/plain" "$name: GET /store/NAME keeps the content format"
  coap delete "$base/store/$key"
  rc_expect_status "$ST" 0 "$name: DELETE /store/NAME exits 0"
  rc_expect "$OUT" "2.02 Deleted" "$name: DELETE is 2.02"
  again coap get "$base/store/$key"
  rc_expect_status "$ST" 4 "$name: GET deleted /store/NAME exits 4"
  rc_expect "$OUT" "4.04 Not Found" "$name: GET deleted /store/NAME is 4.04"

  again coap get "$base/no/such/thing"
  rc_expect_status "$ST" 4 "$name: GET unknown path exits 4"
  rc_expect "$OUT" "4.04 Not Found" "$name: unknown path is 4.04"
  local m
  for m in delete put fetch patch ipatch; do
    again coap "$m" "$base/hello" -d x
    rc_expect_status "$ST" 4 "$name: ${m^^} /hello exits 4"
    rc_expect "$OUT" "4.05 Method Not Allowed" "$name: ${m^^} /hello is 4.05"
  done

  coap get "$base/slow?ms=300"
  rc_expect_status "$ST" 0 "$name: GET /slow?ms=300 exits 0"
  rc_expect "$OUT" "sorry for the wait" "$name: deferred answer from /slow"

  ST=0
  RC_NATIVE=$NATIVE rc_run rcoap -T "$TMO" "${EXTRA[@]}" -o "$RC_TMP/large-$name" get "$base/large" \
    >"$RC_TMP/large-$name.log" 2>&1 || ST=$?
  rc_expect_status "$ST" 0 "$name: GET /large exits 0"
  if [ -f "$RC_TMP/large-$name" ] && [ "$(wc -c <"$RC_TMP/large-$name")" -eq 102400 ] &&
    head -c 7 "$RC_TMP/large-$name" | grep -q '^000001 '; then
    rc_pass "$name: /large is 102400 bytes in one WebSocket message"
  else
    rc_fail "$name: /large: $(wc -c <"$RC_TMP/large-$name" 2>/dev/null) bytes; $(cat "$RC_TMP/large-$name.log")"
  fi

  coap get "$base/.well-known/core"
  rc_expect_status "$ST" 0 "$name: discovery exits 0"
  rc_expect "$OUT" "Content-Format: application/link-format" "$name: discovery is link-format"
  local r
  for r in '</hello>' '</time>' '</echo>' '</store>' '</sensors/temp>' '</large>' '</slow>'; do
    rc_expect "$OUT" "$r" "$name: discovery lists $r"
  done
  again coap get "$base/.well-known/core?rt=temperature-c"
  rc_expect "$OUT" '</sensors/temp>' "$name: discovery ?rt=temperature-c finds the sensor"
  rc_expect_not "$OUT" '</hello>' "$name: discovery ?rt=temperature-c leaves /hello out"
  again coap get "$base/.well-known/core?href=/st*"
  rc_expect "$OUT" '</store>' "$name: discovery ?href=/st* finds /store"
  rc_expect_not "$OUT" '</time>' "$name: discovery ?href=/st* leaves /time out"

  # -v shows both CSMs (RFC 8323 §5.3: each side sends one first).
  ST=0
  OUT=$(RC_NATIVE=$NATIVE rc_run rcoap -v -T "$TMO" "${EXTRA[@]}" get "$base/hello" 2>&1) || ST=$?
  rc_expect_status "$ST" 0 "$name: -v GET exits 0"
  rc_expect "$OUT" "> 7.01 CSM" "$name: our CSM is sent"
  rc_expect "$OUT" "< 7.01 CSM" "$name: rcoapd's CSM arrives"
  EXTRA=()
  NATIVE=0
}

EXTRA=()
MODE=all check_base coap+ws-v4 "$WS4"
MODE=first check_base coap+ws-v6 "$WS6"
MODE=again check_base coaps+ws "$WSS" --cafile "$CERT"
MODE=first check_base coap+wss "${WSS/coaps+ws:/coap+wss:}" --cafile "$CERT"

# --- refusals ------------------------------------------------------------------
EXTRA=()
# A self-signed certificate that nobody said to trust: cannot connect.
coap get "$WSS/hello"
rc_expect_status "$ST" 10 "coaps+ws without --cafile: certificate not trusted, exit 10 (TLS)"
# Plain WebSocket to the TLS port, and TLS to the plain port.
coap get "${WSS/coaps+ws:/coap+ws:}/hello"
rc_expect_status "$ST" 3 "coap+ws to the coaps+ws port: exit 3"
coap get "${WS4/coap+ws:/coaps+ws:}/hello" --cafile "$CERT"
rc_expect_status "$ST" 10 "coaps+ws to the coap+ws port: exit 10 (not TLS)"
# coap+tcp to a WebSocket port: the server wants an HTTP upgrade, not a CSM.
coap get "${WS4/coap+ws:/coap+tcp:}/hello" -T 5
if [ "$ST" -ne 0 ]; then
  rc_pass "coap+tcp to the coap+ws port fails (exit $ST)"
else
  rc_fail "coap+tcp to the coap+ws port answered: $OUT"
fi

# The server is still fine after all that.
coap get "$WS4/hello"
rc_expect_status "$ST" 0 "rcoapd still answers after the refusals"

rcd_stop rcoapd
rc_done
