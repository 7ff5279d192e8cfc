#!/usr/bin/env bash
# Full TLS handshakes per second, rcoapd against OpenSSL's own s_server with
# the same certificate and key, in one run (server pinned to one core, the
# clients to the other, when taskset is there):
#   1. openssl s_time -new  ->  openssl s_server -www       (the reference)
#   2. openssl s_time -new  ->  rcoapd coaps+tcp (--allow-no-alpn: s_time
#      offers no ALPN)
#   3. rcoap-bench --handshakes -c 1  ->  rcoapd coaps+tcp: the same
#      sequential shape as s_time, but each cycle is TCP connect, TLS
#      handshake with ALPN "coap" and certificate verification, CSM
#      exchange, GET /hello, close_notify, close
#   4. rcoap-bench --handshakes -c PAR  ->  rcoapd coaps+tcp, coaps+ws
#      (WebSocket upgrade inside TLS as well) and coap+tcp (no TLS: what
#      the TCP connect and the CSM exchange alone cost)
# s_time's own figure counts whole seconds; the rate here is its count over
# the wall time measured around it. Server CPU per handshake comes from
# /proc/PID/stat over the same time. Both servers use their defaults
# (TLS 1.3, X25519, the demo ECDSA P-256 certificate, session tickets
# issued). Nothing is asserted: a benchmark is not a test.
#
#   bash bench/tls_handshakes.sh [BUILD_DIR]
# Environment (defaults): TIME=5 (seconds per measurement), PAR=16,
#   SERVER_CPU=0 BENCH_CPU=1 (taskset cores).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$ROOT/build-bench}}
TIME=${TIME:-5}
PAR=${PAR:-16}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
if [ ! -x "$BENCH" ] || [ ! -x "$RCOAPD" ]; then
  echo "== building rcoapd and rcoap-bench (Release) in $BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF -DRCOAP_SANITIZE=OFF &&
    make -C "$BUILD_DIR" -j2 rcoapd rcoap-bench; } >"$BUILD_DIR/tls_handshakes-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR/tls_handshakes-build.log"; echo "tls_handshakes.sh: build failed"; exit 1; }
fi
command -v openssl >/dev/null || { echo "tls_handshakes.sh: openssl not found"; exit 1; }

PIN_SERVER=() PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_BENCH=(taskset -c "$BENCH_CPU")
  pinning="servers on cpu $SERVER_CPU, clients on cpu $BENCH_CPU"
else
  pinning="not pinned (no taskset or one cpu)"
fi

