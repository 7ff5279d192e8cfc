#!/usr/bin/env bash
# A Release that is acted on (RFC 8323 §5.5), checked on the wire with
# tshark on lo while an observation of /sensors/temp (one notification a
# second) meets rcoapd's SIGTERM:
#  1. rcoap observe -> rcoapd A started with --release-to B --hold-off 5:
#     A sends 7.04 Release with Alternative-Address, then no notification;
#     rcoap closes the released connection (FIN both ways, A exits without
#     its shutdown timeout) and re-registers at B at once (the Hold-Off is
#     about A, not B).
#  2. rcoap observe -> rcoapd A with --hold-off 2, restarted on the same
#     port: the new registration comes not before the Hold-Off and the
#     notifications go on within Hold-Off + margin.
#  3. libcoap's coap-client-notls -s observing rcoapd: Release, then no
#     notification, and the connection ends with FIN.
#  4. A raw peer that ignores the Release: after the shutdown timeout
#     rcoapd closes with FIN.
# In every capture: no RST at all, and rcoap never says "connection
# reset". Sections 1 and 2 end when rcoap observe's --duration runs out:
# their last checks (end1, end2) come after section 4, so that the
# sections run while those observations run out. Without tshark (or capture rights on lo) or libcoap's client the
# test is skipped (exit 77); with CI=true that is a failure.
# Usage: bash test_release_observe.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

command -v tshark >/dev/null || rc_skip "tshark is not installed"
command -v coap-client-notls >/dev/null ||
  rc_skip "coap-client-notls is not installed (libcoap3-bin)"
# How long a move may take beyond the Hold-Off on a loaded machine.
MARGIN=$((2 * RC_SLOW))

# cap_start NAME FILTER: capture on lo into $RC_TMP/NAME.pcapng and
# dissect each packet as it comes (one pass, every port in DEC as CoAP):
# $RC_TMP/NAME.out gets a line per frame with the fields the checks read
# (tab-separated, in this order; repeated fields comma-separated):
# frame.number time tcp.stream srcport dstport fin reset coap.code
# coap.opt.observe tcp.payload. Every check below reads that text; no
# capture is read back.
cap_start() {
  rcd_start_cmd "$1" 1 "Capture started" \
    tshark -i lo -f "$2" -a duration:$((90 * RC_SLOW)) -w "$RC_TMP/$1.pcapng" \
    "${DEC[@]}" -P -l -T fields -e frame.number -e frame.time_epoch -e tcp.stream \
    -e tcp.srcport -e tcp.dstport -e tcp.flags.fin -e tcp.flags.reset \
    -e coap.code -e coap.opt.observe -e tcp.payload
  if ! rcd_alive "$1" || ! grep -q "Capture started" "$RC_TMP/$1.err"; then
    kill -TERM "$(rcd_pid "$1")" 2>/dev/null
    # A field this tshark does not know is the test's fault, not a skip.
    grep -q "fields aren't valid" "$RC_TMP/$1.err" &&
      { rc_fail "tshark: $(tr '\n\t' '  ' <"$RC_TMP/$1.err")"; rc_done; }
    rc_skip "tshark cannot capture on lo here: $(grep -v 'could be dangerous' "$RC_TMP/$1.err" | head -n 3 | tr '\n' ' ')"
  fi
}
# sel NAME COND [COLUMN]: the frames of capture NAME for which the awk
# condition COND holds, whole lines or COLUMN (2: time, 3: tcp.stream,
# 10: tcp.payload). COND names the fields t (frame.time_epoch), st
# (tcp.stream), sp, dp (ports), fin, rst, code, obs (coap.code and
# coap.opt.observe, every value in the frame); has(code, V) is true when
# one of the frame's CoAP messages has V, like tshark's "coap.code == V";
# a frame with CoAP has a code.
sel() {
  awk -F '\t' -v col="${3:-0}" '
    function has(f, v, n, a, i) {
      n = split(f, a, ",")
      for (i = 1; i <= n; i++) if (a[i] != "" && a[i] + 0 == v + 0) return 1
      return 0
    }
    { t = $2; st = $3; sp = $4; dp = $5; fin = $6; rst = $7; code = $8; obs = $9 }
    '"$2"' { print $col }' "$RC_TMP/$1.out"
}
# cap_stop NAME PORT N: waits until N FINs from PORT were seen (bounded),
# then stops the capture.
cap_stop() {
  local i
  for i in $(seq 1 $((200 * RC_SLOW))); do
    [ "$(sel "$1" "sp == $2 && fin == 1" | wc -l)" -ge "$3" ] && break
    sleep 0.1
  done
  # SIGTERM: a background job of a script ignores SIGINT.
  kill -TERM "$(rcd_pid "$1")" 2>/dev/null
  rcd_wait_exit "$1" 10
}
# first_time NAME COND / last_time NAME COND: frame.time_epoch.
first_time() { sel "$1" "$2" 2 | head -n 1; }
last_time() { sel "$1" "$2" 2 | tail -n 1; }
# le A B: A <= B for decimal seconds.
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 <= b + 0) }'; }
# hex STRING: its bytes in hex, as tshark prints tcp.payload.
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# add A B: A + B, printed in full (awk's default would round an epoch).
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

