#!/usr/bin/env bash
# What TLS costs rcoapd, in one run: one rcoapd (pinned to one core) with a
# coap+tcp and a coaps+tcp listener, the same rcoap-bench load (CONNS
# connections, DEPTH requests in flight each, GET /hello) against each, and
# full TLS handshakes per second from `openssl s_time -new` against rcoapd
# and against `openssl s_server -www` with the same certificate. Prints
# req/s, server CPU per request and the ratios. Nothing is asserted: a
# benchmark is not a test.
#
# rcoap-bench speaks coap+tcp only so far. Until it speaks coaps+tcp, the
# TLS load goes through a socat relay per connection (plain TCP from
# rcoap-bench, TLS to rcoapd), and so does a plain-TCP relay run, so that
# the two differ only in TLS; the relay shares the load generator's core,
# so its req/s are a lower bound, and server CPU per request is the fairer
# figure. When rcoap-bench accepts coaps+tcp URIs it is used directly.
#
# s_time and socat send no ALPN, so this rcoapd runs with --allow-no-alpn
# (its default refuses clients without ALPN "coap", RFC 8323 §8.2).
#
#   bash bench/tls.sh [BUILD_DIR]
# Environment (defaults): DURATION=8 WARMUP=2 (seconds), CONNS=50,
#   DEPTH=16, STIME=5 (s_time seconds), SERVER_CPU=0 BENCH_CPU=1 (taskset).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$ROOT/build-bench}}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
DEPTH=${DEPTH:-16}
STIME=${STIME:-5}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
if [ ! -x "$BENCH" ] || [ ! -x "$RCOAPD" ]; then
  echo "== building rcoapd and rcoap-bench (Release) in $BUILD_DIR"
  { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF -DRCOAP_SANITIZE=OFF &&
    make -C "$BUILD_DIR" -j2 rcoapd rcoap-bench; } >"$BUILD_DIR.tls-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR.tls-build.log"; echo "tls.sh: build failed"; exit 1; }
fi
for t in openssl bc ss; do
  command -v "$t" >/dev/null || { echo "tls.sh: $t not found"; exit 1; }
done

PIN_SERVER=() PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_BENCH=(taskset -c "$BENCH_CPU")
  pinning="servers on cpu $SERVER_CPU, clients on cpu $BENCH_CPU"
else
  pinning="not pinned (no taskset or one cpu)"
fi

TMP=$(mktemp -d /tmp/rcoap-tlsbench.XXXXXX)
PIDS=()
MAIN_PID=$BASHPID
cleanup() {
  # command substitutions inherit this trap: only the main shell cleans up
  [ "$BASHPID" = "$MAIN_PID" ] || return 0
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  exec 7>&- 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

bash "$ROOT/tests/certs/gen.sh" "$TMP/pki" >/dev/null || { echo "tls.sh: PKI failed"; exit 1; }
PKI=$TMP/pki

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((30000 + RANDOM % 20000))
    port_free "$p" && { echo "$p"; return; }
  done
  echo 0
}
wait_listen() { # port
  for _ in $(seq 1 100); do port_free "$1" || return 0; sleep 0.05; done
  return 1
}

"${PIN_SERVER[@]}" "$RCOAPD" -q -l coap+tcp://127.0.0.1:0 -l coaps+tcp://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" --allow-no-alpn \
  --state-dir "$TMP/state" >"$TMP/rcoapd.out" 2>"$TMP/rcoapd.err" &
PID_RC=$!
PIDS+=("$PID_RC")
for _ in $(seq 1 100); do
  [ "$(grep -c 'listening on' "$TMP/rcoapd.out" 2>/dev/null)" = 2 ] && break
  sleep 0.05
