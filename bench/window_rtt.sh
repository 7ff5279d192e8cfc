#!/usr/bin/env bash
# Windowed Block2 over a path with a round trip, in one run: rcoap fetches
# a SIZE_MIB file from rcoapd --serve-dir over coap+tcp with BERT through
# bench/delay_relay.py, a TCP relay that holds every chunk DELAY_MS each
# way (this machine's kernel has no netem), so a round trip takes
# 2 x DELAY_MS; once per window in WINDOWS (rcoap --window N: Block2
# requests in flight) and, for reference, the same file as raw TCP
# (socat: file -> relay -> /dev/null). Prints MB/s, the ratio to window 1
# and to raw TCP through the relay, and rcoapd's peak RSS. Nothing is
# asserted: a benchmark is not a test.
#   bash bench/window_rtt.sh [BUILD_DIR]
# Environment (defaults): DELAY_MS=10 SIZE_MIB=64 WINDOWS="1 2 4 8" RUNS=1
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${DELAY_MS:=10}" "${SIZE_MIB:=64}" "${WINDOWS:=1 2 4 8}" "${RUNS:=1}"
RCOAP=$BUILD_DIR/rcoap
bench_need rcoap rcoapd
bench_tmp window

mkdir -p "$TMP/files"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$TMP/files/big.bin"
BYTES=$((SIZE_MIB * 1024 * 1024))
now() { date +%s.%N; }
mbps() { echo "scale=1; $BYTES / ($2 - $1) / 1000000" | bc; }

bench_start_rcoapd -q -l "coap+tcp://127.0.0.1:0" --state-dir "$TMP/state" \
  --serve-dir "$TMP/files" || exit 1
SP=${RCOAPD_URI[coap+tcp]##*:}
# relay RP -> rcoapd, and RP2 -> the raw TCP sink
RP=$(bench_pick_port 26981) RP2=$(bench_pick_port 26985) SINK=$(bench_pick_port 26989)
relay() {
  python3 "$ROOT/bench/delay_relay.py" "$1" "$2" "$DELAY_MS" >"$TMP/relay.$1" 2>&1 &
  bench_track $!
  bench_wait_listen "$1" || bench_fail "the relay on $1 did not start"
}
relay "$RP" "$SP"
relay "$RP2" "$SINK"
U=coap+tcp://127.0.0.1:$RP

echo "windowed Block2 through a relay holding data ${DELAY_MS} ms each way (round trip $((2 * DELAY_MS)) ms), $SIZE_MIB MiB"
bench_machine
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A R
for _ in $(seq "$RUNS"); do
  for w in $WINDOWS; do
    t0=$(now)
    "$RCOAP" --window "$w" -T 600 -o "$TMP/got" "$U/files/big.bin" ||
      echo "rcoap --window $w failed" >&2
    t1=$(now)
    cmp -s "$TMP/got" "$TMP/files/big.bin" || echo "rcoap --window $w: body differs" >&2
    R[$w]="${R[$w]:-} $(mbps "$t0" "$t1")"
  done
  socat -u "TCP-LISTEN:$SINK,reuseaddr,bind=127.0.0.1" OPEN:/dev/null,wronly &
  sl=$!
  bench_wait_listen "$SINK"
  t0=$(now); socat -u -b 131072 OPEN:"$TMP/files/big.bin" "TCP:127.0.0.1:$RP2"; wait $sl; t1=$(now)
  R[raw]="${R[raw]:-} $(mbps "$t0" "$t1")"
done
# shellcheck disable=SC2086 # lists of figures
RAW=$(printf '%s\n' ${R[raw]} | bench_median)
# shellcheck disable=SC2086
W1=$(printf '%s\n' ${R[${WINDOWS%% *}]} | bench_median)
printf '  %-36s %8s MB/s\n' "raw TCP (socat, same file)" "$RAW"
for w in $WINDOWS; do
  # shellcheck disable=SC2086
  G=$(printf '%s\n' ${R[$w]} | bench_median)
  printf '  %-36s %8s MB/s   x%s of window %s, x%s of raw TCP\n' "rcoap GET BERT --window $w" "$G" \
    "$(echo "scale=2; $G / $W1" | bc)" "${WINDOWS%% *}" "$(echo "scale=2; $G / $RAW" | bc)"
  echo "RESULT window_rtt delay_ms=$DELAY_MS size_mib=$SIZE_MIB window=$w mbps=$G raw_mbps=$RAW" >>"$TMP/results"
done
echo "  rcoapd peak RSS (VmHWM): $(awk '/^VmHWM:/ { print $2 }' "/proc/$RCOAPD_PID/status") KiB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$TMP/results"
