#!/usr/bin/env bash
# A coap+ws session between rcoap and rcoapd as Wireshark sees it: tshark
# captures the rcoapd port on lo (port filter, bounded duration), then
# decodes the capture with the port forced to HTTP. Wireshark dissects the
# WebSocket binary frames as CoAP when the upgrade names the subprotocol
# "coap" (INTEROP-NOTES.md §2), so this checks on the wire: the upgrade
# (GET /.well-known/coap, Sec-WebSocket-Protocol: coap, 101), a CSM each
# way, the requests and their answers (GET /hello 2.05, PUT /store 2.01,
# POST /echo 2.04, discovery 2.05, 4.04), client frames masked and server
# frames not (RFC 6455 §5.1), the close handshake 1000 both ways, no RST
# from rcoapd, and no malformed-packet expert info except Wireshark 4.0's
# known false positives for the CSM's signaling options (INTEROP-NOTES §2).
# Skipped (exit 77; a failure under CI=true) when tshark is missing or
# cannot capture.
# Usage: bash test_tshark_ws.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
TMO=10
[ "${RCOAP_VALGRIND:-0}" = 1 ] && TMO=60

skip() { rc_skip "tshark capture not run: $*"; } # cleanup stops tshark
command -v tshark >/dev/null || skip "no tshark (apt-get install tshark)"
tshark -D 2>/dev/null | grep -q '(Loopback' || tshark -D 2>/dev/null | grep -qw lo ||
  skip "tshark cannot list the loopback interface (no capture permission?)"

# --- the server: lib/rcoapd.sh (rcd_start, rcd_port, rcd_stop) -----------
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
TSHARK_PID=
cleanup() {
  [ -n "$TSHARK_PID" ] && kill -TERM "$TSHARK_PID" 2>/dev/null
  rcd_cleanup
  [ -n "${KEEP_CAP:-}" ] && cp "$CAP" "$TXT" "$RC_TMP/tshark.out" "$KEEP_CAP"
  rm -rf "$RC_TMP"
}
trap cleanup EXIT

rcd_start rcoapd 1 -l coap+ws://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
PORT=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/rcoapd.out" | head -n 1 | sed 's/.*://')
URI=coap+ws://127.0.0.1:$PORT
CAP="$RC_TMP/ws.pcapng"

# Bounded capture of this port only, stopped early below, dissected as it
# comes (one pass, the port as HTTP): $RC_TMP/ws.txt gets a line per frame
# with the fields in FIELDS (tab-separated; a field's repeated values are
# joined by \037), then, when tshark stops, its expert-info summary. Every
# check below reads that text; no capture is read back.
FIELDS=(frame.number tcp.srcport tcp.dstport tcp.flags.reset frame.protocols
  http.request.method http.request.uri http.upgrade http.sec_websocket_protocol
  http.response.code http.request.line coap.code coap.opt.uri_path
  websocket.mask websocket.opcode websocket.payload.close.status_code
  coap.payload_length coap.opt.ctype _ws.malformed _ws.expert.message tcp.payload)
EARGS=()
for f in "${FIELDS[@]}"; do EARGS+=(-e "$f"); done
TXT=$RC_TMP/ws.txt
tshark -i lo -f "tcp port $PORT" -a duration:$((6 * TMO)) -w "$CAP" -d "tcp.port==$PORT,http" \
  -P -l -T fields "${EARGS[@]}" -E aggregator=$'\037' -z expert >"$TXT" 2>"$RC_TMP/tshark.out" &
TSHARK_PID=$!
for _ in $(seq 1 100); do
  grep -q "Capturing on" "$RC_TMP/tshark.out" && break
  kill -0 "$TSHARK_PID" 2>/dev/null || break
  sleep 0.1
done
# A field this tshark does not know is the test's fault, not a skip.
grep -q "fields aren't valid" "$RC_TMP/tshark.out" &&
  { rc_fail "tshark: $(tr '\n\t' '  ' <"$RC_TMP/tshark.out")"; rc_done; }
grep -q "Capturing on" "$RC_TMP/tshark.out" ||
  skip "tshark cannot capture on lo: $(tr '\n' ' ' <"$RC_TMP/tshark.out")"
