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
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$ROOT/build-bench}}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"16 1"}
RUNS=${RUNS:-1}
SCHEMES=${SCHEMES:-"coap+tcp coaps+tcp coap+ws coaps+ws"}
MIX=${MIX:-"GET /hello"}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
if [ ! -x "$BENCH" ] || [ ! -x "$RCOAPD" ]; then
  echo "== building rcoapd and rcoap-bench (Release) in $BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF -DRCOAP_SANITIZE=OFF &&
    make -C "$BUILD_DIR" -j2 rcoapd rcoap-bench; } >"$BUILD_DIR/transports-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR/transports-build.log"; echo "transports.sh: build failed"; exit 1; }
fi

PIN_SERVER=() PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_BENCH=(taskset -c "$BENCH_CPU")
  pinning="rcoapd on cpu $SERVER_CPU, rcoap-bench on cpu $BENCH_CPU"
else
  pinning="not pinned (no taskset or one cpu)"
fi

TMP=$(mktemp -d /tmp/rcoap-transports.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -INT "$PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

listen_args=()
for s in $SCHEMES; do listen_args+=(-l "$s://127.0.0.1:0"); done
"${PIN_SERVER[@]}" "$RCOAPD" "${listen_args[@]}" --state-dir "$TMP/state" \
  >"$TMP/rcoapd.out" 2>&1 &
PID=$!
declare -A URI
for _ in $(seq 1 100); do
  all=1
  for s in $SCHEMES; do
    u=$(grep -o "listening on $s://127.0.0.1:[0-9]*" "$TMP/rcoapd.out" 2>/dev/null |
        head -n 1 | sed 's/^listening on //')
    if [ -n "$u" ]; then URI[$s]=$u; else all=0; fi
  done
  [ $all = 1 ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
for s in $SCHEMES; do
  [ -n "${URI[$s]:-}" ] || { cat "$TMP/rcoapd.out"; echo "transports.sh: rcoapd did not open $s"; exit 1; }
done
CERT=$TMP/state/demo-cert.pem

cpu_ticks() { # pid -> utime+stime in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TCK=$(getconf CLK_TCK)
field() { sed -E "s/.* $1=([0-9.]+).*/\\1/" <<<"$2"; }

# run SCHEME DEPTH -> "rps p50 p99 server_cpu_us bench_cpu_us errors"
run_one() {
  local s=$1 depth=$2 out="$TMP/$1-$2.out"
  "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" -p "$depth" -d "$DURATION" \
    -w "$WARMUP" -m "$MIX" --cafile "$CERT" "${URI[$s]}" >"$out" 2>&1 &
  local bpid=$! settle=0.5 c0 t0 c1 t1
  sleep "$(echo "$WARMUP + $settle" | bc -l)"
  c0=$(cpu_ticks "$PID"); t0=$(date +%s.%N)
  sleep "$(echo "$DURATION - 2 * $settle" | bc -l)"
  c1=$(cpu_ticks "$PID"); t1=$(date +%s.%N)
  wait "$bpid"
  local line
  line=$(grep '^RESULT' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "0 0 0 0 0 fail"
    return
  fi
  local rps cpu
  rps=$(field rps "$line")
  cpu=$(echo "if ($rps > 0) ($c1 - $c0) / $TCK * 1000000 / ($rps * ($t1 - $t0)) else 0" | bc -l)
  echo "$rps $(field p50_us "$line") $(field p99_us "$line") $cpu $(field bench_cpu_us "$line") $(field errors "$line")"
}

echo "rcoapd, $MIX over $SCHEMES on 127.0.0.1 (demo certificate, TLS as negotiated)"
echo "$CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS; $pinning"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RES
for depth in $DEPTHS; do
  for r in $(seq 1 "$RUNS"); do
    for s in $SCHEMES; do RES[$depth-$s]+="$(run_one "$s" "$depth")"$'\n'; done
  done
done
kill -0 "$PID" 2>/dev/null || echo "transports.sh: rcoapd died during the run: $(cat "$TMP/rcoapd.out")"

median() { # lines -> the median line by rps
  printf '%s' "$1" | sed '/^$/d' | sort -n -k1,1 | sed -n "$(((RUNS + 1) / 2))p"
}

echo
printf '| %-5s | %-9s | %9s | %15s | %10s | %10s | %6s |\n' depth transport \
  req/s "p50 / p99 us" "server/req" "bench/req" "/ tcp"
printf '| %-5s | %-9s | %9s | %15s | %10s | %10s | %6s |\n' ----- --------- \
  --------- --------------- ---------- ---------- ------
results=()
for depth in $DEPTHS; do
  base=
  for s in $SCHEMES; do
    read -r rps p50 p99 scpu bcpu err <<<"$(median "${RES[$depth-$s]}")"
    [ -z "$base" ] && base=$rps
    ratio=$(echo "if ($base > 0) $rps / $base else 0" | bc -l)
    printf '| %-5s | %-9s | %9.0f | %7.0f/%-7.0f | %7.2f us | %7.2f us | %5.2fx |\n' \
      "$depth" "$s" "$rps" "$p50" "$p99" "$scpu" "$bcpu" "$ratio"
    [ "$err" = 0 ] || echo "  $s depth $depth: errors=$err"
    results+=("RESULT transports depth=$depth scheme=$s rps=$rps p50_us=$p50 p99_us=$p99 ratio_tcp=$(printf '%.2f' "$ratio") server_cpu_us=$(printf '%.2f' "$scpu") bench_cpu_us=$bcpu errors=$err")
  done
done
echo
printf '%s\n' "${results[@]}"
