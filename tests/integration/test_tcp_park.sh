#!/usr/bin/env bash
# rcoapd parks an idle coap+tcp connection and wakes it, with real
# processes: a raw TCP peer (lib/rawpeer.py) exchanges CSMs with
# `rcoapd -v --park-after 0.2`, asks GET /hello, waits until rcoapd logs
# the connection parked, asks again (it is woken and answers), waits for
# the next park, sends a Ping (Pong back), and stays parked while rcoapd
# gets SIGTERM: the Release (RFC 8323 §5.5) still goes out and rcoapd
# exits 0. Over the whole connection rcoapd sent one CSM (RFC 8323 §3.3:
# the peer cannot tell that the session was rebuilt). A parked connection
# has left libuv (its socket is a dup kept in the loop's epoll set):
# rcoapd's open descriptors are the same after the third park as after
# the first, one socket and the parking set more than before the peer.
# Usage: bash test_tcp_park.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

CSM=00e1                      # 7.01 CSM, no options
GET1=610143b568656c6c6f       # GET tok=43 Uri-Path "hello"
GET2=610144b568656c6c6f       # the same, tok=44
PING=01e2aa                   # 7.02 Ping tok=aa

rcd_start d 1 -v --park-after 0.2 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1)
LOG=$RC_TMP/d.err
PID=$(rcd_pid d)
# rcoapd's open descriptors, the least of a few looks (a park holds the
# dup and the old fd together for a moment)
fds() {
  local n min=
  for _ in 1 2 3 4 5; do
    n=$(ls "/proc/$PID/fd" 2>/dev/null | wc -l)
    [ -z "$min" ] || [ "$n" -lt "$min" ] && min=$n
    sleep 0.05
  done
  echo "$min"
}
FD0=$(fds)
T=$((10 * RC_SLOW))
rc_pass "rcoapd -v --park-after 0.2 listens on coap+tcp://127.0.0.1:$P"

"${RC_RAWPEER[@]}" 127.0.0.1 "$P" send:$CSM expect:7 send:$GET1 \
  "awaitlog:$LOG|{port}: parked|1|$T" send:$GET2 \
  "awaitlog:$LOG|{port}: woken|1|$T" "awaitlog:$LOG|{port}: parked|2|$T" \
  send:$PING "awaitlog:$LOG|{port}: parked|3|$T" \
  "awaitlog:$LOG|SIGTERM|1|$T" drain:$((3 * RC_SLOW)) close \
  >"$RC_TMP/raw.out" 2>"$RC_TMP/raw.err" &
RAWPID=$!
# wait_parks N: until rcoapd has logged N parks (or the peer is gone)
wait_parks() {
  for _ in $(seq 1 $((100 * RC_SLOW))); do
    [ "$(grep -c ': parked' "$LOG")" -ge "$1" ] && break
    kill -0 $RAWPID 2>/dev/null || break
    sleep 0.1
  done
}
wait_parks 1
FD1=$(fds)
wait_parks 3
FD3=$(fds)
if [ "$FD1" -eq $((FD0 + 2)) ] && [ "$FD3" -eq "$FD1" ]; then
  rc_pass "descriptors: $FD0 before the peer, $FD1 after the first park, $FD3 after the third"
else
  rc_fail "descriptors: $FD0 before the peer, $FD1 after the first park (want $((FD0 + 2))), $FD3 after the third (want $FD1)"
fi
# A slow run (valgrind) may park once more, between the CSM and the first
# GET: counted as at least, and parked once more than woken.
parked=$(grep -c ': parked' "$LOG") woken=$(grep -c ': woken' "$LOG")
if [ "$parked" -ge 3 ] && [ "$woken" -ge 2 ] && [ $((parked - woken)) -eq 1 ]; then
  rc_pass "rcoapd parked the connection $parked times (after the GET, the second GET, the Ping) and woke it $woken times"
else
  rc_fail "parked $parked times, woken $woken times: $(grep -E ': (parked|woken)' "$LOG")"
fi
rcd_stop d
RAWST=0
wait $RAWPID || RAWST=$?
rc_expect_status "$RAWST" 0 "raw peer: every step done"
RAW=$(cat "$RC_TMP/raw.out")
DEC=$(rc_run rcoap-decode --stream "$RAW" 2>&1)
echo "$DEC"
rc_expect "$(grep -c '7.01 CSM' <<<"$DEC")" 1 "one CSM from rcoapd over the whole connection"
rc_expect "$(grep -c '2.05 Content' <<<"$DEC")" 2 "both GETs answered 2.05"
rc_expect "$DEC" "7.03 Pong" "the Ping to the parked connection got its Pong"
rc_expect "$DEC" "7.04 Release" "the parked connection got the shutdown's Release"
rc_expect "$(grep -c 'Hello, world!' <<<"$DEC")" 2 "both answers carry the body"
rc_done
