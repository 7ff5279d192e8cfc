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
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${TIME:=5}" "${PAR:=16}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
command -v openssl >/dev/null || bench_fail "openssl not found"
bench_pin servers clients
bench_tmp handshakes

bench_start_rcoapd -l coaps+tcp://127.0.0.1:0 -l coaps+ws://127.0.0.1:0 \
  -l coap+tcp://127.0.0.1:0 --allow-no-alpn --state-dir "$TMP/state" || exit 1
PID_RC=$RCOAPD_PID
U_TLS=${RCOAPD_URI[coaps+tcp]} U_WSS=${RCOAPD_URI[coaps+ws]} U_TCP=${RCOAPD_URI[coap+tcp]}
P_RC=${U_TLS##*:}
CERT=$TMP/state/demo-cert.pem KEY=$TMP/state/demo-key.pem

P_SS=$(bench_pick_port $((P_RC + 1)))
bench_start_s_server "$P_SS" "$CERT" "$KEY" || exit 1
PID_SS=$S_SERVER_PID

# s_time PID PORT -> "rate server_cpu_us p50 p99" (s_time has no latencies)
s_time_run() {
  local pid=$1 port=$2 c0 c1 t0 t1 n
  c0=$(bench_cpu_ticks "$pid"); t0=$(date +%s.%N)
  n=$("${PIN_BENCH[@]}" openssl s_time -connect "127.0.0.1:$port" -new -time "$TIME" 2>&1 |
      sed -nE 's/^([0-9]+) connections in [0-9.]+s;.*/\1/p' | head -n 1)
  t1=$(date +%s.%N); c1=$(bench_cpu_ticks "$pid")
  n=${n:-0}
  local rate cpu
  rate=$(echo "$n / ($t1 - $t0)" | bc -l)
  cpu=$(bench_cpu_us "($c1 - $c0)" "$n")
  echo "$rate $cpu - - 0"
}

# handshake_run URI CONNS -> "rate server_cpu_us p50_us p99_us errors"
handshake_run() {
  local uri=$1 conns=$2 c0 c1 line out="$TMP/bench.out"
  c0=$(bench_cpu_ticks "$PID_RC")
  "${PIN_BENCH[@]}" "$BENCH" -q --handshakes -c "$conns" -w 0 --duration "$TIME" \
    --cafile "$CERT" "$uri" >"$out" 2>&1
  c1=$(bench_cpu_ticks "$PID_RC")
  line=$(grep '^RESULT' "$out" | tail -n 1)
  [ -n "$line" ] || { echo "0 0 0 0 fail"; return; }
  local n rate
  n=$(bench_field requests "$line"); rate=$(bench_field rps "$line")
  echo "$rate $(bench_cpu_us "($c1 - $c0)" "$n") $(bench_field p50_us "$line")" \
    "$(bench_field p99_us "$line") $(bench_field errors "$line")"
}

echo "full TLS handshakes per second: rcoapd vs openssl s_server (same cert/key), 127.0.0.1"
echo "${TIME}s per measurement; $pinning; $(openssl version)"
echo "$(bench_machine), load $(cut -d' ' -f1-3 /proc/loadavg)"
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
row "rcoap-bench --handshakes -c 1 -> rcoapd coaps+tcp" "$(handshake_run "$U_TLS" 1)"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coaps+tcp" "$(handshake_run "$U_TLS" "$PAR")"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coaps+ws" "$(handshake_run "$U_WSS" "$PAR")"
row "rcoap-bench --handshakes -c $PAR -> rcoapd coap+tcp" "$(handshake_run "$U_TCP" "$PAR")"
bench_alive "$PID_RC" rcoapd "$TMP/rcoapd.out"
bench_alive "$PID_SS" s_server "$TMP/s_server.log"

echo
printf '| %-52s | %8s | %12s | %s |\n' "client -> server" "per s" "server CPU" "cycle p50 / p99"
printf '| %-52s | %8s | %12s | %s |\n' "$(bench_dashes 52)" -------- ------------ ---------------
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${RESULTS[@]}"