TMP=$(mktemp -d /tmp/rcoap-handshakes.XXXXXX)
PIDS=()
cleanup() {
  local p
  # TERM: a background job of a script ignores SIGINT unless it installs
  # its own handler (rcoapd does, s_server does not)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

"${PIN_SERVER[@]}" "$RCOAPD" -l coaps+tcp://127.0.0.1:0 -l coaps+ws://127.0.0.1:0 \
  -l coap+tcp://127.0.0.1:0 --allow-no-alpn --state-dir "$TMP/state" \
  >"$TMP/rcoapd.out" 2>&1 &
PID_RC=$!
PIDS+=("$PID_RC")
uri_of() { grep -o "listening on $1://127.0.0.1:[0-9]*" "$TMP/rcoapd.out" | head -n 1 | sed 's/^listening on //'; }
for _ in $(seq 1 100); do
  [ -n "$(uri_of coap+tcp)" ] && [ -n "$(uri_of coaps+ws)" ] && [ -n "$(uri_of coaps+tcp)" ] && break
  sleep 0.1
done
U_TLS=$(uri_of coaps+tcp) U_WSS=$(uri_of coaps+ws) U_TCP=$(uri_of coap+tcp)
[ -n "$U_TLS" ] && [ -n "$U_WSS" ] && [ -n "$U_TCP" ] ||
  { cat "$TMP/rcoapd.out"; echo "tls_handshakes.sh: rcoapd did not start"; exit 1; }
P_RC=${U_TLS##*:}
CERT=$TMP/state/demo-cert.pem KEY=$TMP/state/demo-key.pem

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
P_SS=$((P_RC + 1))
for _ in $(seq 1 50); do port_free "$P_SS" && break; P_SS=$((P_SS + 1)); done
"${PIN_SERVER[@]}" openssl s_server -quiet -accept "$P_SS" -cert "$CERT" -key "$KEY" -www \
  >"$TMP/s_server.out" 2>&1 </dev/null &
PID_SS=$!
PIDS+=("$PID_SS")
for _ in $(seq 1 50); do port_free "$P_SS" || break; sleep 0.1; done
port_free "$P_SS" && { cat "$TMP/s_server.out"; echo "tls_handshakes.sh: s_server did not start"; exit 1; }

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK=$(getconf CLK_TCK)
field() { sed -E "s/.* $1=([0-9.]+).*/\\1/" <<<"$2"; }

# s_time PID PORT -> "rate server_cpu_us p50 p99" (s_time has no latencies)
s_time_run() {
  local pid=$1 port=$2 c0 c1 t0 t1 n
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  n=$("${PIN_BENCH[@]}" openssl s_time -connect "127.0.0.1:$port" -new -time "$TIME" 2>&1 |
      sed -nE 's/^([0-9]+) connections in [0-9.]+s;.*/\1/p' | head -n 1)
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  n=${n:-0}
  local rate cpu
  rate=$(echo "$n / ($t1 - $t0)" | bc -l)
  cpu=$(echo "if ($n > 0) ($c1 - $c0) / $TCK * 1000000 / $n else 0" | bc -l)
  echo "$rate $cpu - - 0"
}

# bench_run URI CONNS -> "rate server_cpu_us p50_us p99_us errors"
bench_run() {
  local uri=$1 conns=$2 c0 c1 line out="$TMP/bench.out"
  c0=$(cpu_ticks "$PID_RC")
  "${PIN_BENCH[@]}" "$BENCH" -q --handshakes -c "$conns" -w 0 -d "$TIME" \
    --cafile "$CERT" "$uri" >"$out" 2>&1
  c1=$(cpu_ticks "$PID_RC")
  line=$(grep '^RESULT' "$out" | tail -n 1)
  [ -n "$line" ] || { echo "0 0 0 0 fail"; return; }
  local n rate
  n=$(field requests "$line"); rate=$(field rps "$line")
  echo "$rate $(echo "if ($n > 0) ($c1 - $c0) / $TCK * 1000000 / $n else 0" | bc -l) $(field p50_us "$line") $(field p99_us "$line") $(field errors "$line")"
}

echo "full TLS handshakes per second: rcoapd vs openssl s_server (same cert/key), 127.0.0.1"
echo "${TIME}s per measurement; $pinning; $(openssl version)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -a ROWS
row() { # label result
  local rate cpu p50 p99 err
  read -r rate cpu p50 p99 err <<<"$2"
  ROWS+=("$(printf '| %-52s | %8.0f | %9.0f us | %s |' "$1" "$rate" "$cpu" \
    "$( [ "$p50" = - ] && echo "-" || printf '%.0f / %.0f us' "$p50" "$p99")")")
  [ "$err" = 0 ] || ROWS+=("  ($1: errors=$err)")
  RESULTS+=("RESULT handshakes case=\"$1\" per_s=$(printf '%.0f' "$rate") server_cpu_us=$(printf '%.0f' "$cpu")")
}
RESULTS=()
row "s_time -new -> s_server -www" "$(s_time_run "$PID_SS" "$P_SS")"
row "s_time -new -> rcoapd coaps+tcp" "$(s_time_run "$PID_RC" "$P_RC")"
row "rcoap-bench --handshakes -c 1 -> rcoapd coaps+tcp" "$(bench_run "$U_TLS" 1)"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coaps+tcp" "$(bench_run "$U_TLS" "$PAR")"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coaps+ws" "$(bench_run "$U_WSS" "$PAR")"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coap+tcp" "$(bench_run "$U_TCP" "$PAR")"
kill -0 "$PID_RC" 2>/dev/null || echo "tls_handshakes.sh: rcoapd died: $(cat "$TMP/rcoapd.out")"
kill -0 "$PID_SS" 2>/dev/null || echo "tls_handshakes.sh: s_server died: $(cat "$TMP/s_server.out")"

echo
printf '| %-52s | %8s | %12s | %s |\n' "client -> server" "per s" "server CPU" "cycle p50 / p99"
printf '| %-52s | %8s | %12s | %s |\n' "$(printf -- '-%.0s' $(seq 52))" -------- ------------ ---------------
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${RESULTS[@]}"
