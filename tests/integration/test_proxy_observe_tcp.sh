#!/usr/bin/env bash
# Observe through rcoapd's proxy across transports (RFC 7641 §5), with an
# rcoapd origin on coap+tcp (/counter: POST adds one and notifies):
#  - three observers, over coap+ws, coap:// (UDP) and coap+tcp, of the
#    same Proxy-Uri share one upstream registration (the origin's -v log)
#    and each gets every notification in its own transport;
#  - a fourth observer arriving later gets the current value at once,
#    without a new upstream request, and so does a plain GET;
#  - an observer of a silent UDP origin gets 5.04 after --proxy-timeout;
#  - the origin killed (SIGKILL): while it is down the relay tries to
#    register again at the pace of --proxy-backoff 100,200 (several tries
#    a second, not rc_observe's default 1 s doubling to 30 s); restarted
#    on its port: the proxy registers again and the observers, still
#    registered, get the restarted origin's notifications.
# Usage: bash test_proxy_observe_tcp.sh BUILD_DIR  (RCOAP_VALGRIND=1: memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

UPP=$(rcd_free_port)
rcd_start up 1 -v -l "coap+tcp://127.0.0.1:$UPP" || {
  rc_fail "origin rcoapd starts"
  rc_done
}
UP=coap+tcp://127.0.0.1:$UPP
rcd_start px 3 -v --proxy --proxy-allow 'coap+tcp://127.0.0.1:*' \
  --proxy-allow 'coap://127.0.0.1:*' --proxy-timeout $((1500 * RC_SLOW)) \
  --proxy-backoff 100,200 -l coap+ws://127.0.0.1:0 -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
PX=("coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)"
  "coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)"
  "coap+tcp://127.0.0.1:$(rcd_port px 127.0.0.1)")
RCOAP=$(rc_tool rcoap)
regs() { grep -c 'GET .*Observe:0.*Uri-Path:"counter"' "$RC_TMP/$1.err"; }
lines() { wc -l <"$RC_TMP/o$1.out"; }
wait_lines() { # MIN OBSERVER...: until each has MIN lines (bounded)
  local min=$1 i ok
  shift
  for _ in $(seq 1 $((100 * RC_SLOW))); do
    ok=1
    for i in "$@"; do [ "$(lines "$i")" -ge "$min" ] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  return 1
}
PIDS=()
observe() { # N PROXY_URI
  timeout $((60 * RC_SLOW)) "$RCOAP" -T $RC_TMO observe -O "35,$UP/counter" "$2/" \
    >"$RC_TMP/o$1.out" 2>"$RC_TMP/o$1.err" &
  PIDS+=($!)
}
trap 'kill "${PIDS[@]}" 2>/dev/null; rcd_cleanup; rm -rf "$RC_TMP"' EXIT
# (the first POST under memcheck in the valgrind pass, the rest natively:
# the subject here is rcoapd --proxy; RC_NATIVE_TOOLS, scripts/testlib.sh)
post() { coap -T $RC_TMO post "$UP/counter"; RC_NATIVE_TOOLS=rcoap; }

echo "=== three transports, one upstream registration"
observe 1 "${PX[0]}"
observe 2 "${PX[1]}"
observe 3 "${PX[2]}"
wait_lines 1 1 2 3 || rc_fail "every observer got its first answer"
rc_expect_eq "$(regs up)" 1 "the origin saw one registration for three observers"
post
wait_lines 2 1 2 3 || rc_fail "a notification reaches every observer"
for i in 1 2 3; do
  rc_expect_re "$(tail -n 1 "$RC_TMP/o$i.out")" ' 2\.05 1$' \
    "observer $i (${PX[i - 1]%%:*}) gets the notification '1'"
done
observe 4 "${PX[0]}"
wait_lines 1 4 || rc_fail "a late observer gets an answer"
rc_expect_re "$(head -n 1 "$RC_TMP/o4.out")" ' 2\.05 1$' "a late observer gets the current value at once"
rc_expect_eq "$(regs up)" 1 "without a new upstream registration"
coap -T $RC_TMO get -O "35,$UP/counter" "${PX[2]}/"
rc_expect_eq "$OUT" 1 "a plain GET of the observed target gets the current value"
rc_expect_eq "$(grep 'GET .*Uri-Path:"counter"' "$RC_TMP/up.err" | grep -vc Observe)" 0 \
  "from the relay's last notification, not from the origin"

echo "=== a silent origin"
/usr/bin/python3 -c 'import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$RC_TMP/silent.port" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$RC_TMP/silent.port" ] && break; sleep 0.1; done
SILENT=coap://127.0.0.1:$(head -n 1 "$RC_TMP/silent.port")
coap -T $((10 * RC_SLOW)) observe --count 1 -O "35,$SILENT/x" "${PX[0]}/"
rc_expect "$OUT$ERR" "5.04" "an observer of a silent origin gets 5.04 after the proxy timeout"
rc_expect "$OUT$ERR" "timed out" "with a diagnostic"

echo "=== the origin killed and restarted"
rcd_kill up
# The relay's tries while the origin is down (its -v log: one line each).
tries() { grep -c "observation of $UP/counter lost" "$RC_TMP/px.err"; }
T0=$(tries)
for _ in $(seq 1 $((30 * RC_SLOW))); do [ "$(tries)" -ge $((T0 + 5)) ] && break; sleep 0.1; done
# With rc_observe's default back-off five tries take 1+2+4+8 s and more.
rc_expect_re "$(($(tries) - T0))" "^([5-9]|[1-9][0-9]+)$" \
  "the relay tried again five times within $((3 * RC_SLOW)) s (--proxy-backoff 100,200)"
rcd_start up2 1 -v -l "coap+tcp://127.0.0.1:$UPP" || {
  rc_fail "origin rcoapd restarts"
  rc_done
}
for _ in $(seq 1 $((100 * RC_SLOW))); do [ "$(regs up2)" -ge 1 ] && break; sleep 0.1; done
rc_expect_eq "$(regs up2)" 1 "the proxy registered again at the restarted origin, once"
B=()
for i in 1 2 3 4; do B[i]=$(lines "$i"); done
post
ok=1
for _ in $(seq 1 $((100 * RC_SLOW))); do
  ok=1
  for i in 1 2 3 4; do [ "$(lines "$i")" -gt "${B[i]}" ] || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.1
done
rc_expect_eq "$ok" 1 "all four observers get the restarted origin's notification"
rc_expect_re "$(tail -n 1 "$RC_TMP/o1.out")" ' 2\.05 1$' "its counter (restarted at 0, one POST)"
# The proxy stops with its relay and observers still there.
rcd_stop px
kill "${PIDS[@]}" 2>/dev/null
wait "${PIDS[@]}" 2>/dev/null
PIDS=()
rcd_stop up2
rc_done
