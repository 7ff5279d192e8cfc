#!/usr/bin/env bash
# Server memory per idle connection, rcoapd against libcoap's
# coap-server-notls, in one run. For each server: start it on a loopback
# port, open and close a few connections (so one-time allocations are out of
# the figure), read its VmRSS, have rcoap-bench --idle (a separate process:
# the open-files hard limit here is 20,000 per process) open N coap+tcp
# connections that each do the CSM exchange and one request and then stay
# idle, read VmRSS again, and print (RSS delta) / N. Connections are opened
# at most CONNECT_INFLIGHT at a time (libcoap listens with a backlog of 5).
# Only the server's user memory is counted: the kernel's socket buffers
# (~8.5 KiB per connection, both ends) are not in VmRSS.
#
#   bash bench/idle_memory.sh [BUILD_DIR]
#   SCHEME=coaps+tcp N=2000 REF_BUILD_DIR=../old/build bash bench/idle_memory.sh
# Environment (defaults): N=10000, PORT_BASE=26683, CONNECT_INFLIGHT=4,
#   RCOAPD_PATH=/hello, LIBCOAP_PATH=/time, LIBCOAP_SERVER=coap-server-notls,
#   SETTLE=3 (seconds to wait before reading VmRSS), SCHEME=coap+tcp
#   (coaps+tcp: TLS 1.3 with a test PKI, ALPN coap; libcoap's server is
#   then LIBCOAP_TLS_SERVER=coap-server-openssl with the same certificate,
#   its coaps+tcp port being its -p port + 1), REF_BUILD_DIR (another build, e.g. the previous
#   commit's, whose rcoapd is measured right after this one's, in the same
#   run: the comparison to read), RCOAPD_ARGS (more arguments for this
#   build's rcoapd only, e.g. "--park-after 0.5"; REF_RCOAPD_ARGS the same
#   for REF_BUILD_DIR's, default none; rcoapd parks an idle
#   coap+tcp connection after --park-after, default 2 s, so SETTLE must be
#   longer than that for the parked figure: SETTLE=3 is the default).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${N:=10000}" "${PORT_BASE:=26683}" "${CONNECT_INFLIGHT:=4}" "${SETTLE:=3}"
: "${RCOAPD_PATH:=/hello}" "${LIBCOAP_PATH:=/time}" "${LIBCOAP_SERVER:=coap-server-notls}"
: "${SCHEME:=coap+tcp}" "${REF_BUILD_DIR:=}" "${RCOAPD_ARGS:=}" "${LIBCOAP_TLS_SERVER:=coap-server-openssl}"
: "${REF_RCOAPD_ARGS:=}"
case $SCHEME in coap+tcp | coaps+tcp) ;; *) bench_fail "SCHEME must be coap+tcp or coaps+tcp" ;; esac

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench

# Both the servers and rcoap-bench need N descriptors and a few more.
want=$((N + 100))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "idle_memory.sh: open-files hard limit $hard < $want; lowering N to $((hard - 100))"
  N=$((hard - 100))
  want=$((N + 100))
fi
ulimit -n "$want" || bench_fail "cannot raise ulimit -n to $want"

bench_tmp idle

# TLS: a test PKI; rcoapd gets its certificate, rcoap-bench the CA.
RC_TLS_ARGS=() BENCH_TLS_ARGS=()
if [ "$SCHEME" = coaps+tcp ]; then
  bash "$ROOT/tests/certs/gen.sh" "$TMP/pki" >/dev/null || bench_fail "PKI failed"
  RC_TLS_ARGS=(--cert "$TMP/pki/server.crt" --key "$TMP/pki/server.key" --state-dir "$TMP/state")
  BENCH_TLS_ARGS=(--cafile "$TMP/pki/ca.crt")
fi

