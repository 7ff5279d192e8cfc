#!/usr/bin/env bash
# User-space instructions per notification of an observe fan-out, by
# callgrind: the measured side runs under valgrind (callgrind,
# --dump-instr=no) while rcoap-bench --observe registers CONNS x PER
# observations of /counter and triggers (POST) SHORT, then LONG rounds;
# the difference of the two totals divided by the notifications between
# them, CONNS x PER x (LONG - SHORT), is the cost of one notification,
# without start-up, registration and teardown. Instruction counts do not
# depend on the machine's load (wall clock does).
#
#   bash bench/callgrind_observe.sh [BUILD_DIR] [rcoapd|floor|generator]
# rcoapd, floor (bench/floor_notifier): the server is measured;
# generator: rcoap-bench --observe itself, against rcoapd.
# Environment (defaults): SHORT=2 LONG=32 CONNS=1000 PER=10,
#   KEEP= (a folder to keep the callgrind files in).
set -uo pipefail
BUILD_DIR=${1:-build-rel}
WHAT=${2:-rcoapd}
: "${SHORT:=2}" "${LONG:=32}" "${CONNS:=1000}" "${PER:=10}" "${KEEP:=}"
command -v valgrind >/dev/null || { echo "callgrind_observe.sh: valgrind not found"; exit 1; }
# shellcheck source=bench/callgrind_lib.sh
. "$(dirname "$0")/callgrind_lib.sh"
CG=(valgrind --tool=callgrind --dump-instr=no)

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run N: N rounds; prints the measured side's instruction total.
run() {
  local n=$1 out=$TMP/cg.$1 port pre=() gen=()
  port=$(free_port)
  [ "$WHAT" = generator ] && gen=("${CG[@]}" --callgrind-out-file="$out") ||
    pre=("${CG[@]}" --callgrind-out-file="$out")
  if [ "$WHAT" = floor ]; then
    "${pre[@]}" "$BUILD_DIR/bench/floor_notifier" "$port" >"$TMP/srv.log" 2>&1 &
  else
    "${pre[@]}" "$BUILD_DIR/rcoapd" -q -l "coap+tcp://127.0.0.1:$port" \
      --state-dir "$TMP/state" >"$TMP/srv.log" 2>&1 &
  fi
  PID=$!
  local up=
  for _ in $(seq 1 300); do
    if [ "$WHAT" = floor ]; then
      grep -q '^listening' "$TMP/srv.log" && up=1 && break
    else
      "$BUILD_DIR/rcoap-bench" -q -c 1 -p 1 -n 1 "coap+tcp://127.0.0.1:$port" \
        >/dev/null 2>&1 && up=1 && break
    fi
    sleep 0.1
  done
  [ -n "$up" ] || { echo "callgrind_observe.sh: the server did not start: $(cat "$TMP/srv.log")"; exit 1; }
  "${gen[@]}" "$BUILD_DIR/rcoap-bench" --observe -c "$CONNS" --per "$PER" \
    --rounds "$n" -T 30 --trigger post "coap+tcp://127.0.0.1:$port/counter" \
    >"$TMP/bench.$n" 2>&1 ||
    { echo "callgrind_observe.sh: rcoap-bench failed: $(tail -n 3 "$TMP/bench.$n")"; exit 1; }
  grep -q 'RESULT observe.* errors=0' "$TMP/bench.$n" ||
    { echo "callgrind_observe.sh: rcoap-bench: $(tail -n 3 "$TMP/bench.$n")"; exit 1; }
  cg_collect "$out"
}

a=$(run "$SHORT")
b=$(run "$LONG")
notes=$((CONNS * PER * (LONG - SHORT)))
echo "$WHAT: $a instructions with $SHORT rounds, $b with $LONG ($CONNS x $PER observers)"
awk -v a="$a" -v b="$b" -v n="$notes" -v w="$WHAT" \
  'BEGIN { printf "RESULT callgrind_observe side=%s instr_per_note=%.1f\n", w, (b - a) / n }'
