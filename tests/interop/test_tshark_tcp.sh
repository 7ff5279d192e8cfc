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
# connection's FIN is seen. It dissects as it captures (one pass, the port
# as CoAP): $RC_TMP/ts.out gets a line per frame with these fields
# (tab-separated, a field's repeated values joined by \037), then, when
# tshark stops, its expert-info summary:
# 1 frame.number, 2 tcp.srcport, 3 tcp.flags.fin, 4 tcp.len,
# 5 frame.protocols, 6 coap.code, 7 coap.opt.uri_path_recon,
# 8 coap.response_to, 9 _ws.malformed, 10 _ws.expert.message, 11 data.data.
rcd_start_cmd ts 1 "Capture started" \
  tshark -i lo -f "tcp port $P" -a duration:$((120 * RC_SLOW)) -w "$CAP" \
  -d "tcp.port==$P,coap" -P -l -T fields -E aggregator=$'\037' -e frame.number \
  -e tcp.srcport -e tcp.flags.fin -e tcp.len -e frame.protocols -e coap.code \
  -e coap.opt.uri_path_recon -e coap.response_to -e _ws.malformed \
  -e _ws.expert.message -e data.data -z expert
if ! rcd_alive ts || ! grep -q "Capture started" "$RC_TMP/ts.err"; then
  why=$(grep -v 'could be dangerous' "$RC_TMP/ts.err" | head -n 3 | tr '\n' ' ')
  kill -TERM "$(rcd_pid ts)" 2>/dev/null
  rcd_wait_exit ts 5
  rcd_stop d
  # A field this tshark does not know is the test's fault, not a skip.
  grep -q "fields aren't valid" "$RC_TMP/ts.err" &&
    { rc_fail "tshark: $(tr '\n\t' '  ' <"$RC_TMP/ts.err")"; rc_done; }
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

# sel COND [COLUMNS]: the frames seen so far for which the awk condition
# COND holds (fields $1..$11 as above), whole lines or the COLUMNS given
# (tab-separated, repeated values joined by "," as tshark -T fields
# prints them). has(N, V): one of field N's values is V (tshark's
# "field == V"); any(N, LO, HI): one is in [LO, HI), so tshark's
# "field >= 1 && field <= 7" is any(N, 1, 1e9) && any(N, -1e9, 8); coap:
# the frame holds CoAP.
sel() {
  awk -F '\t' -v cols="${2:-}" '
    BEGIN { nc = split(cols, c, " ") }
    $0 == "" { exit } # the expert summary follows the frames
    function has(n, v, k, a, i) {
      k = split($n, a, "\037")
      for (i = 1; i <= k; i++) if (a[i] != "" && a[i] == v) return 1
      return 0
    }
    function any(n, lo, hi, k, a, i) {
      k = split($n, a, "\037")
      for (i = 1; i <= k; i++) if (a[i] != "" && a[i] + 0 >= lo && a[i] + 0 < hi) return 1
      return 0
    }
    { coap = index(":" $5 ":", ":coap:") > 0 }
    '"$1"' {
      if (nc == 0) { print; next }
      line = ""
      for (i = 1; i <= nc; i++) { v = $(c[i]); gsub("\037", ",", v); line = line (i > 1 ? "\t" : "") v }
      print line
    }' "$RC_TMP/ts.out"
}
# Wait until the server's FIN of every connection is seen, then stop the
# capture (SIGTERM: a background job of a script ignores SIGINT).
fins=0
for i in $(seq 1 $((200 * RC_SLOW))); do
  fins=$(sel "\$2 == $P && \$3 == 1" | wc -l)
  [ "$fins" -ge "$RUNS" ] && break
  sleep 0.1
done
rc_expect_eq "$fins" "$RUNS" "the capture holds all $RUNS connections up to rcoapd's FIN"
kill -TERM "$(rcd_pid ts)" 2>/dev/null
rcd_wait_exit ts 10
# The one other pass: the CoAP frames in full (-V) for the payload checks.
tshark -r "$CAP" -d "tcp.port==$P,coap" -Y coap -V >"$RC_TMP/v.txt" 2>/dev/null
# verbose COND: the -V text of the CoAP frames for which COND holds.
verbose() {
  awk -v want=" $(sel "$1" 1 | tr '\n' ' ')" '
    /^Frame [0-9]+:/ { keep = index(want, " " ($2 + 0) " ") > 0 }
    keep' "$RC_TMP/v.txt"
}

nseg=$(sel '$4 > 0' | wc -l)
ncoap=$(sel '$4 > 0 && coap' | wc -l)
[ "$nseg" -gt 0 ] && rc_expect_eq "$ncoap" "$nseg" "all $nseg data segments decode as CoAP" ||
  rc_fail "no data segments captured"
notcoap=$(sel '$4 > 0 && !coap' 1)
rc_expect_eq "$notcoap" "" "no data segment that is not CoAP"

CODES=$(sel coap 6 | sort -n | uniq -c)
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
nreq=$(sel 'any(6, 1, 1e9) && any(6, -1e9, 8)' | wc -l)
rc_expect_eq "$nreq" "$RUNS" "one request per connection, $RUNS in all"

PATHS=$(sel 'any(6, 1, 1e9) && any(6, -1e9, 8)' '6 7')
for p in "1	/hello" "3	/store/cap" "1	/store/cap" "2	/echo" "4	/store/cap" \
         "5	/hello" "6	/store/cap" "7	/store/cap" "1	/.well-known/core" \
         "1	/sensors/temp" "1	/no/such/path" "1	/slow"; do
  rc_expect "$PATHS" "$p" "request code ${p%%	*} for ${p#*	} decoded"
done

# Every response is paired with a request by its token (Wireshark's
# "Request In"), and the pairs are the right way round.
nresp=$(sel 'any(6, 64, 1e9) && any(6, -1e9, 192)' | wc -l)
npaired=$(sel 'any(6, 64, 1e9) && any(6, -1e9, 192) && $8 != ""' | wc -l)
rc_expect_eq "$nresp" "$RUNS" "one response per connection"
rc_expect_eq "$npaired" "$nresp" "every response matched to its request by token"

TEXT=$(cat "$RC_TMP/v.txt")
rc_expect "$TEXT" "Hello, world! (rcoap" "the /hello payload is text/plain in the capture"
rc_expect "$TEXT" "sorry for the wait" "the answer after the Release is in the capture"
# (Wireshark shows a Release payload as data: hex.)
rc_expect "$(sel 'has(6, 228)' 11)" \
  "$(printf 'server shutting down' | od -An -tx1 | tr -d ' \n')" "the Release carries its diagnostic"
rc_expect "$(verbose 'has(6, 2)')" "Content-type: application/json" "POST's Content-Format decoded"
rc_expect "$(verbose 'has(6, 69)')" "Max-age: 1" "/sensors/temp's Max-Age decoded"

# INTEROP-NOTES §2: Wireshark 4.0 flags signaling options (CSM, Release)
# and option 292 wrongly; anything else malformed is ours.
MAL=$(sel '$9 != "" && !(any(6, 225, 1e9) && any(6, -1e9, 230)) && !has(10, "Invalid Option Number 292")' '1 6 10')
rc_expect_eq "$MAL" "" "no malformed CoAP outside Wireshark's known signaling false positives"
echo "tshark expert summary:"
sed '1,/^$/d' "$RC_TMP/ts.out" | sed -n '/Errors\|Warns\|Notes/,$p' | head -n 20 | sed 's/^/    /'
rc_done
