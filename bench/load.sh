#!/usr/bin/env bash
# Server load benchmark, rcoapd against libcoap's coap-server-notls, in one
# run: both servers are started on their own loopback ports (pinned to one
# core, the load generator to the other, when taskset is there), the same
# rcoap-bench load (CONNS connections, each pipelining DEPTH requests) is
# run against each at every depth, and a table gives requests/s, p50/p99
# latency, server CPU time per request (from /proc/PID/stat) and the
# rcoapd/libcoap ratio. Over coap+tcp the same load also runs against
# bench/floor_responder (a minimal epoll responder: one read and one write
# per batch, no library), and a second table gives rcoapd's CPU per request
# as a multiple of that floor's (FLOOR=0 leaves it out). Nothing is
# asserted: a benchmark is not a test.
#
# GEN=raw drives every server with bench/raw_gen instead (coap+tcp only):
# a load generator without the library (plain epoll, frames by RFC 8323
# length rules alone), so that a way rcoap-bench paces or batches that
# suits rcoapd better than the others would show as different ratios.
# rcoap-bench still does the one PUT that fills libcoap's /example_data.
#
# Request used for the comparison (both small, both 2.05 Content with the
# same 27-byte text/plain payload): rcoapd "GET /hello" (it answers
# "Hello, world! (rcoap VERSION)"); libcoap "GET /example_data" after one
# "PUT /example_data" of that same text (coap-server has no /hello).
#
#   bash bench/load.sh [BUILD_DIR]
# Environment (defaults): DURATION=8 WARMUP=2 (seconds), CONNS=50,
#   DEPTHS="16 1", RUNS=1 (median of RUNS per cell), PORT_BASE=25683,
#   RCOAPD_MIX="GET /hello", LIBCOAP_MIX="GET /example_data",
#   LIBCOAP_PAYLOAD="Hello, world! (rcoap VERSION)" (PUT into /example_data),
#   LIBCOAP_SERVER=coap-server-notls, THREADS=1 (rcoap-bench threads),
#   SERVER_CPU=0 BENCH_CPU=1 (taskset cores), SCHEME=coap+tcp (coap: the
#   same over UDP, RFC 7252, CON requests with piggybacked answers),
#   FLOOR=1 (coap+tcp only: bench/floor_responder as the floor),
#   GEN=rcoap-bench (or raw: bench/raw_gen, coap+tcp only; THREADS unused).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${DURATION:=8}" "${WARMUP:=2}" "${CONNS:=50}" "${DEPTHS:=16 1}" "${RUNS:=1}"
: "${PORT_BASE:=25683}" "${THREADS:=1}" "${RCOAPD_MIX:=GET /hello}" "${SCHEME:=coap+tcp}"
: "${LIBCOAP_MIX:=GET /example_data}" "${LIBCOAP_SERVER:=coap-server-notls}"
: "${FLOOR:=1}" "${GEN:=rcoap-bench}"
[ "$SCHEME" = coap+tcp ] || FLOOR=0
case $GEN in
  rcoap-bench) ;;
  raw) [ "$SCHEME" = coap+tcp ] || bench_fail "GEN=raw speaks coap+tcp only, not $SCHEME" ;;
  *) bench_fail "GEN is rcoap-bench or raw, not $GEN" ;;
esac

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
bench_need rcoapd rcoap-bench
[ "$FLOOR" = 0 ] || [ -x "$BUILD_DIR/bench/floor_responder" ] || bench_build floor_responder
[ "$GEN" != raw ] || [ -x "$BUILD_DIR/bench/raw_gen" ] || bench_build raw_gen
command -v "$LIBCOAP_SERVER" >/dev/null ||
  bench_fail "$LIBCOAP_SERVER not found (apt-get install libcoap3-bin)"
bench_pin server "$GEN"
bench_tmp load

P_RC=$(bench_pick_port "$PORT_BASE")
P_LC=$(bench_pick_port $((P_RC + 1)))
bench_start_rcoapd -q -l "$SCHEME://127.0.0.1:$P_RC" || exit 1
PID_RC=$RCOAPD_PID
bench_start_libcoap "$LIBCOAP_SERVER" "$P_LC" || exit 1
PID_LC=$LIBCOAP_PID
if [ "$FLOOR" != 0 ]; then
  "${PIN_SERVER[@]}" "$BUILD_DIR/bench/floor_responder" 0 >"$TMP/floor.out" 2>&1 &
  PID_FL=$!
  bench_track "$PID_FL"
  for _ in $(seq 1 100); do grep -qs '^listening' "$TMP/floor.out" && break; sleep 0.05; done
  P_FL=$(awk '/^listening/ { print $2 }' "$TMP/floor.out")
  [ -n "$P_FL" ] || bench_fail "floor_responder did not start: $(cat "$TMP/floor.out")"
