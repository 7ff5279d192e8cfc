#!/usr/bin/env bash
# coaps+wr: an offer whose a=fingerprint is not the offerer's certificate
# (RFC 8122 §5, RFC 8827 §6.5: the certificate a DTLS peer shows must
# match the fingerprint its SDP named) is refused at the DTLS handshake.
# tests/wr_offerer (the rc_wr_* offerer alone) writes its offer on
# stdout; rcoap POSTs it to rcoapd's /webrtc and hands the answer back:
#  - control: with its own fingerprint the data channel opens;
#  - --wrong: the offer names a second certificate's fingerprint; rcoapd
#    (the DTLS client) refuses the offerer's certificate, the offerer
#    exits 1 with a sentence well before its 10 s handshake deadline,
#    rcoapd logs the refusal and frees the peer (no conn left: the next
#    offer and a coaps+wr GET from rcoap work; under valgrind, no leak
#    at exit);
#  - twice in a row (once under valgrind), then rcoap's GET /hello over
#    coaps+wr still works.
# Usage: bash test_webrtc_fingerprint.sh BUILD_DIR  (RCOAP_VALGRIND=1)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
OFFERER=$(rc_tool tests/wr_offerer) || rc_done

rcd_start w 2 "${RCD_HS[@]}" -v -l coaps+wr://127.0.0.1:0 -l coap+ws://127.0.0.1:0 || {
  rc_fail "rcoapd starts with a coaps+wr listener"
  rc_done
}
SIGURI=coap+ws://127.0.0.1:$(rcd_port w 127.0.0.1 coap+ws)/webrtc

# offer_run NAME [--wrong]: the offerer's offer through rcoap to /webrtc
# and the answer back; sets OUT (what the offerer printed), ST, MS.
offer_run() {
  local name=$1
  shift
  rm -f "$RC_TMP/$name.in"
  mkfifo "$RC_TMP/$name.in"
  # The offerer is the test's tool: not under valgrind (rcoapd and rcoap
  # are), only its deadlines scaled.
  "$OFFERER" --timeout $((10000 * RC_SLOW)) "$@" <"$RC_TMP/$name.in" >"$RC_TMP/$name.out" 2>"$RC_TMP/$name.err" &
  local pid=$! i
  exec 7>"$RC_TMP/$name.in"
  for i in $(seq 1 $((100 * RC_SLOW))); do
    [ -s "$RC_TMP/$name.out" ] && break
    sleep 0.05
  done
  local offer t0
  offer=$(head -n 1 "$RC_TMP/$name.out")
  rc_run rcoap -T $RC_TMO post -t application/json -d "$offer" "$SIGURI" \
    >"$RC_TMP/$name.ans" 2>>"$RC_TMP/$name.err"
  t0=$(date +%s%N)
  { cat "$RC_TMP/$name.ans"; echo; } >&7
  exec 7>&-
  ST=0
  wait $pid || ST=$?
  MS=$((($(date +%s%N) - t0) / 1000000))
  OUT=$(tail -n +2 "$RC_TMP/$name.out")
}

echo "=== control: the offerer's own fingerprint"
offer_run good
rc_expect_status "$ST" 0 "the data channel opens (${MS} ms)"
rc_expect "$OUT" "open" "the offerer says open"

echo "=== the offer names another certificate's fingerprint"
for n in $(seq 1 $((RC_SLOW > 1 ? 1 : 2))); do
  offer_run bad$n --wrong
  rc_expect_status "$ST" 1 "refused ($n): the offerer exits 1"
  rc_expect_re "$OUT" '^closed: ' "refused ($n): with a sentence: $OUT"
  rc_expect_re "$OUT" '(TLS|DTLS|alert|certificate)' "refused ($n): naming the DTLS handshake"
  [ "$MS" -lt $((8000 * RC_SLOW)) ] &&
    rc_pass "refused ($n) at once (${MS} ms), not at the 10 s handshake deadline" ||
    rc_fail "refused ($n) only after ${MS} ms"
done
sleep 0.3
nref=$(grep -c 'closing: certificate fingerprint mismatch: sha-256 ' "$RC_TMP/w.err")
rc_expect_eq "$nref" "$n" "rcoapd closed each refused peer: certificate fingerprint mismatch"

echo "=== rcoapd keeps serving"
coap -T $RC_TMO --signal "$SIGURI" get coaps+wr://127.0.0.1/hello
rc_expect "$OUT" "Hello, world!" "a coaps+wr GET from rcoap after the refusals"
offer_run good2
rc_expect_status "$ST" 0 "another honest offer opens its channel"
rcd_alive w && rc_pass "rcoapd still running" || rc_fail "rcoapd died"
rcd_stop w # exit 0 (under valgrind: no leak of the refused peers)
rc_done