# check_release NAME PORT: the Release from PORT, nothing more from the
# server on that TCP connection but its FIN, no RST anywhere in the
# capture. Sets TREL (its time) and SREL (its tcp.stream).
check_release() {
  local name=$1 port=$2 late
  TREL=$(first_time "$name" "sp == $port && has(code, 228)")
  SREL=$(sel "$name" "sp == $port && has(code, 228)" 3 | head -n 1)
  [ -n "$TREL" ] && rc_pass "$name: rcoapd sent 7.04 Release" ||
    rc_fail "$name: no Release from port $port"
  late=$(sel "$name" "st == ${SREL:-0} && sp == $port && code != \"\" && t > ${TREL:-0}" | wc -l)
  rc_expect_eq "$late" 0 "$name: no CoAP message (no notification) from the released server after its Release"
  [ "$(sel "$name" "st == ${SREL:-0} && sp == $port && fin == 1" | wc -l)" -ge 1 ] &&
    rc_pass "$name: rcoapd closed the released connection with FIN" || rc_fail "$name: no FIN from rcoapd"
  rc_expect_eq "$(sel "$name" 'rst == 1' | wc -l)" 0 "$name: no RST in the capture"
}

# start_observe URI SECONDS NAME: rcoap observe URI for SECONDS in the
# background, output in $RC_TMP/NAME.out and NAME.err.
start_observe() {
  local bin
  bin=$(rc_tool rcoap)
  "$bin" observe --duration "$2" "$1" >"$RC_TMP/$3.out" 2>"$RC_TMP/$3.err" &
  OBS_PID=$!
}
# wait_lines FILE N: until FILE has N lines (bounded).
wait_lines() {
  local i
  for i in $(seq 1 $((150 * RC_SLOW))); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

end1() {
  echo "=== 1. (end) rcoap observe runs out at B"
  PA=${S1[0]} PB=${S1[1]} OBS_PID=${S1[2]}
  wait "$OBS_PID"
  rc_expect_status $? 0 "rcoap observe exits 0 at the end of --duration"
  cap_stop c1 "$PB" 1
  check_release c1 "$PA"
  # (Wireshark 4.0 does not decode signaling options: INTEROP-NOTES §2; the
  # Release's bytes are read instead: option 2, then the authority.)
  rc_expect "$(sel c1 "sp == $PA && has(code, 228)" 10)" \
    "$(hex "127.0.0.1:$PB")" "c1: the Release carries Alternative-Address 127.0.0.1:$PB"
  [ "$(sel c1 "dp == $PA && fin == 1" | wc -l)" -ge 1 ] &&
    rc_pass "c1: rcoap closed the released connection with FIN" ||
    rc_fail "c1: rcoap did not close the released connection"
  LASTA=$(last_time c1 "sp == $PA && has(code, 69)")
  REG=$(first_time c1 "dp == $PB && has(code, 1)")
  FIRSTB=$(first_time c1 "sp == $PB && has(code, 69)")
  echo "    last 2.05 from A $LASTA, Release $TREL, GET to B $REG, first 2.05 from B $FIRSTB"
  le "$TREL" "$REG" && rc_pass "c1: the registration at B follows the Release" ||
    rc_fail "c1: no registration at B after the Release"
  GAP=$(awk -v a="$FIRSTB" -v b="$LASTA" 'BEGIN { print a - b }')
  le "$FIRSTB" "$(add "$TREL" $MARGIN)" &&
    rc_pass "c1: notifications go on at B ${GAP}s after the last from A (at once + ${MARGIN}s margin)" ||
    rc_fail "c1: first notification from B at $FIRSTB, Release at $TREL"
  rc_expect_eq "$(sel c1 "dp == $PB && has(code, 1) && has(obs, 0)" | wc -l)" 1 "c1: one registration at B"
  OBSERR=$(cat "$RC_TMP/obs1.err")
  rc_expect_not "$OBSERR" "reset" "rcoap never reports a connection reset"
  rc_expect_not "$OBSERR" "interrupted" "rcoap reports no interruption: the observation moved"
  rcd_stop b
}

end2() {
  echo "=== 2. (end) rcoap observe runs out after the restart"
  PA=${S2[0]} OBS_PID=${S2[1]}
  wait "$OBS_PID"
  rc_expect_status $? 0 "rcoap observe exits 0 at the end of --duration"
  rcd_stop a2
  cap_stop c2 "$PA" 2
  check_release c2 "$PA"
  # Hold-Off: option 4 (delta 4, length 1), value 2, then the diagnostic.
  rc_expect "$(sel c2 "sp == $PA && has(code, 228)" 10)" \
    "e44102ff$(hex "server shutting down")" "c2: the Release carries Hold-Off $HOLD"
  # The GETs to the port: the first registration, then the one after the Release.
  REG=$(first_time c2 "dp == $PA && has(code, 1) && has(obs, 0) && t > $TREL")
  LASTA=$(last_time c2 "sp == $PA && has(code, 69) && t < $TREL")
  FIRST2=$(first_time c2 "st != $SREL && sp == $PA && has(code, 69)")
  echo "    last 2.05 before the Release $LASTA, Release $TREL, new GET $REG, next 2.05 $FIRST2"
  le "$(add "$TREL" $HOLD)" "$(add "$REG" 0.05)" &&
    rc_pass "c2: the new registration waits out the Hold-Off" ||
    rc_fail "c2: registration at $REG, Release at $TREL, Hold-Off $HOLD"
  le "$FIRST2" "$(add "$TREL" $((HOLD + MARGIN)))" &&
    rc_pass "c2: notifications go on $(awk -v a="$FIRST2" -v b="$LASTA" 'BEGIN { print a - b }')s after the last one (Hold-Off $HOLD + ${MARGIN}s margin)" ||
    rc_fail "c2: next notification at $FIRST2, Release at $TREL"
  [ "$(sel c2 "st == $SREL && dp == $PA && fin == 1 && t < ${REG:-0}" | wc -l)" -ge 1 ] &&
    rc_pass "c2: rcoap closed the released connection with FIN before reconnecting" ||
    rc_fail "c2: rcoap did not close the released connection"
  rc_expect_not "$(cat "$RC_TMP/obs2.err")" "reset" "rcoap never reports a connection reset"
}

echo "=== 1. rcoap observe, Release with Alternative-Address"
rcd_start b 1 -l coap+tcp://127.0.0.1:0 || { rc_fail "rcoapd B starts"; rc_done; }
PB=$(rcd_port b 127.0.0.1)
rcd_start a 1 -l coap+tcp://127.0.0.1:0 --release-to "127.0.0.1:$PB" --hold-off 5 ||
  { rc_fail "rcoapd A starts"; rc_done; }
PA=$(rcd_port a 127.0.0.1)
DEC=(-d "tcp.port==$PA,coap" -d "tcp.port==$PB,coap")
cap_start c1 "tcp port $PA or tcp port $PB"
start_observe "coap+tcp://127.0.0.1:$PA/sensors/temp" $((8 * RC_SLOW)) obs1
wait_lines "$RC_TMP/obs1.out" 2 || rc_fail "rcoap observe got 2 notifications from A"
T0=$(date +%s.%N)
kill -TERM "$(rcd_pid a)"
rcd_wait_exit a 10
rc_expect_status "$RCD_RC" 0 "rcoapd A exits 0 after SIGTERM"
echo "    rcoapd A stopped $(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { print a - b }')s after SIGTERM (shutdown timeout 3 s)"
rc_expect_not "$(cat "$RC_TMP/a.err")" "still open after the timeout" "A did not have to close a connection itself (rcoap closed it)"
N0=$(wc -l <"$RC_TMP/obs1.out")
wait_lines "$RC_TMP/obs1.out" $((N0 + 2)) || rc_fail "rcoap observe goes on at B"
# The observation runs to the end of its --duration: sections 2 to 4 run
# meanwhile, and end1 (after them) checks its exit and the capture.
S1=("$PA" "$PB" "$OBS_PID")

echo "=== 2. rcoap observe, Release with Hold-Off 2, same port after a restart"
HOLD=2
rcd_start a 1 -l coap+tcp://127.0.0.1:0 --hold-off $HOLD || { rc_fail "rcoapd A starts"; rc_done; }
PA=$(rcd_port a 127.0.0.1)
DEC=(-d "tcp.port==$PA,coap")
cap_start c2 "tcp port $PA"
start_observe "coap+tcp://127.0.0.1:$PA/sensors/temp" $((10 * RC_SLOW)) obs2
wait_lines "$RC_TMP/obs2.out" 2 || rc_fail "rcoap observe got 2 notifications"
kill -TERM "$(rcd_pid a)"
rcd_wait_exit a 10
rc_expect_status "$RCD_RC" 0 "rcoapd A exits 0 after SIGTERM"
rc_expect_not "$(cat "$RC_TMP/a.err")" "still open after the timeout" "A did not have to close a connection itself"
rcd_start a2 1 -l "coap+tcp://127.0.0.1:$PA" || { rc_fail "rcoapd A restarts on port $PA"; rc_done; }
N0=$(wc -l <"$RC_TMP/obs2.out")
wait_lines "$RC_TMP/obs2.out" $((N0 + 2)) || rc_fail "rcoap observe goes on after the restart"
# As in section 1: end2, after sections 3 and 4, finishes this one.
S2=("$PA" "$OBS_PID")

echo "=== 3. libcoap's coap-client observing rcoapd"
rcd_start a 1 -l coap+tcp://127.0.0.1:0 || { rc_fail "rcoapd starts"; rc_done; }
PA=$(rcd_port a 127.0.0.1)
DEC=(-d "tcp.port==$PA,coap")
cap_start c3 "tcp port $PA"
timeout $((20 * RC_SLOW)) coap-client-notls -s $((10 * RC_SLOW)) -m get \
  "coap+tcp://127.0.0.1:$PA/sensors/temp" >"$RC_TMP/lc.out" 2>"$RC_TMP/lc.err" &
LC_PID=$!
for i in $(seq 1 $((100 * RC_SLOW))); do
  [ "$(grep -o '[0-9][0-9]\.[0-9][0-9]' "$RC_TMP/lc.out" | wc -l)" -ge 2 ] && break
  sleep 0.1
done
kill -TERM "$(rcd_pid a)"
rcd_wait_exit a 10
rc_expect_status "$RCD_RC" 0 "rcoapd exits 0 after SIGTERM"
wait "$LC_PID"
cap_stop c3 "$PA" 1
check_release c3 "$PA"
rc_expect_eq "$(sel c3 "dp == $PA && has(code, 1) && has(obs, 0)" | wc -l)" 1 \
  "c3: libcoap registered once (it does not reconnect)"

echo "=== 4. a raw peer that ignores the Release"
rcd_start a 1 -l coap+tcp://127.0.0.1:0 || { rc_fail "rcoapd starts"; rc_done; }
PA=$(rcd_port a 127.0.0.1)
DEC=(-d "tcp.port==$PA,coap")
cap_start c4 "tcp port $PA"
# CSM, then GET /sensors/temp with Observe=0 (token ab), then read until
# rcoapd closes.
"${RC_RAWPEER[@]}" 127.0.0.1 "$PA" send:00e1 \
  send:d10101ab605773656e736f72730474656d70 expect:10 \
  drain:$((20 * RC_SLOW)) >"$RC_TMP/raw.out" 2>"$RC_TMP/raw.err" &
RAW_PID=$!
# Registered: the first 2.05 is in the capture.
for i in $(seq 1 $((200 * RC_SLOW))); do
  [ -n "$(first_time c4 "sp == $PA && has(code, 69)")" ] && break
  sleep 0.1
done
kill -TERM "$(rcd_pid a)"
rcd_wait_exit a 15
rc_expect_status "$RCD_RC" 0 "rcoapd exits 0 after SIGTERM"
rc_expect "$(cat "$RC_TMP/a.err")" "still open after the timeout" "rcoapd waited for the peer, then closed"
wait "$RAW_PID"
rc_expect "$(cat "$RC_TMP/raw.err")" "eof" "the raw peer saw an orderly end of stream"
cap_stop c4 "$PA" 1
check_release c4 "$PA"
end1
end2
rc_done