done
P_TCP=$(grep -F 'listening on coap+tcp://127.0.0.1:' "$TMP/rcoapd.out" | sed 's/.*://')
P_TLS=$(grep -F 'listening on coaps+tcp://127.0.0.1:' "$TMP/rcoapd.out" | sed 's/.*://')
[ -n "$P_TCP" ] && [ -n "$P_TLS" ] || { cat "$TMP/rcoapd.err"; echo "tls.sh: rcoapd did not start"; exit 1; }

cpu_ticks() { # pid -> utime+stime in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TCK=$(getconf CLK_TCK)

# run_one NAME URI -> "rps p50 p99 server_cpu_us_per_req errors"
run_one() {
  local out="$TMP/$1.out"
  "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" -p "$DEPTH" -d "$DURATION" \
    -w "$WARMUP" "$2" >"$out" 2>&1 &
  local bpid=$! settle=0.5 c0 t0 c1 t1
  sleep "$(echo "$WARMUP + $settle" | bc -l)"
  c0=$(cpu_ticks "$PID_RC"); t0=$(date +%s.%N)
  sleep "$(echo "$DURATION - 2 * $settle" | bc -l)"
  c1=$(cpu_ticks "$PID_RC"); t1=$(date +%s.%N)
  wait "$bpid"
  local line
  line=$(grep '^RESULT' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "0 0 0 0 fail"
    sed 's/^/    | /' "$out" >&2
    return
  fi
  local rps p50 p99 err cpu
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.* p50_us=([0-9.]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.* p99_us=([0-9.]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$line")
  cpu=$(echo "if ($rps > 0) ($c1 - $c0) / $TCK * 1000000 / ($rps * ($t1 - $t0)) else 0" | bc -l)
  echo "$rps $p50 $p99 $cpu $err"
}

# socat relay on a free port to TARGET (socat address); sets RELAY_PORT.
relay() { # name target-address
  RELAY_PORT=$(pick_port)
  "${PIN_BENCH[@]}" socat "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,fork,reuseaddr,backlog=128" \
    "$2" 2>"$TMP/$1.relay.log" &
  PIDS+=("$!")
  wait_listen "$RELAY_PORT" || echo "tls.sh: socat relay $1 did not start" >&2
}

echo "rcoapd coap+tcp vs coaps+tcp under rcoap-bench, GET /hello, 127.0.0.1"
echo "$CONNS connections x depth $DEPTH, ${DURATION}s measured after ${WARMUP}s warm-up; $pinning"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(openssl version)"

# Does rcoap-bench speak coaps+tcp yet?
NATIVE=0
if "$BENCH" -q -c 1 -p 1 -n 1 "coaps+tcp://127.0.0.1:$P_TLS/hello" >"$TMP/probe" 2>&1; then
  NATIVE=1
fi

declare -A R
R[direct]=$(run_one direct "coap+tcp://127.0.0.1:$P_TCP/hello")
if [ "$NATIVE" = 1 ]; then
  R[tls]=$(run_one tls "coaps+tcp://127.0.0.1:$P_TLS/hello")
  base=direct
  how="rcoap-bench speaks coaps+tcp itself"
else
  how="rcoap-bench: $(head -c 160 "$TMP/probe" | tr '\n' ' ')-> socat relays"
  relay tcp "TCP:127.0.0.1:$P_TCP,nodelay"
  PR_TCP=$RELAY_PORT
  relay tls "OPENSSL:127.0.0.1:$P_TLS,cafile=$PKI/ca.crt,commonname=localhost,nodelay"
  PR_TLS=$RELAY_PORT
  R[relay_tcp]=$(run_one relay_tcp "coap+tcp://127.0.0.1:$PR_TCP/hello")
  R[tls]=$(run_one tls "coap+tcp://127.0.0.1:$PR_TLS/hello")
  base=relay_tcp
fi
kill -0 "$PID_RC" 2>/dev/null || echo "tls.sh: rcoapd died during the run: $(cat "$TMP/rcoapd.err")"

echo "($how)"
echo
printf '| %-30s | %9s | %9s | %9s | %12s | %6s |\n' path "req/s" "p50 us" "p99 us" "server us/req" errors
printf '| %-30s | %9s | %9s | %9s | %12s | %6s |\n' ------------------------------ --------- --------- --------- ------------ ------
row() { # label key
  read -r a b c d e <<<"${R[$2]}"
  printf '| %-30s | %9.0f | %9.0f | %9.0f | %12.2f | %6s |\n' "$1" "$a" "$b" "$c" "$d" "$e"
}
row "coap+tcp direct" direct
[ "$NATIVE" = 1 ] || row "coap+tcp via socat relay" relay_tcp
row "coaps+tcp$([ "$NATIVE" = 1 ] || echo " via socat TLS relay")" tls
read -r base_rps _ _ base_cpu _ <<<"${R[$base]}"
read -r tls_rps _ _ tls_cpu _ <<<"${R[tls]}"
ratio=$(echo "if ($base_rps > 0) $tls_rps / $base_rps else 0" | bc -l)
cpu_ratio=$(echo "if ($tls_cpu > 0) $base_cpu / $tls_cpu else 0" | bc -l)
echo
printf 'req/s ratio coaps+tcp / coap+tcp (%s): %.2f (target >= 0.70)\n' "$base" "$ratio"
printf 'server CPU per request ratio coap+tcp / coaps+tcp (what a server-bound run would show): %.2f\n' "$cpu_ratio"

# ---- full handshakes per second ------------------------------------------------
P_SS=$(pick_port)
mkfifo "$TMP/ss.in"
exec 7<>"$TMP/ss.in" # keeps s_server's stdin open (it quits at EOF)
"${PIN_SERVER[@]}" openssl s_server -quiet -accept "$P_SS" -cert "$PKI/server.crt" \
  -key "$PKI/server.key" -www <&7 >"$TMP/s_server.log" 2>&1 &
PIDS+=("$!")
wait_listen "$P_SS" || echo "tls.sh: s_server did not start"

stime() { # port -> "connections seconds rate"
  local out
  out=$("${PIN_BENCH[@]}" openssl s_time -connect "127.0.0.1:$1" -new -time "$STIME" 2>&1)
  local line n s
  line=$(grep -m1 'real seconds' <<<"$out")
  n=$(awk '{print $1}' <<<"$line")
  s=$(awk '{print $4}' <<<"$line")
  if [ -z "$n" ] || [ -z "$s" ]; then
    echo "0 0 0"
    return
  fi
  echo "$n $s $(echo "$n / $s" | bc -l)"
}
read -r hn_rc hs_rc hr_rc <<<"$(stime "$P_TLS")"
read -r hn_ss hs_ss hr_ss <<<"$(stime "$P_SS")"
hratio=$(echo "if ($hr_ss > 0) $hr_rc / $hr_ss else 0" | bc -l)
echo
echo "full TLS handshakes (openssl s_time -new -time $STIME, TLS 1.3, EC P-256 certificate, no ALPN):"
printf '  rcoapd coaps+tcp (--allow-no-alpn): %6.0f/s (%s in %ss)\n' "$hr_rc" "$hn_rc" "$hs_rc"
printf '  openssl s_server -www:              %6.0f/s (%s in %ss)\n' "$hr_ss" "$hn_ss" "$hs_ss"
printf '  ratio rcoapd / s_server: %.2f\n' "$hratio"
echo
printf 'RESULT tls conns=%s depth=%s base=%s base_rps=%.0f tls_rps=%.0f ratio=%.2f base_cpu_us=%.2f tls_cpu_us=%.2f cpu_ratio=%.2f hs_rcoapd=%.0f hs_s_server=%.0f hs_ratio=%.2f native=%s\n' \
  "$CONNS" "$DEPTH" "$base" "$base_rps" "$tls_rps" "$ratio" "$base_cpu" "$tls_cpu" \
  "$cpu_ratio" "$hr_rc" "$hr_ss" "$hratio" "$NATIVE"