# measure NAME PATH PORT SERVER_PID SCHEME: prints a line and adds a RESULT line to
# TMP/results; stops the server
measure() {
  local name=$1 path=$2 port=$3 spid=$4
  local uri="$5://127.0.0.1:$port"
  # warm-up: a few connections come and go
  "$BENCH" -q -c 8 -p 1 -n 64 "${BENCH_TLS_ARGS[@]}" -m "GET $path" "$uri" >/dev/null 2>&1
  sleep "$SETTLE"
  local before after
  before=$(bench_rss_kib "$spid")
  "$BENCH" --idle -c "$N" --connect-inflight "$CONNECT_INFLIGHT" \
    "${BENCH_TLS_ARGS[@]}" --connect-timeout 30 -m "GET $path" "$uri" >"$TMP/$name-bench.out" 2>&1 &
  local bpid=$!
  bench_track "$bpid"
  local ok=0 secs=0
  for _ in $(seq 1 1800); do # at most 180 s
    if grep -q '^IDLE' "$TMP/$name-bench.out"; then ok=1; break; fi
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ $ok != 1 ]; then
    echo "$name: rcoap-bench --idle did not finish: $(tail -n 3 "$TMP/$name-bench.out")"
    bench_stop "$bpid" "$spid"
    return 1
  fi
  local line est
  line=$(grep '^IDLE' "$TMP/$name-bench.out")
  est=$(sed -E 's/.*established=([0-9]+).*/\1/' <<<"$line")
  secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  sleep "$SETTLE"
  after=$(bench_rss_kib "$spid")
  local per=0
  [ "$est" -gt 0 ] && per=$(((after - before) * 1024 / est))
  printf '%-18s %6d connections in %6.1f s  VmRSS %7d KiB -> %7d KiB  %6d bytes/connection\n' \
    "$name" "$est" "$secs" "$before" "$after" "$per"
  echo "RESULT idle scheme=$5 server=$name connections=$est rss_before_kib=$before rss_after_kib=$after bytes_per_conn=$per" >>"$TMP/results"
  bench_stop "$bpid" "$spid"
}

echo "idle $SCHEME connections on 127.0.0.1: N=$N, CSM + one request each, then idle"
bench_machine
P1=$(bench_pick_port "$PORT_BASE")
# shellcheck disable=SC2086 # RCOAPD_ARGS: words
bench_start_rcoapd -q -l "$SCHEME://127.0.0.1:$P1" "${RC_TLS_ARGS[@]}" $RCOAPD_ARGS &&
  measure rcoapd "$RCOAPD_PATH" "$P1" "$RCOAPD_PID" "$SCHEME"
if [ -n "$REF_BUILD_DIR" ]; then
  [ -x "$REF_BUILD_DIR/rcoapd" ] || bench_fail "no rcoapd in REF_BUILD_DIR=$REF_BUILD_DIR"
  P3=$(bench_pick_port $((P1 + 2)))
  # shellcheck disable=SC2086 # REF_RCOAPD_ARGS: words
  BUILD_DIR=$REF_BUILD_DIR bench_start_rcoapd -q -l "$SCHEME://127.0.0.1:$P3" "${RC_TLS_ARGS[@]}" $REF_RCOAPD_ARGS &&
    measure rcoapd-ref "$RCOAPD_PATH" "$P3" "$RCOAPD_PID" "$SCHEME"
fi
if [ "$SCHEME" = coap+tcp ]; then
  P2=$(bench_pick_port $((P1 + 1)))
  bench_start_libcoap "$LIBCOAP_SERVER" "$P2" &&
    measure "$LIBCOAP_SERVER" "$LIBCOAP_PATH" "$P2" "$LIBCOAP_PID" "$SCHEME"
elif command -v "$LIBCOAP_TLS_SERVER" >/dev/null; then
  # libcoap listens for coaps+tcp on its -p port + 1
  P2=$(bench_pick_port $((P1 + 4)))
  "$LIBCOAP_TLS_SERVER" -A 127.0.0.1 -p "$P2" -c "$TMP/pki/server.crt" \
    -j "$TMP/pki/server.key" >"$TMP/libcoap.log" 2>&1 &
  LIBCOAP_PID=$!
  bench_track "$LIBCOAP_PID"
  if bench_wait_listen $((P2 + 1)); then
    measure "$LIBCOAP_TLS_SERVER" "$LIBCOAP_PATH" $((P2 + 1)) "$LIBCOAP_PID" "$SCHEME"
  else
    echo "$LIBCOAP_TLS_SERVER did not start: $(head -c 300 "$TMP/libcoap.log")"
  fi
fi
echo
[ -f "$TMP/results" ] && cat "$TMP/results"
