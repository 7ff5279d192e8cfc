#!/usr/bin/env bash
# What TLS costs rcoapd, in one run: one rcoapd (pinned to one core) with a
# coap+tcp and a coaps+tcp listener, the same rcoap-bench load (CONNS
# connections, DEPTH requests in flight each, GET /hello) against each, and
# full TLS handshakes per second from `openssl s_time -new` against rcoapd
# and against `openssl s_server -www` with the same certificate. Prints
# req/s, server CPU per request and the ratios. Nothing is asserted: a
# benchmark is not a test.
#
# rcoap-bench speaks coap+tcp only so far. Until it speaks coaps+tcp, the
# TLS load goes through a socat relay per connection (plain TCP from
# rcoap-bench, TLS to rcoapd), and so does a plain-TCP relay run, so that
# the two differ only in TLS; the relay shares the load generator's core,
# so its req/s are a lower bound, and server CPU per request is the fairer
# figure. When rcoap-bench accepts coaps+tcp URIs it is used directly.
#
# s_time and socat send no ALPN, so this rcoapd runs with --allow-no-alpn
# (its default refuses clients without ALPN "coap", RFC 8323 §8.2).
#
#   bash bench/tls.sh [BUILD_DIR]
# Environment (defaults): DURATION=8 WARMUP=2 (seconds), CONNS=50,
#   DEPTH=16, STIME=5 (s_time seconds), SERVER_CPU=0 BENCH_CPU=1 (taskset).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${DURATION:=8}" "${WARMUP:=2}" "${CONNS:=50}" "${DEPTH:=16}" "${STIME:=5}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
for t in openssl bc ss; do
  command -v "$t" >/dev/null || bench_fail "$t not found"
done
bench_pin servers clients
bench_tmp tlsbench

bash "$ROOT/tests/certs/gen.sh" "$TMP/pki" >/dev/null || bench_fail "PKI failed"
PKI=$TMP/pki

bench_start_rcoapd -q -l coap+tcp://127.0.0.1:0 -l coaps+tcp://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" --allow-no-alpn \
  --state-dir "$TMP/state" || exit 1
