#!/usr/bin/env bash
# Server load benchmark, rcoapd against libcoap's coap-server-notls, in one
# run: both servers are started on their own loopback ports (pinned to one
# core, the load generator to the other, when taskset is there), the same
# rcoap-bench load (CONNS connections, each pipelining DEPTH requests) is
# run against each at every depth, and a table gives requests/s, p50/p99
# latency, server CPU time per request (from /proc/PID/stat) and the
# rcoapd/libcoap ratio. Nothing is asserted: a benchmark is not a test.
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
#   SERVER_CPU=0 BENCH_CPU=1 (taskset cores).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$ROOT/build-bench}}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"16 1"}
RUNS=${RUNS:-1}
PORT_BASE=${PORT_BASE:-25683}
THREADS=${THREADS:-1}
RCOAPD_MIX=${RCOAPD_MIX:-"GET /hello"}
LIBCOAP_MIX=${LIBCOAP_MIX:-"GET /example_data"}
LIBCOAP_SERVER=${LIBCOAP_SERVER:-coap-server-notls}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
if [ ! -x "$BENCH" ] || [ ! -x "$RCOAPD" ]; then
  echo "== building rcoapd and rcoap-bench (Release) in $BUILD_DIR"
  { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF -DRCOAP_SANITIZE=OFF &&
    make -C "$BUILD_DIR" -j2 rcoapd rcoap-bench; } >"$BUILD_DIR.load-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR.load-build.log"; echo "load.sh: build failed"; exit 1; }
fi
if ! command -v "$LIBCOAP_SERVER" >/dev/null; then
  echo "load.sh: $LIBCOAP_SERVER not found (apt-get install libcoap3-bin)"
  exit 1
fi

PIN_SERVER=() PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_BENCH=(taskset -c "$BENCH_CPU")
  pinning="server on cpu $SERVER_CPU, rcoap-bench on cpu $BENCH_CPU"
else
  pinning="not pinned (no taskset or one cpu)"
fi

TMP=$(mktemp -d /tmp/rcoap-load.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
  local p=$1
  for _ in $(seq 1 50); do port_free "$p" && { echo "$p"; return; }; p=$((p + 1)); done
  echo "$p"
}
wait_listen() { # port
  for _ in $(seq 1 50); do port_free "$1" || return 0; sleep 0.1; done
  return 1
}

P_RC=$(pick_port "$PORT_BASE")
P_LC=$(pick_port $((P_RC + 1)))
"${PIN_SERVER[@]}" "$RCOAPD" -q -l "coap+tcp://127.0.0.1:$P_RC" >"$TMP/rcoapd.log" 2>&1 &
PID_RC=$!
PIDS+=("$PID_RC")
"${PIN_SERVER[@]}" "$LIBCOAP_SERVER" -A 127.0.0.1 -p "$P_LC" >"$TMP/libcoap.log" 2>&1 &
PID_LC=$!
PIDS+=("$PID_LC")
wait_listen "$P_RC" || { cat "$TMP/rcoapd.log"; echo "load.sh: rcoapd did not start"; exit 1; }
wait_listen "$P_LC" || { cat "$TMP/libcoap.log"; echo "load.sh: $LIBCOAP_SERVER did not start"; exit 1; }
# libcoap's /example_data must hold the same small payload as /hello.
LIBCOAP_PAYLOAD=${LIBCOAP_PAYLOAD:-"Hello, world! (rcoap $("$RCOAPD" -V | cut -d' ' -f2))"}
"$BENCH" -q -c 1 -p 1 -n 1 -m "PUT /example_data=${LIBCOAP_PAYLOAD//,/\\,}" "coap+tcp://127.0.0.1:$P_LC" >/dev/null ||
  echo "load.sh: warning: PUT /example_data failed"