fi
# libcoap's /example_data must hold the same small payload as /hello.
LIBCOAP_PAYLOAD=${LIBCOAP_PAYLOAD:-"Hello, world! (rcoap $("$RCOAPD" -V | cut -d' ' -f2))"}
"$BENCH" -q -c 1 -p 1 -n 1 -m "PUT /example_data=${LIBCOAP_PAYLOAD//,/\\,}" "$SCHEME://127.0.0.1:$P_LC" >/dev/null ||
  echo "load.sh: warning: PUT /example_data failed"

# run NAME PID PORT MIX DEPTH -> "rps p50 p99 cpu_us_per_req errors"
run_one() {
  local port=$3 mix=$4 depth=$5 gen=("$BENCH" --threads "$THREADS" --duration)
  [ "$GEN" != raw ] || gen=("$BUILD_DIR/bench/raw_gen" -d)
  bench_windowed "$2" "$TMP/$1-$5.out" "${PIN_BENCH[@]}" "${gen[@]}" "$DURATION" -q \
    -c "$CONNS" -p "$depth" -w "$WARMUP" -m "$mix" "$SCHEME://127.0.0.1:$port"
  bench_summary
}

median_run() { # NAME PID PORT MIX DEPTH: median by rps of RUNS runs
  for _ in $(seq 1 "$RUNS"); do run_one "$@"; done | bench_median
}

echo "rcoapd ($RCOAPD_MIX) vs $LIBCOAP_SERVER ($LIBCOAP_MIX), $SCHEME on 127.0.0.1"
echo "load generator: $GEN"
echo "$CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS; $pinning"
bench_machine
declare -A R
for depth in $DEPTHS; do
  R[rc-$depth]=$(median_run rcoapd "$PID_RC" "$P_RC" "$RCOAPD_MIX" "$depth")
  R[lc-$depth]=$(median_run libcoap "$PID_LC" "$P_LC" "$LIBCOAP_MIX" "$depth")
  [ "$FLOOR" = 0 ] ||
    R[fl-$depth]=$(median_run floor "$PID_FL" "$P_FL" "$RCOAPD_MIX" "$depth")
done
bench_alive "$PID_RC" rcoapd "$TMP/rcoapd.out"
bench_alive "$PID_LC" "$LIBCOAP_SERVER" "$TMP/libcoap.log"

echo
bench_pair_header rcoapd libcoap ratio
results=()
for depth in $DEPTHS; do
  read -r a50 _ _ acpu aerr <<<"${R[rc-$depth]}"
  read -r b50 _ _ bcpu berr <<<"${R[lc-$depth]}"
  ratio=$(bench_div "$a50" "$b50")
  bench_pair_row "$depth" "${R[rc-$depth]}" "${R[lc-$depth]}" "$ratio"
  [ "$aerr" = 0 ] || echo "  rcoapd depth $depth: errors=$aerr"
  [ "$berr" = 0 ] || echo "  libcoap depth $depth: errors=$berr"
  results+=("RESULT load depth=$depth conns=$CONNS rcoapd_rps=$a50 libcoap_rps=$b50 ratio=$(printf '%.2f' "$ratio") rcoapd_cpu_us=$(printf '%.2f' "$acpu") libcoap_cpu_us=$(printf '%.2f' "$bcpu") gen=$GEN")
done
if [ "$FLOOR" != 0 ]; then
  echo
  echo "rcoapd against the floor (bench/floor_responder): ratio = rcoapd's server CPU per request / the floor's"
  bench_pair_header rcoapd floor "cpu x"
  for depth in $DEPTHS; do
    read -r a50 _ _ acpu _ <<<"${R[rc-$depth]}"
    read -r f50 _ _ fcpu ferr <<<"${R[fl-$depth]}"
    cratio=$(bench_div "$acpu" "$fcpu")
    bench_pair_row "$depth" "${R[rc-$depth]}" "${R[fl-$depth]}" "$cratio"
    [ "$ferr" = 0 ] || echo "  floor depth $depth: errors=$ferr"
    results+=("RESULT floor depth=$depth conns=$CONNS rcoapd_rps=$a50 floor_rps=$f50 rps_ratio=$(printf '%.2f' "$(bench_div "$a50" "$f50")") rcoapd_cpu_us=$(printf '%.2f' "$acpu") floor_cpu_us=$(printf '%.2f' "$fcpu") cpu_ratio=$(printf '%.2f' "$cratio") gen=$GEN")
  done
fi
echo
printf '%s\n' "${results[@]}"