PID_RC=$RCOAPD_PID
P_TCP=${RCOAPD_URI[coap+tcp]##*:}
P_TLS=${RCOAPD_URI[coaps+tcp]##*:}

# run_one NAME URI -> "rps p50 p99 server_cpu_us_per_req errors"
run_one() {
  local out="$TMP/$1.out"
  bench_windowed "$PID_RC" "$out" "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" -p "$DEPTH" \
    --duration "$DURATION" -w "$WARMUP" --cafile "$PKI/ca.crt" "$2"
  bench_summary || sed 's/^/    | /' "$out" >&2
}

# socat relay on a free port to TARGET (socat address); sets RELAY_PORT.
relay() { # name target-address
  RELAY_PORT=$(bench_pick_port random)
  "${PIN_BENCH[@]}" socat "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,fork,reuseaddr,backlog=128" \
    "$2" 2>"$TMP/$1.relay.log" &
  bench_track "$!"
  bench_wait_listen "$RELAY_PORT" || echo "tls.sh: socat relay $1 did not start" >&2
}

echo "rcoapd coap+tcp vs coaps+tcp under rcoap-bench, GET /hello, 127.0.0.1"
echo "$CONNS connections x depth $DEPTH, ${DURATION}s measured after ${WARMUP}s warm-up; $pinning"
echo "$(bench_machine); $(openssl version)"

# Does rcoap-bench speak coaps+tcp yet?
NATIVE=0
if "$BENCH" -q -c 1 -p 1 -n 1 --cafile "$PKI/ca.crt" \
  "coaps+tcp://127.0.0.1:$P_TLS/hello" >"$TMP/probe" 2>&1; then
  NATIVE=1
fi

declare -A R
R[direct]=$(run_one direct "coap+tcp://127.0.0.1:$P_TCP/hello")
if [ "$NATIVE" = 1 ]; then
  R[tls]=$(run_one tls "coaps+tcp://127.0.0.1:$P_TLS/hello")
  base=direct
  how="rcoap-bench speaks coaps+tcp itself"
else
  how="rcoap-bench: $(head -c 160 "$TMP/probe" | tr '\n' ' ')-> socat relays"
  relay tcp "TCP:127.0.0.1:$P_TCP,nodelay"
  PR_TCP=$RELAY_PORT
  relay tls "OPENSSL:127.0.0.1:$P_TLS,cafile=$PKI/ca.crt,commonname=localhost,nodelay"
  PR_TLS=$RELAY_PORT
  R[relay_tcp]=$(run_one relay_tcp "coap+tcp://127.0.0.1:$PR_TCP/hello")
  R[tls]=$(run_one tls "coap+tcp://127.0.0.1:$PR_TLS/hello")
  base=relay_tcp
fi
bench_alive "$PID_RC" rcoapd "$TMP/rcoapd.out"

echo "($how)"
echo
printf '| %-30s | %9s | %9s | %9s | %12s | %6s |\n' path "req/s" "p50 us" "p99 us" "server us/req" errors
printf '| %-30s | %9s | %9s | %9s | %12s | %6s |\n' ------------------------------ --------- --------- --------- ------------ ------
row() { # label key
  read -r a b c d e <<<"${R[$2]}"
  printf '| %-30s | %9.0f | %9.0f | %9.0f | %12.2f | %6s |\n' "$1" "$a" "$b" "$c" "$d" "$e"
}
row "coap+tcp direct" direct
[ "$NATIVE" = 1 ] || row "coap+tcp via socat relay" relay_tcp
row "coaps+tcp$([ "$NATIVE" = 1 ] || echo " via socat TLS relay")" tls
read -r base_rps _ _ base_cpu _ <<<"${R[$base]}"
read -r tls_rps _ _ tls_cpu _ <<<"${R[tls]}"
ratio=$(bench_div "$tls_rps" "$base_rps")
cpu_ratio=$(bench_div "$base_cpu" "$tls_cpu")
echo
printf 'req/s ratio coaps+tcp / coap+tcp (%s): %.2f (target >= 0.70)\n' "$base" "$ratio"
printf 'server CPU per request ratio coap+tcp / coaps+tcp (what a server-bound run would show): %.2f\n' "$cpu_ratio"

# ---- full handshakes per second ------------------------------------------------
P_SS=$(bench_pick_port random)
bench_start_s_server "$P_SS" "$PKI/server.crt" "$PKI/server.key"

stime() { # port -> "connections seconds rate"
  local out
  out=$("${PIN_BENCH[@]}" openssl s_time -connect "127.0.0.1:$1" -new -time "$STIME" 2>&1)
  local line n s
  line=$(grep -m1 'real seconds' <<<"$out")
  n=$(awk '{print $1}' <<<"$line")
  s=$(awk '{print $4}' <<<"$line")
  if [ -z "$n" ] || [ -z "$s" ]; then
    echo "0 0 0"
    return
  fi
  echo "$n $s $(echo "$n / $s" | bc -l)"
}
read -r hn_rc hs_rc hr_rc <<<"$(stime "$P_TLS")"
read -r hn_ss hs_ss hr_ss <<<"$(stime "$P_SS")"
hratio=$(bench_div "$hr_rc" "$hr_ss")
echo
echo "full TLS handshakes (openssl s_time -new -time $STIME, TLS 1.3, EC P-256 certificate, no ALPN):"
printf '  rcoapd coaps+tcp (--allow-no-alpn): %6.0f/s (%s in %ss)\n' "$hr_rc" "$hn_rc" "$hs_rc"
printf '  openssl s_server -www:              %6.0f/s (%s in %ss)\n' "$hr_ss" "$hn_ss" "$hs_ss"
printf '  ratio rcoapd / s_server: %.2f\n' "$hratio"
echo
printf 'RESULT tls conns=%s depth=%s base=%s base_rps=%.0f tls_rps=%.0f ratio=%.2f base_cpu_us=%.2f tls_cpu_us=%.2f cpu_ratio=%.2f hs_rcoapd=%.0f hs_s_server=%.0f hs_ratio=%.2f native=%s\n' \
  "$CONNS" "$DEPTH" "$base" "$base_rps" "$tls_rps" "$ratio" "$base_cpu" "$tls_cpu" \
  "$cpu_ratio" "$hr_rc" "$hr_ss" "$hratio" "$NATIVE"
