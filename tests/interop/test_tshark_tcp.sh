#!/usr/bin/env bash
# Wireshark (tshark 4.0) as an independent decoder of what rcoap and rcoapd
# put on the wire over coap+tcp (INTEROP-NOTES.md §2): capture on lo with a
# capture filter on rcoapd's port while separate rcoap runs (one connection
# each, so that no two messages share a TCP segment: tshark dissects only
# the first) do GET, PUT, POST, DELETE, FETCH, PATCH and iPATCH on the demo
# resources, discovery, a 4.04 and a 4.05, and a SIGTERM with a request in
# flight (Release, 7.04). Then, reading the capture with
# `-d tcp.port==N,coap`: every TCP segment carrying data is CoAP, every
# method, response code and the CSM and Release are seen, the Uri-Paths
# are as sent, each response is paired with its request by token, the
# payloads are the expected text, and the malformed filter from
# INTEROP-NOTES (which excludes Wireshark 4.0's false reports on signaling
# options) finds nothing. When tshark cannot capture on lo (not installed,
# no root or wireshark group), the test is skipped (exit 77; a failure
# under CI=true).
# Usage: bash test_tshark_tcp.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

command -v tshark >/dev/null ||
  rc_skip "tshark is not installed (apt-get install tshark)"

rcd_start d 1 -v -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1)
U=coap+tcp://127.0.0.1:$P
CAP=$RC_TMP/cap.pcapng

# Capture with an upper bound on its own; stopped early below once every
# connection's FIN is in the file.
rcd_start_cmd ts 1 "Capture started" \
  tshark -i lo -f "tcp port $P" -a duration:$((120 * RC_SLOW)) -w "$CAP" -q
if ! rcd_alive ts || ! grep -q "Capture started" "$RC_TMP/ts.err"; then
  why=$(grep -v 'could be dangerous' "$RC_TMP/ts.err" | head -n 3 | tr '\n' ' ')
  kill -TERM "$(rcd_pid ts)" 2>/dev/null
  rcd_wait_exit ts 5
  rcd_stop d
  rc_skip "tshark cannot capture on lo here: $why"
fi
rc_pass "tshark captures on lo, filter tcp port $P"

# The session: one rcoap process (one connection) per request.
RUNS=0
run() { # WANT_STATUS ARGS...
  local want=$1
  shift
  coap -T $RC_TMO "$@"
  RUNS=$((RUNS + 1))
  rc_expect_status "$ST" "$want" "rcoap $* (exit $want)"
}
run 0 get "$U/hello"
run 0 put -t text -d "captured" "$U/store/cap"
run 0 get "$U/store/cap"
run 0 post -t json -d '{"wire":true}' "$U/echo"
run 0 delete "$U/store/cap"
run 4 fetch "$U/hello"
run 4 patch "$U/store/cap"
run 4 ipatch "$U/store/cap"
run 0 get "$U/.well-known/core?rt=time"
run 0 get "$U/sensors/temp"
run 4 get "$U/no/such/path"
# The last connection sees rcoapd's Release while /slow is in flight.
rc_run rcoap -T $RC_TMO get "$U/slow?ms=800" >"$RC_TMP/slow.out" 2>&1 &
SLOW_PID=$!
RUNS=$((RUNS + 1))
for i in $(seq 1 $((100 * RC_SLOW))); do
  grep -q 'Uri-Query:"ms=800"' "$RC_TMP/d.err" && break
  sleep 0.1
done
kill -TERM "$(rcd_pid d)"
wait "$SLOW_PID"
rc_expect_status $? 0 "rcoap get /slow during the shutdown (exit 0)"
rcd_wait_exit d 10
rc_expect_status "$RCD_RC" 0 "rcoapd exits 0 after SIGTERM"

# Wait until the file holds the server's FIN of every connection (dumpcap
# writes about once a second), then stop the capture.
fins=0
for i in $(seq 1 $((100 * RC_SLOW))); do
  fins=$(tshark -r "$CAP" -Y "tcp.srcport == $P && tcp.flags.fin == 1" 2>/dev/null | wc -l)
  [ "$fins" -ge "$RUNS" ] && break
  sleep 0.2
done
rc_expect_eq "$fins" "$RUNS" "the capture holds all $RUNS connections up to rcoapd's FIN"
kill -INT "$(rcd_pid ts)" 2>/dev/null
rcd_wait_exit ts 10

