#!/usr/bin/env bash
# Proxy forwarding cost: the same small GET (/hello) straight to an rcoapd
# on coap:// (UDP), and through a second rcoapd acting as reverse proxy
# (--route /p=coap://ORIGIN/hello, --proxy-cache 0: every request goes
# upstream; bench/proxy.sh measures the cache) that rcoap-bench reaches on
# coap+tcp,
# in one run, turn about. Both servers pinned to one core, rcoap-bench to
# the other (when taskset is there), so the proxied row pays for the
# proxy's CPU too. Prints requests/s, p50/p99, each server's CPU per
# request (from /proc/PID/stat over the middle of the window), and the
# proxied rate as a ratio of the direct one (the target is >= 0.5).
# Nothing is asserted: a benchmark is not a test.
#
#   bash bench/proxy_udp.sh [BUILD_DIR]
# Environment (defaults): DURATION=5 WARMUP=1 (seconds), CONNS=50,
#   DEPTHS="16 1", RUNS=1 (median of RUNS per row), SERVER_CPU=0 BENCH_CPU=1.
# Depth 1 shows the cost of the extra hop; at depth 16 the rows also
# differ in how the client side moves its messages (a datagram per system
# call on UDP, batched writes on TCP), so the proxied row may come out
# ahead.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${DURATION:=5}" "${WARMUP:=1}" "${CONNS:=50}" "${DEPTHS:=16 1}" "${RUNS:=1}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
bench_pin "origin and proxy" rcoap-bench
bench_tmp proxy_udp

bench_start_rcoapd -q -l coap://127.0.0.1:0 --state-dir "$TMP/origin" || exit 1
ORIGIN_PID=$RCOAPD_PID
ORIGIN=${RCOAPD_URI[coap]}
mv "$TMP/rcoapd.out" "$TMP/origin.out"
bench_start_rcoapd -q -l coap+tcp://127.0.0.1:0 --proxy --proxy-cache 0 \
  --route "/p=$ORIGIN/hello" --state-dir "$TMP/proxy" || exit 1
PROXY_PID=$RCOAPD_PID
PROXY=${RCOAPD_URI[coap+tcp]}

# run NAME URI SERVER_PID DEPTH -> "rps p50 p99 server_cpu_us errors"
run_one() {
  bench_windowed "$3" "$TMP/$1.out" "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" \
    -p "$4" --duration "$DURATION" -w "$WARMUP" "$2"
  bench_summary
}

echo "GET /hello: rcoap-bench -> coap:// rcoapd, and rcoap-bench -> coap+tcp rcoapd --route -> the same coap:// rcoapd"
echo "$CONNS connections, depths $DEPTHS, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS; $pinning"
echo "$(bench_machine), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RES
for depth in $DEPTHS; do
  for _ in $(seq 1 "$RUNS"); do
    RES[direct-$depth]+="$(run_one direct "$ORIGIN/hello" "$ORIGIN_PID" "$depth")"$'\n'
    RES[proxied-$depth]+="$(run_one proxied "$PROXY/p" "$PROXY_PID" "$depth")"$'\n'
  done
done
bench_alive "$ORIGIN_PID" "origin rcoapd" "$TMP/origin.out"
bench_alive "$PROXY_PID" "proxy rcoapd" "$TMP/rcoapd.out"

echo
printf '| %-5s | %-28s | %9s | %15s | %11s | %7s |\n' depth path req/s "p50 / p99 us" "server/req" "/ direct"
printf '| %-5s | %-28s | %9s | %15s | %11s | %7s |\n' ----- ---------------------------- --------- \
  --------------- ----------- -------
results=()
for depth in $DEPTHS; do
  read -r d_rps d_p50 d_p99 d_cpu d_err <<<"$(printf '%s' "${RES[direct-$depth]}" | bench_median)"
  read -r p_rps p_p50 p_p99 p_cpu p_err <<<"$(printf '%s' "${RES[proxied-$depth]}" | bench_median)"
  ratio=$(bench_div "$p_rps" "$d_rps")
  printf '| %-5s | %-28s | %9.0f | %7.0f/%-7.0f | %8.2f us | %6.2fx |\n' "$depth" "coap:// direct" \
    "$d_rps" "$d_p50" "$d_p99" "$d_cpu" 1
  printf '| %-5s | %-28s | %9.0f | %7.0f/%-7.0f | %8.2f us | %6.2fx |\n' "$depth" "coap+tcp -> proxy -> coap://" \
    "$p_rps" "$p_p50" "$p_p99" "$p_cpu" "$ratio"
  [ "$d_err" = 0 ] || echo "  direct depth $depth: errors=$d_err"
  [ "$p_err" = 0 ] || echo "  proxied depth $depth: errors=$p_err"
  results+=("RESULT proxy_udp depth=$depth direct_rps=$d_rps proxied_rps=$p_rps ratio=$(printf '%.2f' "$ratio") direct_p50_us=$d_p50 proxied_p50_us=$p_p50 proxy_cpu_us=$(printf '%.2f' "$p_cpu") errors=$((d_err + p_err))")
done
echo "(server/req: the origin's CPU for the direct rows, the proxy's for the proxied ones)"
echo
printf '%s\n' "${results[@]}"
