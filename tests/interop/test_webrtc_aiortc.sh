#!/usr/bin/env bash
# coaps+wr against aiortc 1.4 (Debian python3-aiortc, under /usr/bin/python3),
# in a network namespace of its own (aioice skips loopback: a closed veth
# pair, 10.77.0.1, WEBRTC-NOTES §2):
#  - aiortc offers (legacy DTLS/SCTP SDP, full ICE, DTLS server) to rcoapd's
#    /webrtc (the offer relayed by rcoap over coap+ws); rcoapd answers as
#    ICE-lite DTLS client; aiortc's "coap" channel carries a CSM and GET
#    /hello, and the 2.05 comes back;
#  - rcoap offers to aiortc (signaling over a small coap+tcp server in the
#    Python script); aiortc answers (a=setup:active, full ICE); rcoap's
#    GET over its channel gets aiortc's 2.05.
# Skipped (77) without aiortc or without `ip netns` (a failure under CI=true).
# Usage: bash test_webrtc_aiortc.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
LIB="$RC_SRC/tests/interop/webrtc"
"$PY" -c 'import aiortc' 2>/dev/null ||
  rc_skip "no aiortc under /usr/bin/python3 (apt-get install python3-aiortc)"
NS=rc-wrstack-$$
ip netns add "$NS" 2>/dev/null || rc_skip "ip netns add not permitted here"
trap 'rcd_cleanup; ip netns del "$NS" 2>/dev/null; rm -rf "$RC_TMP"' EXIT
ip -n "$NS" link set lo up &&
  ip -n "$NS" link add v0 type veth peer name v1 &&
  ip -n "$NS" addr add 10.77.0.1/24 dev v0 &&
  ip -n "$NS" link set v0 up && ip -n "$NS" link set v1 up &&
  ip -n "$NS" route add default via 10.77.0.254 dev v0 ||
  { rc_fail "the namespace's veth pair"; rc_done; }
NX=(ip netns exec "$NS")
RCOAP=$(rc_tool rcoap) || rc_done
RCOAPD=$(rc_tool rcoapd) || rc_done

echo "=== aiortc offers, rcoapd answers"
rcd_start_cmd d 2 ' listening on ' "${NX[@]}" "$RCOAPD" \
  -l coaps+wr://10.77.0.1:0 -l coap+ws://127.0.0.1:0 \
  --state-dir "$RC_TMP/state-d" || { rc_fail "rcoapd starts in $NS"; rc_done; }
SIG="coap+ws://127.0.0.1:$(rcd_port d 127.0.0.1 coap+ws)/webrtc"
coproc AIO { "${NX[@]}" timeout 60 "$PY" "$LIB/aiortc_offer.py" 2>"$RC_TMP/offer.err"; }
OFFER=""
read -r -t 30 OFFER <&"${AIO[0]}"
printf '%s' "$OFFER" >"$RC_TMP/offer.json"
rc_expect "$OFFER" 'DTLS/SCTP 5000' "aiortc offers the legacy SDP form"
"${NX[@]}" "$RCOAP" -T "$RC_TMO" post -t application/json \
  -d @"$RC_TMP/offer.json" "$SIG" >"$RC_TMP/answer.json" 2>"$RC_TMP/post.err"
rc_expect_status "$?" 0 "rcoapd answers aiortc's offer at /webrtc"
ANSWER=$(tr -d '\n' <"$RC_TMP/answer.json")
rc_expect "$ANSWER" 'a=ice-lite' "the answer is ICE-lite"
rc_expect "$ANSWER" 'a=setup:active' "the answer takes the DTLS client role"
rc_expect "$ANSWER" 'a=sctpmap:5000' "the answer keeps aiortc's legacy form"
printf '%s\n' "$ANSWER" >&"${AIO[1]}"
RES=""
read -r -t 40 RES <&"${AIO[0]}"
rc_expect "$RES" "RESULT Hello, world! (rcoap" \
  "aiortc's GET /hello over its data channel gets rcoapd's 2.05 ($RES)"
rc_expect "$(cat "$RC_TMP/offer.err")" "channel open id=1" \
  "aiortc's channel (DTLS server: odd id) opened"
rcd_stop d

echo "=== rcoap offers, aiortc answers"
PORT=$(rcd_free_port 127.0.0.1)
"${NX[@]}" timeout 60 "$PY" "$LIB/aiortc_answer.py" "$PORT" 30 \
  >"$RC_TMP/ans.out" 2>"$RC_TMP/ans.err" &
AP=$!
# Until it listens, or it is gone (its timeout 60 bounds this): no fixed
# wait for Python and aiortc to load on a loaded machine.
until grep -q ready "$RC_TMP/ans.out"; do
  kill -0 "$AP" 2>/dev/null || break
  sleep 0.1
done
rc_expect "$(cat "$RC_TMP/ans.out")" ready "aiortc's answerer listens for rcoap's offer"
ST=0
"${NX[@]}" "$RCOAP" -v -T "$RC_TMO" --signal "coap+tcp://127.0.0.1:$PORT/webrtc" \
  get coaps+wr://10.77.0.1/x >"$RC_TMP/get.out" 2>"$RC_TMP/get.err" || ST=$?
rc_expect_status "$ST" 0 "rcoap GET over coaps+wr to aiortc exits 0"
rc_expect "$(cat "$RC_TMP/get.out")" "hello from aiortc" "aiortc's 2.05 came over the channel"
rc_expect "$(cat "$RC_TMP/get.err")" "ICE full" "rcoap saw a full-ICE answerer"
rc_expect "$(cat "$RC_TMP/ans.err")" "label=coap protocol=coap" \
  "aiortc got rcoap's \"coap\" channel"
kill "$AP" 2>/dev/null
wait "$AP" 2>/dev/null
rc_done