ts() { tshark -r "$CAP" -d "tcp.port==$P,coap" "$@" 2>/dev/null; }

nseg=$(ts -Y 'tcp.len > 0' | wc -l)
ncoap=$(ts -Y 'tcp.len > 0 && coap' | wc -l)
[ "$nseg" -gt 0 ] && rc_expect_eq "$ncoap" "$nseg" "all $nseg data segments decode as CoAP" ||
  rc_fail "no data segments captured"
notcoap=$(ts -Y 'tcp.len > 0 && !coap' -T fields -e frame.number)
rc_expect_eq "$notcoap" "" "no data segment that is not CoAP"

CODES=$(ts -Y coap -T fields -e coap.code | sort -n | uniq -c)
echo "CoAP codes seen (count code):"
sed 's/^/    /' <<<"$CODES"
# code number: name
for c in "225:7.01 CSM" "228:7.04 Release" "1:GET" "2:POST" "3:PUT" "4:DELETE" \
         "5:FETCH" "6:PATCH" "7:iPATCH" "65:2.01 Created" "66:2.02 Deleted" \
         "68:2.04 Changed" "69:2.05 Content" "132:4.04 Not Found" \
         "133:4.05 Method Not Allowed"; do
  n=${c%%:*}
  grep -qE "^ *[0-9]+ $n\$" <<<"$CODES" && rc_pass "tshark decodes ${c#*:}" ||
    rc_fail "tshark shows no ${c#*:} (code $n)"
done
ncsm=$(awk '$2 == 225 {print $1}' <<<"$CODES")
rc_expect_eq "${ncsm:-0}" $((2 * RUNS)) "a CSM each way on each of the $RUNS connections"
nreq=$(ts -Y 'coap.code >= 1 && coap.code <= 7' | wc -l)
rc_expect_eq "$nreq" "$RUNS" "one request per connection, $RUNS in all"

PATHS=$(ts -Y 'coap.code >= 1 && coap.code <= 7' -T fields -e coap.code -e coap.opt.uri_path_recon)
for p in "1	/hello" "3	/store/cap" "1	/store/cap" "2	/echo" "4	/store/cap" \
         "5	/hello" "6	/store/cap" "7	/store/cap" "1	/.well-known/core" \
         "1	/sensors/temp" "1	/no/such/path" "1	/slow"; do
  rc_expect "$PATHS" "$p" "request code ${p%%	*} for ${p#*	} decoded"
done

# Every response is paired with a request by its token (Wireshark's
# "Request In"), and the pairs are the right way round.
nresp=$(ts -Y 'coap.code >= 64 && coap.code < 192' | wc -l)
npaired=$(ts -Y 'coap.code >= 64 && coap.code < 192 && coap.response_to' | wc -l)
rc_expect_eq "$nresp" "$RUNS" "one response per connection"
rc_expect_eq "$npaired" "$nresp" "every response matched to its request by token"

TEXT=$(ts -Y coap -V)
rc_expect "$TEXT" "Hello, world! (rcoap" "the /hello payload is text/plain in the capture"
rc_expect "$TEXT" "sorry for the wait" "the answer after the Release is in the capture"
# (Wireshark shows a Release payload as data: hex.)
rc_expect "$(ts -Y 'coap.code == 228' -T fields -e data.data)" \
  "$(printf 'server shutting down' | od -An -tx1 | tr -d ' \n')" "the Release carries its diagnostic"
rc_expect "$(ts -Y 'coap.code == 2' -V)" "Content-type: application/json" "POST's Content-Format decoded"
rc_expect "$(ts -Y 'coap.code == 69' -V)" "Max-age: 1" "/sensors/temp's Max-Age decoded"

# INTEROP-NOTES §2: Wireshark 4.0 flags signaling options (CSM, Release)
# and option 292 wrongly; anything else malformed is ours.
MAL=$(ts -Y '_ws.malformed && !(coap.code >= 225 && coap.code <= 229) && !(_ws.expert.message == "Invalid Option Number 292")' \
  -T fields -e frame.number -e coap.code -e _ws.expert.message)
rc_expect_eq "$MAL" "" "no malformed CoAP outside Wireshark's known signaling false positives"
echo "tshark expert summary:"
ts -q -z expert | sed -n '/Errors\|Warns\|Notes/,$p' | head -n 20 | sed 's/^/    /'
rc_done
