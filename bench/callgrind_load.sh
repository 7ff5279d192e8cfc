#!/usr/bin/env bash
# User-space instructions per request of a server under load, by
# callgrind: the server runs under valgrind (callgrind, --dump-instr=no)
# while rcoap-bench sends N requests (CONNS connections, each pipelining
# DEPTH; GET /hello), once with SHORT and once with LONG requests; the
# difference of the two totals divided by LONG - SHORT is the cost of one
# request, without start-up, connection set-up and shut-down. Instruction
# counts do not depend on the machine's load (wall clock does). GEN=raw
# sends the load with bench/raw_gen (no library) instead of rcoap-bench.
# CACHEGRIND=1 runs the server under cachegrind with its cache simulation
# instead (data touched): per request, every event cachegrind counts
# (Ir, D1 and LL read and write misses, ...), the same difference.
#
#   bash bench/callgrind_load.sh [BUILD_DIR] [rcoapd|floor]
# Environment (defaults): SHORT=20000 LONG=120000 CONNS=50 DEPTH=16,
#   KEEP= (a folder to keep the callgrind files in), GEN=rcoap-bench (or raw),
#   CACHEGRIND= (1: cachegrind --cache-sim=yes).
set -uo pipefail
BUILD_DIR=${1:-build-rel}
SERVER=${2:-rcoapd}
: "${SHORT:=20000}" "${LONG:=120000}" "${CONNS:=50}" "${DEPTH:=16}" "${KEEP:=}"
: "${GEN:=rcoap-bench}" "${CACHEGRIND:=}"
VG=(valgrind --tool=callgrind --dump-instr=no) VG_OUT=--callgrind-out-file
[ -z "$CACHEGRIND" ] || VG=(valgrind --tool=cachegrind --cache-sim=yes) VG_OUT=--cachegrind-out-file
GEN_CMD=("$BUILD_DIR/rcoap-bench")
[ "$GEN" != raw ] || GEN_CMD=("$BUILD_DIR/bench/raw_gen" -t 60)
command -v valgrind >/dev/null || { echo "callgrind_load.sh: valgrind not found"; exit 1; }
# shellcheck source=bench/callgrind_lib.sh
. "$(dirname "$0")/callgrind_lib.sh"

# run N: the server under callgrind serving N requests; prints its total.
run() {
  local n=$1 out=$TMP/cg.$1 port=
  if [ "$SERVER" = floor ]; then
    "${VG[@]}" "$VG_OUT=$out" \
      "$BUILD_DIR/bench/floor_responder" 0 >"$TMP/srv.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do grep -q '^listening' "$TMP/srv.log" && break; sleep 0.1; done
    port=$(awk '/^listening/ { print $2 }' "$TMP/srv.log")
  else
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${VG[@]}" "$VG_OUT=$out" \
      "$BUILD_DIR/rcoapd" -q -l "coap+tcp://127.0.0.1:$port" >"$TMP/srv.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do
      "$BUILD_DIR/rcoap-bench" -q -c 1 -p 1 -n 1 "coap+tcp://127.0.0.1:$port" >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  [ -n "$port" ] || { echo "callgrind_load.sh: the server did not start"; exit 1; }
  "${GEN_CMD[@]}" -q -c "$CONNS" -p "$DEPTH" -n "$n" -w 0 \
    "coap+tcp://127.0.0.1:$port" >"$TMP/bench.$n" 2>&1 ||
    { echo "callgrind_load.sh: $GEN failed: $(tail -n 3 "$TMP/bench.$n")"; exit 1; }
  cg_collect "$out"
}

a=$(run "$SHORT")
b=$(run "$LONG")
if [ -n "$CACHEGRIND" ]; then
  echo "$SERVER: $a for $SHORT requests, $b for $LONG ($(cg_events "$TMP/cg.$LONG"))"
  awk -v a="$a" -v b="$b" -v s="$SHORT" -v l="$LONG" -v n="$SERVER" -v g="$GEN" \
    -v e="$(cg_events "$TMP/cg.$LONG")" 'BEGIN {
      split(a, x, " "); split(b, y, " "); split(e, k, " ")
      printf "RESULT cachegrind server=%s gen=%s", n, g
      for (i = 1; i in k; i++) printf " %s=%.2f", k[i], (y[i] - x[i]) / (l - s)
      printf "\n" }'
  exit 0
fi
echo "$SERVER: $a instructions for $SHORT requests, $b for $LONG"
awk -v a="$a" -v b="$b" -v s="$SHORT" -v l="$LONG" -v n="$SERVER" \
  -v g="$GEN" 'BEGIN { printf "RESULT callgrind server=%s instr_per_req=%.1f gen=%s\n", n, (b - a) / (l - s), g }'
