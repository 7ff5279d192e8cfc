#!/usr/bin/env bash
# The proxy, in one run (rcoapd --route /r=UPSTREAM/...: a reverse route
# takes the same forwarding path as Proxy-Uri, and rcoap-bench needs no
# extra option for it):
#   cache:   rcoap-bench GET /r/hello through a proxy with its cache (every
#            answer after the first from the cache) and through one with
#            --proxy-cache 0 (every request upstream); req/s and the ratio.
#   observe: rcoap-bench --observe registers CONNS x PER observations of /c on
#            the proxy (one upstream observation of /counter) and POSTs to
#            the upstream's /counter; the time until every downstream
#            observer has the notification, beside the same observers on
#            the upstream directly (the ratio: what the relay costs).
# Nothing is asserted: a benchmark is not a test.
#   bash bench/proxy.sh [BUILD_DIR]
# Environment (defaults): CONNS=1000 PER=10 ROUNDS=10 DURATION=5 BCONNS=50
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${CONNS:=1000}" "${PER:=10}" "${ROUNDS:=10}" "${DURATION:=5}" "${BCONNS:=50}"
bench_need rcoapd rcoap-bench
bench_tmp proxy

# start NAME ARG...: an rcoapd with one coap+tcp listener on a free port;
# its URI in URI_OF[NAME].
declare -A URI_OF=()
start() {
  local name=$1 u
  shift
  "$BUILD_DIR/rcoapd" -q -l coap+tcp://127.0.0.1:0 --state-dir "$TMP/st-$name" \
    "$@" >"$TMP/$name.out" 2>&1 &
  bench_track $!
  for _ in $(seq 1 100); do
    u=$(grep -o 'listening on coap+tcp://127\.0\.0\.1:[0-9]*' "$TMP/$name.out" |
      head -n 1 | sed 's/^listening on //')
    [ -n "$u" ] && { URI_OF[$name]=$u; return 0; }
    sleep 0.1
  done
  cat "$TMP/$name.out"
  echo "proxy bench: $name did not start"
  exit 1
}
start up
UP=${URI_OF[up]}
start cached --route "/r=$UP" --route "/c=$UP/counter"
start nocache --proxy-cache 0 --route "/r=$UP"

rps() { # URI: req/s of GET through it
  "$BUILD_DIR/rcoap-bench" -q -c "$BCONNS" --duration "$DURATION" "$1" 2>&1 |
    grep RESULT | sed 's/.*rps=\([0-9.]*\).*/\1/'
}
echo "proxy cache: GET /hello through a reverse route, $BCONNS connections"
HIT=$(rps "${URI_OF[cached]}/r/hello")
MISS=$(rps "${URI_OF[nocache]}/r/hello")
DIRECT=$(rps "$UP/hello")
printf '  %-34s %10s req/s\n' "cache hit (proxy answers)" "$HIT" \
  "cache off (every GET upstream)" "$MISS" "upstream directly" "$DIRECT"
if [ -n "$HIT" ] && [ -n "$MISS" ]; then
  echo "RESULT proxy_cache hit_rps=$HIT miss_rps=$MISS ratio=$(awk -v a="$HIT" -v b="$MISS" 'BEGIN{printf "%.2f", b ? a/b : 0}')"
fi

fanout() { # NAME OBS_URI: median / max ms until every observer is notified
  local line
  line=$(timeout 600 "$BUILD_DIR/rcoap-bench" --observe -c "$CONNS" --per "$PER" \
    --rounds "$ROUNDS" -T 10 --trigger post --trigger-uri "$UP/counter" "$2" \
    2>&1 | tee "$TMP/$1.log" | grep RESULT)
  if [ -n "$line" ]; then
    printf '  %-34s %6s obs  median %8s ms  max %8s ms\n' "$1 ($CONNS x $PER)" \
      "$(bench_field observers "$line")" "$(bench_field p50_ms "$line")" \
      "$(bench_field max_ms "$line")"
    bench_field p50_ms "$line"
  else
    printf '  %-34s %s\n' "$1" "$(tail -n 1 "$TMP/$1.log")" >&2
  fi
}
echo "observe fan-out through the proxy: trigger -> every observer notified (median of $ROUNDS)"
P=$(fanout proxied "${URI_OF[cached]}/c")
printf '%s\n' "$P" | head -n 1
D=$(fanout direct "$UP/counter")
printf '%s\n' "$D" | head -n 1
PM=$(printf '%s\n' "$P" | tail -n 1)
DM=$(printf '%s\n' "$D" | tail -n 1)
if [ -n "$PM" ] && [ -n "$DM" ]; then
  echo "RESULT proxy_observe observers=$((CONNS * PER)) proxied_median_ms=$PM direct_median_ms=$DM ratio=$(awk -v a="$PM" -v b="$DM" 'BEGIN{printf "%.2f", b ? a/b : 0}')"
fi
exit 0
