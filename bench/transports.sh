#!/usr/bin/env bash
# Transport cost benchmark: one rcoapd with a coap+tcp, a coaps+tcp, a
# coap+ws and a coaps+ws listener (demo certificate), the same rcoap-bench
# load (CONNS connections, each pipelining DEPTH small GETs) against each
# in turn, in one run. Server pinned to one core, rcoap-bench to the other
# (when taskset is there); the transports take turns inside every run so
# that a busy moment hits all of them alike. Prints requests/s, p50/p99,
# server CPU per request (from /proc/PID/stat over the middle of the
# window), rcoap-bench's own CPU per request, and each transport's ratio
# to coap+tcp. Nothing is asserted: a benchmark is not a test.
#
#   bash bench/transports.sh [BUILD_DIR]
# Environment (defaults): DURATION=5 WARMUP=1 (seconds), CONNS=50,
#   DEPTHS="16 1", RUNS=1 (median of RUNS per cell),
#   SCHEMES="coap+tcp coaps+tcp coap+ws coaps+ws", MIX="GET /hello",
#   SERVER_CPU=0 BENCH_CPU=1 (taskset cores).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${DURATION:=5}" "${WARMUP:=1}" "${CONNS:=50}" "${DEPTHS:=16 1}" "${RUNS:=1}"
: "${SCHEMES:=coap+tcp coaps+tcp coap+ws coaps+ws}" "${MIX:=GET /hello}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
bench_pin rcoapd rcoap-bench
bench_tmp transports

listen_args=()
for s in $SCHEMES; do listen_args+=(-l "$s://127.0.0.1:0"); done
bench_start_rcoapd "${listen_args[@]}" --state-dir "$TMP/state" || exit 1
PID=$RCOAPD_PID
CERT=$TMP/state/demo-cert.pem

# run SCHEME DEPTH -> "rps p50 p99 server_cpu_us errors bench_cpu_us"
run_one() {
  local s=$1 depth=$2
  bench_windowed "$PID" "$TMP/$1-$2.out" "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" \
    -p "$depth" --duration "$DURATION" -w "$WARMUP" -m "$MIX" --cafile "$CERT" "${RCOAPD_URI[$s]}"
  bench_summary bench_cpu_us
}

echo "rcoapd, $MIX over $SCHEMES on 127.0.0.1 (demo certificate, TLS as negotiated)"
echo "$CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS; $pinning"
echo "$(bench_machine), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RES
for depth in $DEPTHS; do
  for _ in $(seq 1 "$RUNS"); do
    for s in $SCHEMES; do RES[$depth-$s]+="$(run_one "$s" "$depth")"$'\n'; done
  done
done
bench_alive "$PID" rcoapd "$TMP/rcoapd.out"

echo
printf '| %-5s | %-9s | %9s | %15s | %10s | %10s | %6s |\n' depth transport \
  req/s "p50 / p99 us" "server/req" "bench/req" "/ tcp"
printf '| %-5s | %-9s | %9s | %15s | %10s | %10s | %6s |\n' ----- --------- \
  --------- --------------- ---------- ---------- ------
results=()
for depth in $DEPTHS; do
  base=
  for s in $SCHEMES; do
    read -r rps p50 p99 scpu err bcpu <<<"$(printf '%s' "${RES[$depth-$s]}" | bench_median)"
    [ -z "$base" ] && base=$rps
    ratio=$(bench_div "$rps" "$base")
    printf '| %-5s | %-9s | %9.0f | %7.0f/%-7.0f | %7.2f us | %7.2f us | %5.2fx |\n' \
      "$depth" "$s" "$rps" "$p50" "$p99" "$scpu" "$bcpu" "$ratio"
    [ "$err" = 0 ] || echo "  $s depth $depth: errors=$err"
    results+=("RESULT transports depth=$depth scheme=$s rps=$rps p50_us=$p50 p99_us=$p99 ratio_tcp=$(printf '%.2f' "$ratio") server_cpu_us=$(printf '%.2f' "$scpu") bench_cpu_us=$bcpu errors=$err")
  done
done
echo
printf '%s\n' "${results[@]}"