# ts COND FIELDS...: one line per frame (so far) for which the awk
# condition COND holds, the FIELDS tab-separated and their repeated values
# joined by ",", as tshark -Y COND -T fields prints them. COND reads a
# field by its name: f["coap.code"]; has(NAME, V) is true when one of the
# frame's values of NAME is V (tshark's "NAME == V"), any(NAME, OP, V)
# compares numbers (tshark's "NAME OP V"), proto(P) is true when P is in
# frame.protocols, contains(S) when the TCP payload holds the bytes of S.
ts() {
  local cond=$1
  shift
  awk -F '\t' -v names="${FIELDS[*]}" -v want="$*" '
    BEGIN { nn = split(names, nm, " "); nw = split(want, wn, " ") }
    $0 == "" { exit } # the expert summary follows the frames
    function has(k, v, n, a, i) {
      n = split(f[k], a, "\037")
      for (i = 1; i <= n; i++) if (a[i] == v) return 1
      return 0
    }
    function any(k, op, v, n, a, i, x) {
      n = split(f[k], a, "\037")
      for (i = 1; i <= n; i++) {
        if (a[i] == "") continue
        x = a[i] + 0
        if ((op == "<" && x < v) || (op == ">=" && x >= v) || (op == "<=" && x <= v) || (op == "==" && x == v)) return 1
      }
      return 0
    }
    function proto(p) { return index(":" f["frame.protocols"] ":", ":" p ":") > 0 }
    function contains(str, h, i, c, o) {
      for (i = 1; i <= length(str); i++) h = h sprintf("%02x", ord[substr(str, i, 1)])
      o = 0
      while ((c = index(substr(f["tcp.payload"], o + 1), h)) > 0) {
        if ((o + c) % 2 == 1) return 1 # at a byte boundary
        o += c
      }
      return 0
    }
    BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
    {
      delete f
      for (i = 1; i <= nn; i++) f[nm[i]] = $i
    }
    '"$cond"' {
      line = ""
      for (i = 1; i <= nw; i++) {
        v = f[wn[i]]
        gsub("\037", ",", v)
        line = line (i > 1 ? "\t" : "") v
      }
      print line
    }' "$TXT"
}
count() { ts "$1" frame.number | grep -c .; }
# probe NAME: sends GET /NAME (a 404) and waits, at most 10 s, until the
# capture holds it: how we know the capture is live, and later that
# everything before the probe is in.
probe() {
  local i
  for i in $(seq 1 100); do
    [ $((i % 20)) = 1 ] && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/$1"
    [ "$(count "has(\"http.request.uri\", \"/$1\")")" -ge 1 ] && return 0
    sleep 0.1
  done
  return 1
}
probe capture-start || skip "nothing reaches the capture file $CAP"
rc_pass "capturing tcp port $PORT on lo"

# The session(s) to look at.
coap() { # METHOD PATH [ARGS]
  local m=$1 p=$2
  shift 2
  ST=0
  OUT=$(rc_run rcoap -T "$TMO" "$@" "$m" "$URI$p" 2>&1) || ST=$?
}
coap get /hello
rc_expect_status "$ST" 0 "GET /hello during the capture"
coap put /store/captured -d "on the wire"
rc_expect_status "$ST" 0 "PUT /store/captured during the capture"
coap post /echo -d "echo me" -t text
rc_expect_status "$ST" 0 "POST /echo during the capture"
coap get /.well-known/core
rc_expect_status "$ST" 0 "discovery during the capture"
coap get /not-here
rc_expect_status "$ST" 4 "GET /not-here (4.04) during the capture"

probe capture-end && rc_pass "capture holds everything up to the end probe" ||
  rc_fail "the end probe never reached the capture file"
# Stop the capture; it writes everything out on SIGTERM (a background job
# of a script ignores SIGINT).
kill -TERM "$TSHARK_PID" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$TSHARK_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$TSHARK_PID" 2>/dev/null && kill -KILL "$TSHARK_PID"
wait "$TSHARK_PID" 2>/dev/null
TSHARK_PID=

n=$(count 'has("http.request.method", "GET") && has("http.request.uri", "/.well-known/coap")')
[ "$n" -eq 5 ] && rc_pass "5 upgrade requests GET /.well-known/coap" ||
  rc_fail "upgrade requests: $n, want 5"
n=$(count 'has("http.request.uri", "/.well-known/coap") && has("http.upgrade", "websocket") && has("http.sec_websocket_protocol", "coap")')
[ "$n" -eq 5 ] && rc_pass "every upgrade offers Sec-WebSocket-Protocol: coap" ||
  rc_fail "upgrades offering coap: $n (fields: $(ts 'has("http.request.uri", "/.well-known/coap")' http.request.line | head -n 1))"
n=$(count 'has("http.response.code", 101)')
[ "$n" -eq 5 ] && rc_pass "5 answers 101 Switching Protocols" || rc_fail "101 answers: $n, want 5"
n=$(count 'has("http.response.code", 101) && has("http.sec_websocket_protocol", "coap")')
[ "$n" -eq 5 ] && rc_pass "every 101 names the subprotocol coap" || rc_fail "101 naming coap: $n"

# CoAP inside the WebSocket frames.
n=$(count "has(\"coap.code\", 225) && f[\"tcp.srcport\"] == $PORT")
[ "$n" -eq 5 ] && rc_pass "rcoapd's CSM dissected as CoAP 7.01 on each connection" ||
  rc_fail "server CSMs: $n, want 5"
n=$(count "has(\"coap.code\", 225) && f[\"tcp.dstport\"] == $PORT")
[ "$n" -eq 5 ] && rc_pass "rcoap's CSM dissected as CoAP 7.01 on each connection" ||
  rc_fail "client CSMs: $n, want 5"
OUT=$(ts "proto(\"coap\") && f[\"tcp.dstport\"] == $PORT && any(\"coap.code\", \"<\", 32)" coap.code coap.opt.uri_path websocket.mask | sort)
rc_expect "$OUT" $'1\thello\t1' "GET /hello on the wire, masked"
rc_expect "$OUT" $'3\tstore,captured\t1' "PUT /store/captured on the wire, masked"
rc_expect "$OUT" $'2\techo\t1' "POST /echo on the wire, masked"
rc_expect "$OUT" $'1\t.well-known,core\t1' "GET /.well-known/core on the wire, masked"
rc_expect "$OUT" $'1\tnot-here\t1' "GET /not-here on the wire, masked"
OUT=$(ts "proto(\"coap\") && f[\"tcp.srcport\"] == $PORT && any(\"coap.code\", \">=\", 64)" coap.code websocket.mask | sort | uniq -c)
for code in 69 65 68 132; do
  rc_expect "$OUT" " $code"$'\t0' "response code $code from rcoapd, unmasked"
done
OUT=$(ts 'has("coap.code", 69) && contains("Hello, world!")' coap.payload_length coap.opt.ctype)
rc_expect "$OUT" $'27\t' "the 2.05 with \"Hello, world!\" has a 27-byte CoAP payload"
n=$(count "proto(\"websocket\") && f[\"tcp.dstport\"] == $PORT && has(\"websocket.mask\", 0)")
[ "$n" -eq 0 ] && rc_pass "no unmasked client frame" || rc_fail "$n unmasked client frames"
n=$(count "proto(\"websocket\") && f[\"tcp.srcport\"] == $PORT && has(\"websocket.mask\", 1)")
[ "$n" -eq 0 ] && rc_pass "no masked server frame" || rc_fail "$n masked server frames"
n=$(count 'has("websocket.opcode", 1)')
[ "$n" -eq 0 ] && rc_pass "no text frames" || rc_fail "$n text frames"
n=$(count 'has("websocket.opcode", 2) && !proto("coap")')
[ "$n" -eq 0 ] && rc_pass "every binary frame dissects as CoAP" || rc_fail "$n binary frames not CoAP"
# Close handshake: a Close 1000 each way per connection, rcoapd closes TCP.
n=$(count "has(\"websocket.opcode\", 8) && has(\"websocket.payload.close.status_code\", 1000) && f[\"tcp.dstport\"] == $PORT")
[ "$n" -eq 5 ] && rc_pass "rcoap sends Close 1000 on each connection" || rc_fail "client Close 1000: $n"
n=$(count "has(\"websocket.opcode\", 8) && has(\"websocket.payload.close.status_code\", 1000) && f[\"tcp.srcport\"] == $PORT")
[ "$n" -eq 5 ] && rc_pass "rcoapd answers Close 1000 on each connection" || rc_fail "server Close 1000: $n"
n=$(count "f[\"tcp.flags.reset\"] == 1 && f[\"tcp.srcport\"] == $PORT")
[ "$n" -eq 0 ] && rc_pass "rcoapd sends no RST" || rc_fail "rcoapd sent $n RST"
n=$(count "f[\"tcp.flags.reset\"] == 1 && f[\"tcp.dstport\"] == $PORT")
echo "note: RST segments from the client side: $n (rcoap ends each connection by reset after rcoapd's FIN)"

# Malformed packets: Wireshark 4.0 flags every CSM's Max-Message-Size and
# Block-Wise-Transfer options ("Invalid Option Number 2"); nothing else may
# be flagged (INTEROP-NOTES §2 filter).
OUT=$(ts 'f["_ws.malformed"] != "" && !(any("coap.code", ">=", 225) && any("coap.code", "<=", 229)) && !has("_ws.expert.message", "Invalid Option Number 292")' \
  frame.number coap.code _ws.expert.message)
if [ -z "$OUT" ]; then
  rc_pass "no malformed-packet reports beyond the known signaling-option ones"
else
  rc_fail "malformed packets: $OUT"
fi
OUT=$(sed '1,/^$/d' "$TXT")
printf '%s\n' "$OUT" | sed -n '/^Errors\|^Warns/,/^$/p' | sed 's/^/    | /'
rc_expect_not "$OUT" "Errors (" "no expert errors"

rcd_stop rcoapd
rc_done
