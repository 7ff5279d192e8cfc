#!/usr/bin/env bash
# Observe through rcoapd's proxy (RFC 7641 §5): 50 rcoap observers over
# coap+ws, each with its own Proxy-Uri GET+Observe for libcoap's UDP /time
# (coap-server-notls notifies every second, INTEROP-NOTES §6):
#  - libcoap sees exactly one registration (its -v 7 log: one GET with
#    Observe:0 and the proxy's Hop-Limit 16);
#  - every observer gets every notification (the same libcoap texts);
#  - libcoap killed (SIGKILL: no 4.04 farewell) and restarted on the same
#    port: the proxy registers again (once) and every observer, still
#    registered, gets the restarted server's notifications;
#  - when the observers go, the proxy cancels upstream (GET Observe:1)
#    and keeps serving.
# A missing peer skips (exit 77); under CI=true it fails.
# Usage: bash test_proxy_observe.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-server-notls
N=${OBSERVERS:-50}
LP=$(rcd_free_port_udp_tcp)
L=coap://127.0.0.1:$LP

start_libcoap() { lc_server "$1" "$LP" -v 7; } # NAME
# Registrations libcoap logged: the proxy's GET with Observe:0 (libcoap
# logs the PDUs it builds for its own handler with Hop-Limit 15).
regs() { grep -c '^v:1 t:CON c:GET .*Observe:0.*Hop-Limit:16' "$RC_TMP/$1.out" "$RC_TMP/$1.err" | awk -F: '{s+=$NF} END {print s}'; }

start_libcoap ls1
rcd_start px 1 -v --proxy --proxy-timeout $((5000 * RC_SLOW)) \
  --proxy-allow 'coap://127.0.0.1:*' -l coap+ws://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
RCOAP=$(rc_tool rcoap)

echo "=== $N observers over coap+ws, one upstream observation"
OBS_PIDS=()
for i in $(seq 1 "$N"); do
  timeout $((120 * RC_SLOW)) "$RCOAP" -T $RC_TMO observe -O "35,$L/time" "$PXW/" \
    >"$RC_TMP/o$i.out" 2>"$RC_TMP/o$i.err" &
  OBS_PIDS+=($!)
done
trap 'kill "${OBS_PIDS[@]}" 2>/dev/null; rcd_cleanup; rm -rf "$RC_TMP"' EXIT
# lines(i): notifications observer i printed so far
lines() { wc -l <"$RC_TMP/o$1.out"; }
all_have() { # COUNT: every observer has at least COUNT lines
  local i
  for i in $(seq 1 "$N"); do [ "$(lines "$i")" -ge "$1" ] || return 1; done
}
for _ in $(seq 1 $((300 * RC_SLOW))); do all_have 3 && break; sleep 0.1; done
if all_have 3; then rc_pass "all $N observers get notifications"; else
  rc_fail "all $N observers get notifications (o1 has $(lines 1))"
fi
rc_expect_eq "$(regs ls1)" 1 "libcoap saw exactly one registration for $N observers"

# Every observer gets every notification: one that libcoap made after all
# were registered is in every observer's output. All were registered once
# each had 3 lines (now); observer 1's second line from now was made after
# its first line from now arrived, so after now: that one, once observer
# 1 has it, must reach every observer (waited for, not slept on).
n1=$(lines 1)
for _ in $(seq 1 $((100 * RC_SLOW))); do [ "$(lines 1)" -ge $((n1 + 2)) ] && break; sleep 0.1; done
PICK=$(sed -n "$((n1 + 2))p" "$RC_TMP/o1.out" | cut -d' ' -f2-)
missing() {
  local i m=0
  for i in $(seq 1 "$N"); do grep -qF -- "$PICK" "$RC_TMP/o$i.out" || m=$((m + 1)); done
  echo $m
}
MISS=1
if [ -n "$PICK" ]; then
  for _ in $(seq 1 $((50 * RC_SLOW))); do MISS=$(missing); [ "$MISS" = 0 ] && break; sleep 0.1; done
fi
rc_expect_eq "$MISS" 0 "every observer got the notification '$PICK'"
rc_expect_re "$PICK" '^2\.05 [A-Z][a-z]{2} [ 0-9][0-9] ' "it is libcoap's /time text"

echo "=== libcoap killed and restarted: observers stay, the proxy registers again"
kill -KILL "$(rcd_pid ls1)"
wait "$(rcd_pid ls1)" 2>/dev/null
unset "RCD_PID[ls1]"
sleep 2
BEFORE=()
for i in $(seq 1 "$N"); do BEFORE[i]=$(lines "$i"); done
start_libcoap ls2
got_new() {
  local i
  for i in $(seq 1 "$N"); do [ "$(lines "$i")" -ge $((BEFORE[i] + 2)) ] || return 1; done
}
for _ in $(seq 1 $((400 * RC_SLOW))); do got_new && break; sleep 0.1; done
if got_new; then rc_pass "every observer gets the restarted server's notifications"; else
  rc_fail "every observer gets the restarted server's notifications (o1: ${BEFORE[1]} -> $(lines 1))"
fi
rc_expect_eq "$(regs ls2)" 1 "the restarted libcoap saw exactly one registration"
rc_expect "$(cat "$RC_TMP/px.err")" "registering again" "the proxy says it registers again"
ERRS=$(cat "$RC_TMP"/o*.err | grep -c -v '^$')
rc_expect_eq "$ERRS" 0 "no observer saw an error"

echo "=== observers leave: the proxy cancels upstream"
kill "${OBS_PIDS[@]}" 2>/dev/null
wait "${OBS_PIDS[@]}" 2>/dev/null
OBS_PIDS=()
for _ in $(seq 1 $((100 * RC_SLOW))); do
  grep -q 'cancelling upstream' "$RC_TMP/px.err" && break
  sleep 0.1
done
rc_expect "$(cat "$RC_TMP/px.err")" "cancelling upstream" "the last observer gone, the proxy cancels"
for _ in $(seq 1 $((50 * RC_SLOW))); do
  grep -qE 'c:GET .*Observe:1[],]' "$RC_TMP/ls2.out" "$RC_TMP/ls2.err" && break
  sleep 0.1
done
rc_expect_re "$(cat "$RC_TMP/ls2.out" "$RC_TMP/ls2.err")" 'c:GET .*Observe:1[],]' \
  "libcoap gets the deregistering GET (Observe:1)"
coap -T $RC_TMO get -O "35,$L/time" "$PXW/"
rc_expect_status "$ST" 0 "the proxy still serves a plain GET"
rcd_stop px
rc_done
