#!/usr/bin/env bash
# Observe fan-out benchmark, in one run: the time from a trigger request
# (the server calls its notify at once) until every observer has the
# notification, measured by rcoap-bench --observe (all clients in one
# process on rcoap's client stack; the same client for both servers).
#   rcoapd:   POST /counter notifies GET /counter's observers
#   libcoap:  PUT /example_data notifies its observers (coap-server-notls),
#             the reference
# Configurations: CONNS connections x PER observations each (different
# tokens on one connection, RFC 7641 §4.1), and CONNS x 1. libcoap 4.3.1
# keeps one observation per connection and resource, so in the first
# configuration only CONNS of its observers are notified (reported as
# such). Printed: p50 / max over ROUNDS rounds, notifications per second,
# the ratio rcoapd / libcoap for CONNS x 1, and each server's CPU time
# per notification: the difference of its CPU time (/proc/PID/stat) over
# a ROUNDS-round and a 2-round run, so registration cancels out (clock
# ticks: coarse; callgrind for instructions, see BENCHMARKS.md). The load
# average is printed with the figures: on a shared machine wall clock
# swings 2x. Issue #16 targets for rcoapd, 10,000 observers on 1,000
# connections: p50 <= 12 ms, max <= 25 ms, <= 1 us server CPU per
# notification. Nothing is asserted: a benchmark is not a test.
#   bash bench/observe.sh [BUILD_DIR]
# Environment (defaults): CONNS=1000 PER=10 ROUNDS=10 PORT_BASE=26300
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${CONNS:=1000}" "${PER:=10}" "${ROUNDS:=10}" "${PORT_BASE:=26300}"
RB=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
bench_tmp observe

RP=$PORT_BASE
LP=$((PORT_BASE + 1))
bench_start_rcoapd -q -l "coap+tcp://127.0.0.1:$RP" --state-dir "$TMP/state" || exit 1
HAVE_LIBCOAP=0
if command -v coap-server-notls >/dev/null &&
  bench_start_libcoap coap-server-notls "$LP"; then
  HAVE_LIBCOAP=1
fi

declare -A P50
# one NAME PID OBS_URI METHOD CONNS PER ROUNDS: one rcoap-bench run; its
# RESULT line in TMP/NAME.result, the server's CPU ticks over it in
# TMP/NAME.ticks.
one() {
  local c0 c1
  c0=$(bench_cpu_ticks "$2")
  timeout 600 "$RB" --observe -c "$5" --per "$6" --rounds "$7" -T 10 \
    --trigger "$4" "$3" >"$TMP/$1.log" 2>&1
  c1=$(bench_cpu_ticks "$2")
  grep RESULT "$TMP/$1.log" >"$TMP/$1.result"
  echo $((c1 - c0)) >"$TMP/$1.ticks"
}
run() { # NAME PID OBS_URI METHOD CONNS PER
  local line us=-
  one "$1" "$2" "$3" "$4" "$5" "$6" "$ROUNDS"
  one "$1-2" "$2" "$3" "$4" "$5" "$6" 2
  line=$(cat "$TMP/$1.result")
  if [ -n "$line" ] && [ -s "$TMP/$1-2.result" ] && [ "$ROUNDS" -gt 2 ]; then
    us=$(awk -v a="$(cat "$TMP/$1.ticks")" -v b="$(cat "$TMP/$1-2.ticks")" \
      -v n=$(($5 * $6 * (ROUNDS - 2))) -v hz="$BENCH_TCK" \
      'BEGIN { printf "%.2f", (a - b) / hz * 1e6 / n }')
  fi
  if [ -n "$line" ]; then
    P50[$1]=$(bench_field p50_ms "$line")
    printf '  %-24s %6s obs  p50 %8s ms  max %8s ms  %9s notes/s  server %s us CPU/note\n' \
      "$1 ($5 x $6)" "$(bench_field observers "$line")" "${P50[$1]}" \
      "$(bench_field max_ms "$line")" "$(bench_field notes_per_s "$line")" "$us"
    echo "RESULT observe_bench server=$1 conns=$5 per=$6 $(cut -d' ' -f3- <<<"$line") server_cpu_us_per_note=$us" >>"$TMP/results"
  else
    printf '  %-24s %s\n' "$1 ($5 x $6)" "$(grep -m1 -E 'only [0-9]+ of|^rcoap-bench: ' "$TMP/$1.log")"
  fi
}
echo "observe fan-out: trigger -> every observer notified, $ROUNDS rounds" \
  "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
run rcoapd "$RCOAPD_PID" "coap+tcp://127.0.0.1:$RP/counter" post "$CONNS" "$PER"
[ "$HAVE_LIBCOAP" = 1 ] &&
  run libcoap "$LIBCOAP_PID" "coap+tcp://127.0.0.1:$LP/example_data" put "$CONNS" "$PER"
run rcoapd-1 "$RCOAPD_PID" "coap+tcp://127.0.0.1:$RP/counter" post "$CONNS" 1
[ "$HAVE_LIBCOAP" = 1 ] &&
  run libcoap-1 "$LIBCOAP_PID" "coap+tcp://127.0.0.1:$LP/example_data" put "$CONNS" 1
if [ -n "${P50[rcoapd-1]:-}" ] && [ -n "${P50[libcoap-1]:-}" ]; then
  echo "  p50 ratio rcoapd / libcoap, $CONNS x 1: $(awk -v a="${P50[rcoapd-1]}" \
    -v b="${P50[libcoap-1]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
fi
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$TMP/results" 2>/dev/null
exit 0
