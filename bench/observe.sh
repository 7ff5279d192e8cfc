#!/usr/bin/env bash
# Observe fan-out benchmark, in one run: the time from a trigger request
# (the server calls its notify at once) until every observer has the
# notification, measured by rcoap-obsbench (all clients in one process on
# rcoap's client stack; the same client for both servers).
#   rcoapd:   POST /counter notifies GET /counter's observers
#   libcoap:  PUT /example_data notifies its observers (coap-server-notls)
# Configurations: CONNS connections x PER observations each (different
# tokens on one connection, RFC 7641 §4.1), and CONNS x 1. libcoap 4.3.1
# keeps one observation per connection and resource, so in the first
# configuration only CONNS of its observers are notified (reported as
# such). Target for rcoapd: 10,000 observers over 1,000 connections in
# <= 50 ms. Nothing is asserted: a benchmark is not a test.
#   bash bench/observe.sh [BUILD_DIR]
# Environment (defaults): CONNS=1000 PER=10 ROUNDS=10 PORT_BASE=26300
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${CONNS:=1000}" "${PER:=10}" "${ROUNDS:=10}" "${PORT_BASE:=26300}"
OB=$BUILD_DIR/rcoap-obsbench
bench_need rcoapd rcoap-obsbench
bench_tmp observe

RP=$PORT_BASE
LP=$((PORT_BASE + 1))
bench_start_rcoapd -q -l "coap+tcp://127.0.0.1:$RP" --state-dir "$TMP/state" || exit 1
HAVE_LIBCOAP=0
if command -v coap-server-notls >/dev/null &&
  bench_start_libcoap coap-server-notls "$LP"; then
  HAVE_LIBCOAP=1
fi

run() { # NAME OBS_URI METHOD TRIGGER_URI CONNS PER
  local line
  line=$(timeout 600 "$OB" "$2" "$3" "$4" "$5" "$6" "$ROUNDS" 2>&1 | tee "$TMP/$1.log" | grep RESULT)
  if [ -n "$line" ]; then
    printf '  %-34s %6s obs  median %8s ms  max %8s ms\n' "$1 ($5 x $6)" \
      "$(bench_field observers "$line")" "$(bench_field median_ms "$line")" \
      "$(bench_field max_ms "$line")"
  else
    printf '  %-34s %s\n' "$1 ($5 x $6)" "$(grep -m1 -E 'only [0-9]+ of|rcoap-obsbench' "$TMP/$1.log")"
  fi
}
echo "observe fan-out: trigger -> every observer notified (median of $ROUNDS)"
run rcoapd "coap+tcp://127.0.0.1:$RP/counter" post "coap+tcp://127.0.0.1:$RP/counter" "$CONNS" "$PER"
[ "$HAVE_LIBCOAP" = 1 ] &&
  run libcoap "coap+tcp://127.0.0.1:$LP/example_data" put "coap+tcp://127.0.0.1:$LP/example_data" "$CONNS" "$PER"
run rcoapd-1 "coap+tcp://127.0.0.1:$RP/counter" post "coap+tcp://127.0.0.1:$RP/counter" "$CONNS" 1
[ "$HAVE_LIBCOAP" = 1 ] &&
  run libcoap-1 "coap+tcp://127.0.0.1:$LP/example_data" put "coap+tcp://127.0.0.1:$LP/example_data" "$CONNS" 1
exit 0
