#!/usr/bin/env bash
# Syscalls per observe round, server side: rcoapd against the floor
# (bench/floor_notifier) under the same rcoap-bench --observe load.
# perf counts the server's syscalls:sys_enter_* tracepoints over a
# ROUNDS-round and a SHORT-round run; the difference (registration and
# teardown cancel out) is printed per round, per connection and per
# notification for every syscall that differs from zero.
#   bash bench/observe_syscalls.sh [BUILD_DIR]
# Environment (defaults): CONNS=1000 PER=10 ROUNDS=20 SHORT=2 BUSY=1
#   PORT_BASE=26400
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${CONNS:=1000}" "${PER:=10}" "${ROUNDS:=20}" "${SHORT:=2}" "${BUSY:=1}" "${PORT_BASE:=26400}"
command -v perf >/dev/null || bench_fail "no perf"
bench_need rcoapd rcoap-bench
[ -x "$BUILD_DIR/bench/floor_notifier" ] || bench_build floor_notifier
bench_tmp observe_syscalls
declare -A PID URI
bench_start_rcoapd -q -l "coap+tcp://127.0.0.1:$PORT_BASE" --state-dir "$TMP/state" || exit 1
PID[rcoapd]=$RCOAPD_PID URI[rcoapd]="coap+tcp://127.0.0.1:$PORT_BASE/counter"
"${PIN_SERVER[@]}" "$BUILD_DIR/bench/floor_notifier" "$((PORT_BASE + 3))" >"$TMP/floor.out" 2>&1 &
PID[floor]=$!
bench_track "${PID[floor]}"
bench_wait_listen "$((PORT_BASE + 3))" || bench_fail "floor_notifier did not start"
URI[floor]="coap+tcp://127.0.0.1:$((PORT_BASE + 3))/counter"
busy=()
[ "$BUSY" = 1 ] && busy=(--busy-poll)

# bench_cpu_split PID: "utime stime" in clock ticks (/proc/PID/stat).
bench_cpu_split() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
# count NAME SERVER ROUNDS: TMP/NAME.counts, "count syscall" lines.
count() {
  bench_cpu_split "${PID[$2]}" >"$TMP/$1.cpu0"
  perf stat -x, -e 'syscalls:sys_enter_*' -p "${PID[$2]}" -o "$TMP/$1.perf" &
  local pp=$!
  sleep 0.3
  timeout 600 "${PIN_BENCH[@]}" "$BUILD_DIR/rcoap-bench" --observe "${busy[@]}" -c "$CONNS" \
    --per "$PER" --rounds "$3" -T 10 --trigger post "${URI[$2]}" >"$TMP/$1.log" 2>&1
  kill -INT "$pp"
  wait "$pp"
  bench_cpu_split "${PID[$2]}" >"$TMP/$1.cpu"
  awk -F, '$1 ~ /^[0-9]+$/ && $1 > 0 { sub(/^syscalls:sys_enter_/, "", $3); print $1, $3 }' \
    "$TMP/$1.perf" >"$TMP/$1.counts"
}
for s in rcoapd floor; do
  count "$s-long" "$s" "$ROUNDS"
  count "$s-short" "$s" "$SHORT"
done
echo "server syscalls per round (${CONNS} x ${PER}, $((ROUNDS - SHORT)) rounds, busy=$BUSY," \
  "load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-22s %12s %12s %12s %12s\n' syscall rcoapd/round floor/round rcoapd/conn floor/conn
awk -v n=$((ROUNDS - SHORT)) -v c="$CONNS" '
  FNR == 1 { fi++ }
  { v[fi, $2] = $1; names[$2] = 1 }
  END { for (k in names) {
      r = (v[1, k] - v[2, k]) / n; f = (v[3, k] - v[4, k]) / n
      if (r >= 0.5 || f >= 0.5 || r <= -0.5 || f <= -0.5)
        printf "%-22s %12.1f %12.1f %12.3f %12.3f\n", k, r, f, r / c, f / c } }' \
  "$TMP/rcoapd-long.counts" "$TMP/rcoapd-short.counts" "$TMP/floor-long.counts" "$TMP/floor-short.counts" |
  sort -k2,2nr
# user and kernel CPU per notification (ticks of the ROUNDS run minus the
# SHORT run, coarse: a tick is 1/CLK_TCK s)
tck=$(getconf CLK_TCK)
for s in rcoapd floor; do
  read -r lu0 ls0 <"$TMP/$s-long.cpu0"; read -r lu1 ls1 <"$TMP/$s-long.cpu"
  read -r su0 ss0 <"$TMP/$s-short.cpu0"; read -r su1 ss1 <"$TMP/$s-short.cpu"
  awk -v n=$((CONNS * PER * (ROUNDS - SHORT))) -v t="$tck" -v s="$s" \
    -v u=$(((lu1 - lu0) - (su1 - su0))) -v k=$(((ls1 - ls0) - (ss1 - ss0))) \
    'BEGIN { printf "%-7s user %.3f us/note  kernel %.3f us/note\n", s, u / t * 1e6 / n, k / t * 1e6 / n }'
done
