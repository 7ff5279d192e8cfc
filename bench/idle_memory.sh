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
# Environment (defaults): N=10000, PORT_BASE=26683, CONNECT_INFLIGHT=4,
#   RCOAPD_PATH=/hello, LIBCOAP_PATH=/time, LIBCOAP_SERVER=coap-server-notls,
#   SETTLE=1 (seconds to wait before reading VmRSS).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$ROOT/build-bench}}
N=${N:-10000}
PORT_BASE=${PORT_BASE:-26683}
CONNECT_INFLIGHT=${CONNECT_INFLIGHT:-4}
RCOAPD_PATH=${RCOAPD_PATH:-/hello}
LIBCOAP_PATH=${LIBCOAP_PATH:-/time}
LIBCOAP_SERVER=${LIBCOAP_SERVER:-coap-server-notls}
SETTLE=${SETTLE:-1}

BENCH=$BUILD_DIR/rcoap-bench
RCOAPD=$BUILD_DIR/rcoapd
if [ ! -x "$BENCH" ] || [ ! -x "$RCOAPD" ]; then
  echo "== building rcoapd and rcoap-bench (Release) in $BUILD_DIR"
  { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF -DRCOAP_SANITIZE=OFF &&
    make -C "$BUILD_DIR" -j2 rcoapd rcoap-bench; } >"$BUILD_DIR.idle-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR.idle-build.log"; echo "idle_memory.sh: build failed"; exit 1; }
fi

# Both the servers and rcoap-bench need N descriptors and a few more.
want=$((N + 100))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "idle_memory.sh: open-files hard limit $hard < $want; lowering N to $((hard - 100))"
  N=$((hard - 100))
  want=$((N + 100))
fi
ulimit -n "$want" || { echo "idle_memory.sh: cannot raise ulimit -n to $want"; exit 1; }

TMP=$(mktemp -d /tmp/rcoap-idle.XXXXXX)
PIDS=()
stop_pid() {
  local p=$1
  kill -INT "$p" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  rm -rf "$TMP"
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
  local p=$1
  for _ in $(seq 1 50); do port_free "$p" && { echo "$p"; return; }; p=$((p + 1)); done
  echo "$p"
}
wait_listen() {
  for _ in $(seq 1 50); do port_free "$1" || return 0; sleep 0.1; done
  return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# measure NAME PATH CMD... -> prints a line and sets RES_<NAME>
measure() {
  local name=$1 path=$2 port=$3
  shift 3
  "$@" >"$TMP/$name.log" 2>&1 &
  local spid=$!
  PIDS+=("$spid")
  if ! wait_listen "$port"; then
    echo "$name: did not start: $(head -c 500 "$TMP/$name.log")"
    return 1
  fi
  local uri="coap+tcp://127.0.0.1:$port"
  # warm-up: a few connections come and go
  "$BENCH" -q -c 8 -p 1 -n 64 -m "GET $path" "$uri" >/dev/null 2>&1
  sleep "$SETTLE"
  local before after
  before=$(rss_kib "$spid")
  "$BENCH" --idle -c "$N" --connect-inflight "$CONNECT_INFLIGHT" \
    --connect-timeout 30 -m "GET $path" "$uri" >"$TMP/$name-bench.out" 2>&1 &
  local bpid=$!
  PIDS+=("$bpid")
  local ok=0 secs=0
  for _ in $(seq 1 1800); do # at most 180 s
    if grep -q '^IDLE' "$TMP/$name-bench.out"; then ok=1; break; fi
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ $ok != 1 ]; then
    echo "$name: rcoap-bench --idle did not finish: $(tail -n 3 "$TMP/$name-bench.out")"
    stop_pid "$bpid"
    return 1
  fi
  local line est
  line=$(grep '^IDLE' "$TMP/$name-bench.out")
  est=$(sed -E 's/.*established=([0-9]+).*/\1/' <<<"$line")
  secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  sleep "$SETTLE"
  after=$(rss_kib "$spid")
  local per=0
  [ "$est" -gt 0 ] && per=$(((after - before) * 1024 / est))
  printf '%-18s %6d connections in %6.1f s  VmRSS %7d KiB -> %7d KiB  %6d bytes/connection\n' \
    "$name" "$est" "$secs" "$before" "$after" "$per"
  echo "RESULT idle server=$name connections=$est rss_before_kib=$before rss_after_kib=$after bytes_per_conn=$per" >>"$TMP/results"
  stop_pid "$bpid"
  stop_pid "$spid"
}

echo "idle coap+tcp connections on 127.0.0.1: N=$N, CSM + one request each, then idle"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
P1=$(pick_port "$PORT_BASE")
measure rcoapd "$RCOAPD_PATH" "$P1" "$RCOAPD" -q -l "coap+tcp://127.0.0.1:$P1"
P2=$(pick_port $((P1 + 1)))
measure "$LIBCOAP_SERVER" "$LIBCOAP_PATH" "$P2" "$LIBCOAP_SERVER" -A 127.0.0.1 -p "$P2"
echo
[ -f "$TMP/results" ] && cat "$TMP/results"