cpu_ticks() { # pid -> utime+stime in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TCK=$(getconf CLK_TCK)

# run NAME PID PORT MIX DEPTH -> "rps p50 p99 cpu_us_per_req errors"
run_one() {
  local pid=$2 port=$3 mix=$4 depth=$5 out="$TMP/$1-$5.out"
  "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" -p "$depth" -t "$THREADS" \
    -d "$DURATION" -w "$WARMUP" -m "$mix" "coap+tcp://127.0.0.1:$port" >"$out" 2>&1 &
  local bpid=$!
  # Server CPU over the middle of the measurement window.
  local settle=0.5
  sleep "$(echo "$WARMUP + $settle" | bc -l)"
  local c0 t0 c1 t1
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  sleep "$(echo "$DURATION - 2 * $settle" | bc -l)"
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  wait "$bpid"
  local line rps p50 p99 err
  line=$(grep '^RESULT' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "0 0 0 0 fail"
    return
  fi
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.* p50_us=([0-9.]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.* p99_us=([0-9.]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$line")
  local cpu
  cpu=$(echo "if ($rps > 0) ($c1 - $c0) / $TCK * 1000000 / ($rps * ($t1 - $t0)) else 0" | bc -l)
  echo "$rps $p50 $p99 $cpu $err"
}

median_run() { # NAME PID PORT MIX DEPTH: median by rps of RUNS runs
  local i res=()
  for i in $(seq 1 "$RUNS"); do res+=("$(run_one "$@")"); done
  printf '%s\n' "${res[@]}" | sort -n -k1,1 | sed -n "$(((RUNS + 1) / 2))p"
}

echo "rcoapd ($RCOAPD_MIX) vs $LIBCOAP_SERVER ($LIBCOAP_MIX), coap+tcp on 127.0.0.1"
echo "$CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS; $pinning"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
declare -A R
for depth in $DEPTHS; do
  R[rc-$depth]=$(median_run rcoapd "$PID_RC" "$P_RC" "$RCOAPD_MIX" "$depth")
  R[lc-$depth]=$(median_run libcoap "$PID_LC" "$P_LC" "$LIBCOAP_MIX" "$depth")
done
kill -0 "$PID_RC" 2>/dev/null || echo "load.sh: rcoapd died during the run (log: $(cat "$TMP/rcoapd.log"))"
kill -0 "$PID_LC" 2>/dev/null || echo "load.sh: $LIBCOAP_SERVER died during the run"

echo
printf '| %-5s | %-34s | %-34s | %-7s |\n' depth "rcoapd: req/s  p50/p99 us  cpu/req" \
  "libcoap: req/s  p50/p99 us  cpu/req" "ratio"
printf '| %-5s | %-34s | %-34s | %-7s |\n' ----- "$(printf -- '-%.0s' $(seq 34))" \
  "$(printf -- '-%.0s' $(seq 34))" -------
results=()
for depth in $DEPTHS; do
  read -r a50 ap50 ap99 acpu aerr <<<"${R[rc-$depth]}"
  read -r b50 bp50 bp99 bcpu berr <<<"${R[lc-$depth]}"
  ratio=$(echo "if ($b50 > 0) $a50 / $b50 else 0" | bc -l)
  printf '| %-5s | %8.0f  %7.0f/%-7.0f %5.2f us | %8.0f  %7.0f/%-7.0f %5.2f us | %5.2fx  |\n' \
    "$depth" "$a50" "$ap50" "$ap99" "$acpu" "$b50" "$bp50" "$bp99" "$bcpu" "$ratio"
  [ "$aerr" = 0 ] || echo "  rcoapd depth $depth: errors=$aerr"
  [ "$berr" = 0 ] || echo "  libcoap depth $depth: errors=$berr"
  results+=("RESULT load depth=$depth conns=$CONNS rcoapd_rps=$a50 libcoap_rps=$b50 ratio=$(printf '%.2f' "$ratio") rcoapd_cpu_us=$(printf '%.2f' "$acpu") libcoap_cpu_us=$(printf '%.2f' "$bcpu")")
done
echo
printf '%s\n' "${results[@]}"
