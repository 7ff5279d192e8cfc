#!/usr/bin/env bash
# rcoap against rcoapd over coap+tcp (RFC 8323 §3), real processes on
# loopback, once over IPv4 and once over IPv6: every method (GET, PUT, POST,
# DELETE, FETCH, PATCH, iPATCH) on every demo resource, where what a
# resource does not implement must be 4.05 with exit status 4; /hello,
# /time (ISO 8601 UTC, close to now), /echo (payload and Content-Format
# kept: -t json, -O 12,N, none, binary -d @FILE with -o FILE), /store/NAME
# (2.01 create, 2.04 update, read back with its format, 2.02 delete, 4.04
# after), /sensors/temp (a number, Max-Age 1), /slow?ms=300 (a deferred
# answer, not early), /.well-known/core with RFC 6690 §4.1 filters (rt,
# href, href prefix, title glob, if, a filter matching nothing gives an
# empty 2.05), -O with an unknown critical option (4.02, exit 4) and an
# unknown elective one (ignored); exit statuses for usage (1), bad URI and
# unsupported scheme (2), connection refused (3), 4.04 (4) and timeout (6);
# finally rcoapd's graceful exit on SIGTERM (status 0; under valgrind no
# findings).
# Usage: bash test_tcp_demo.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

rcd_start d 2 -l coap+tcp://127.0.0.1:0 -l 'coap+tcp://[::1]:0' || {
  rc_fail "rcoapd starts with coap+tcp listeners on 127.0.0.1 and ::1"
  rc_done
}
P4=$(rcd_port d 127.0.0.1)
P6=$(rcd_port d ::1)
[ -n "$P4" ] && [ -n "$P6" ] && rc_pass "rcoapd listens on 127.0.0.1:$P4 and [::1]:$P6" ||
  rc_fail "listener lines: $(cat "$RC_TMP/d.out")"

METHODS=(get put post delete fetch patch ipatch)
# The methods each demo resource implements; every other one is 4.05.
declare -A IMPL=(
  [/hello]="get" [/time]="get" [/echo]="post" [/store/m]="get put delete"
  [/sensors/temp]="get" [/slow?ms=0]="get" [/.well-known/core]="get")

# Free port for "connection refused": bound, then closed at once.
free_port() {
  /usr/bin/python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

printf 'binary \000\001\002\377\376 payload\n' >"$RC_TMP/bin.dat"
head -c 700 /dev/urandom >>"$RC_TMP/bin.dat"

for fam in 4 6; do
  if [ $fam = 4 ]; then HOST=127.0.0.1; U=coap+tcp://127.0.0.1:$P4
  else HOST=::1; U="coap+tcp://[::1]:$P6"; fi
  echo "--- IPv$fam: $U"

  # Under valgrind rcoapd runs under memcheck throughout, and so does
  # rcoap over IPv4 (each method once in the matrix below); over IPv6 the
  # client repeats the IPv4 runs with another address, so only its GET
  # /hello is under memcheck and the rest run natively (RC_NATIVE, see
  # scripts/testlib.sh): every check runs, the full matrix on both.
  RC_NATIVE=0
  [ $fam = 6 ] && RC_NATIVE=1
  declare -A VG_METHOD=()
  # -- every method on every resource ---------------------------------------
  for res in "${!IMPL[@]}"; do
    for m in "${METHODS[@]}"; do
      [[ " ${IMPL[$res]} " == *" $m "* ]] && continue
      # the client's 4.05 for a method is the same on every resource
      if [ $fam = 4 ] && [ -z "${VG_METHOD[$m]:-}" ]; then
        VG_METHOD[$m]=1
        coap -T $RC_TMO -i "$m" "$U$res"
      else
        RC_NATIVE=1 coap -T $RC_TMO -i "$m" "$U$res"
      fi
      if [ "$ST" -eq 4 ] && [[ "$OUT" == "4.05 Method Not Allowed"* ]]; then
        rc_pass "v$fam: $m $res is 4.05, exit 4"
      else
        rc_fail "v$fam: $m $res: exit $ST, expected 4.05 and 4: $OUT $ERR"
      fi
    done
  done

  # -- /hello ---------------------------------------------------------------
  RC_NATIVE=0 coap -T $RC_TMO get "$U/hello"
  rc_expect_status "$ST" 0 "v$fam: GET /hello exits 0"
  rc_expect_re "$OUT" '^Hello, world! \(rcoap [0-9.]+\)$' "v$fam: /hello body"
  coap -T $RC_TMO -i "$U/hello"
  rc_expect "$OUT" "2.05 Content" "v$fam: -i shows 2.05, GET is the default"
  rc_expect "$OUT" "Content-Format: text/plain" "v$fam: /hello is text/plain"

  # -- /time: ISO 8601 UTC, within a minute of our clock ---------------------
  coap -T $RC_TMO get "$U/time"
  rc_expect_status "$ST" 0 "v$fam: GET /time exits 0"
  rc_expect_re "$OUT" '^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$' \
    "v$fam: /time is YYYY-MM-DDTHH:MM:SSZ"
  t=$(date -u -d "$OUT" +%s 2>/dev/null || echo 0)
  d=$(($(date -u +%s) - t))
  [ "${d#-}" -le 60 ] && rc_pass "v$fam: /time is within 60 s of now ($OUT)" ||
    rc_fail "v$fam: /time $OUT is $d s off"

  # -- /echo: payload and Content-Format come back, 2.04 --------------------
  coap -T $RC_TMO -i post -t json -d '{"n":42,"s":"x"}' "$U/echo"
  rc_expect_status "$ST" 0 "v$fam: POST /echo -t json exits 0"
  rc_expect "$OUT" "2.04 Changed" "v$fam: POST /echo is 2.04 (RFC 7252 §5.8.2)"
  rc_expect "$OUT" "Content-Format: application/json" "v$fam: /echo keeps -t json"
  rc_expect_eq "$(tail -n 1 <<<"$OUT")" '{"n":42,"s":"x"}' "v$fam: /echo body back"
  coap -T $RC_TMO -i post -O 12,60 -d 'cbor-ish' "$U/echo"
  rc_expect "$OUT" "Content-Format: application/cbor" "v$fam: -O 12,60 sets Content-Format 60"
  coap -T $RC_TMO -i post -d 'plain' "$U/echo"
  rc_expect_not "$OUT" "Content-Format" "v$fam: no Content-Format in, none out"
  rm -f "$RC_TMP/echo.out"
  coap -T $RC_TMO post -t octet-stream -d "@$RC_TMP/bin.dat" -o "$RC_TMP/echo.out" "$U/echo"
  rc_expect_status "$ST" 0 "v$fam: POST -d @FILE -o FILE exits 0"
  rc_expect_eq "$OUT" "" "v$fam: -o FILE: nothing on stdout"
  cmp -s "$RC_TMP/bin.dat" "$RC_TMP/echo.out" &&
    rc_pass "v$fam: -d @FILE (binary, $(wc -c <"$RC_TMP/bin.dat") bytes) echoed into -o FILE unchanged" ||
    rc_fail "v$fam: -o FILE differs from -d @FILE"

  # -- /store/NAME: create, update, read, delete, read after delete ---------
  S="$U/store/item$fam"
  coap -T $RC_TMO -i put -d first "$S"
  rc_expect_status "$ST" 0 "v$fam: PUT new /store item exits 0"
  rc_expect "$OUT" "2.01 Created" "v$fam: PUT creates: 2.01 (RFC 7252 §5.8.3)"
  coap -T $RC_TMO -i put -t json -d '["second"]' "$S"
  rc_expect "$OUT" "2.04 Changed" "v$fam: PUT again updates: 2.04"
  coap -T $RC_TMO -i get "$S"
  rc_expect "$OUT" "2.05 Content" "v$fam: GET the item: 2.05"
  rc_expect "$OUT" "Content-Format: application/json" "v$fam: the item keeps its format"
  rc_expect_eq "$(tail -n 1 <<<"$OUT")" '["second"]' "v$fam: the item holds the update"
  coap -T $RC_TMO get "$U/store"
  rc_expect_re "$OUT" '^[1-9][0-9]* item\(s\)$' "v$fam: GET /store counts items"
  coap -T $RC_TMO -i delete "$S"
  rc_expect_status "$ST" 0 "v$fam: DELETE exits 0"
  rc_expect "$OUT" "2.02 Deleted" "v$fam: DELETE is 2.02"
  coap -T $RC_TMO get "$S"
  rc_expect_status "$ST" 4 "v$fam: GET after DELETE exits 4"
  rc_expect "$ERR" "4.04 Not Found" "v$fam: GET after DELETE says 4.04 on stderr"
  coap -T $RC_TMO -i put -d x "$U/store"
  rc_expect "$OUT" "4.05 Method Not Allowed" "v$fam: PUT /store without a NAME is 4.05"

  # -- /sensors/temp ---------------------------------------------------------
  coap -T $RC_TMO -i get "$U/sensors/temp"
  rc_expect_status "$ST" 0 "v$fam: GET /sensors/temp exits 0"
  rc_expect "$OUT" "Max-Age: 1" "v$fam: /sensors/temp has Max-Age 1"
  rc_expect_re "$(tail -n 1 <<<"$OUT")" '^-?[0-9]+\.[0-9]+$' "v$fam: /sensors/temp is a number"

  # -- /slow?ms=300: deferred, not before 300 ms ------------------------------
  t0=$(date +%s%N)
  coap -T $RC_TMO get "$U/slow?ms=300"
  ms=$((($(date +%s%N) - t0) / 1000000))
  rc_expect_status "$ST" 0 "v$fam: GET /slow?ms=300 exits 0"
  rc_expect_eq "$OUT" "sorry for the wait" "v$fam: /slow body"
  [ "$ms" -ge 300 ] && rc_pass "v$fam: /slow answered after $ms ms (>= 300)" ||
    rc_fail "v$fam: /slow answered after $ms ms, before 300"
  coap -T $RC_TMO get "$U/slow?ms=99999"
  rc_expect_status "$ST" 4 "v$fam: /slow?ms=99999 is refused (exit 4)"

  # -- discovery (RFC 6690) --------------------------------------------------
  coap_links -T $RC_TMO get "$U/.well-known/core"
  rc_expect_status "$ST" 0 "v$fam: discovery exits 0"
  for p in /hello /time /echo /store /sensors/temp /slow /large; do
    rc_expect "$OUT" "<$p>;" "v$fam: discovery lists $p"
  done
  # (More demo resources may come; the lines must each be one link.)
  nl=$(wc -l <<<"$OUT")
  nlinks=$(grep -c '^</[^>]*>;' <<<"$OUT")
  [ "$nl" -ge 7 ] && [ "$nlinks" -eq "$nl" ] &&
    rc_pass "v$fam: discovery: one link per line ($nl links)" ||
    rc_fail "v$fam: discovery: $nl lines, $nlinks start a link"
  # A filter leaves exactly one line, the right link, with its attributes.
  coap_links -T $RC_TMO get "$U/.well-known/core?rt=time"
  rc_expect_re "$OUT" '^</time>;[^
]*title="Current UTC time"[^
]*rt="time"[^
]*$' "v$fam: ?rt=time: only /time"
  coap_links -T $RC_TMO get "$U/.well-known/core?href=/hello"
  rc_expect_re "$OUT" '^</hello>;[^
]*title="Greeting"[^
]*$' "v$fam: ?href=/hello: only /hello"
  coap_links -T $RC_TMO get "$U/.well-known/core?href=/s*"
  for p in /sensors/temp /slow /store; do
    rc_expect "$OUT" "<$p>;" "v$fam: ?href=/s*: has $p"
  done
  [ "$(grep -vc '^</s' <<<"$OUT")" -eq 0 ] && rc_pass "v$fam: ?href=/s*: nothing else" ||
    rc_fail "v$fam: ?href=/s* let through: $(grep -v '^</s' <<<"$OUT")"
  coap_links -T $RC_TMO get "$U/.well-known/core?title=Greet*"
  rc_expect_re "$OUT" '^</hello>;[^
]*title="Greeting"[^
]*$' "v$fam: ?title=Greet*: /hello"
  coap_links -T $RC_TMO get "$U/.well-known/core?if=sensor"
  rc_expect_re "$OUT" '^</sensors/temp>;[^
]*$' "v$fam: ?if=sensor: only /sensors/temp"
  coap -T $RC_TMO -i get "$U/.well-known/core?rt=no-such-type"
  rc_expect_status "$ST" 0 "v$fam: a filter matching nothing still exits 0"
  rc_expect_eq "$OUT" "2.05 Content
Content-Format: application/link-format" "v$fam: a filter matching nothing: 2.05, one option per line, empty body"

  # -- -O: unknown critical and elective options -----------------------------
  coap -T $RC_TMO -i -O 65001,0x01 get "$U/hello"
  rc_expect_status "$ST" 4 "v$fam: unknown critical option 65001 exits 4"
  rc_expect "$OUT" "4.02 Bad Option" "v$fam: unknown critical option is 4.02 (RFC 7252 §5.4.1)"
  coap -T $RC_TMO -O 65000,0x01 get "$U/hello"
  rc_expect_status "$ST" 0 "v$fam: unknown elective option 65000 is ignored"
  rc_expect "$OUT" "Hello, world!" "v$fam: elective option: normal answer"

  # -- exit statuses -----------------------------------------------------------
  coap -T $RC_TMO get "$U/no/such/thing"
  rc_expect_status "$ST" 4 "v$fam: 4.04 exits 4"
  rc_expect "$ERR" "4.04 Not Found" "v$fam: 4.04 named on stderr"
  fp=$(free_port "$HOST")
  if [ $fam = 4 ]; then R=coap+tcp://127.0.0.1:$fp/hello; else R="coap+tcp://[::1]:$fp/hello"; fi
  coap -T $RC_TMO get "$R"
  rc_expect_status "$ST" 3 "v$fam: connection refused exits 3"
  rc_expect "$ERR" "refused" "v$fam: connection refused says so"
  t0=$(date +%s%N)
  coap -T 1 get "$U/slow?ms=3000"
  ms=$((($(date +%s%N) - t0) / 1000000))
  rc_expect_status "$ST" 6 "v$fam: no answer within -T 1 exits 6"
  rc_expect "$ERR" "timed out" "v$fam: timeout says so"
  rc_expect_not "$OUT" "sorry for the wait" "v$fam: -T 1: no answer printed"
  # Under valgrind, start-up and the leak check at exit take seconds.
  if [ "$RC_SLOW" = 1 ]; then
    [ "$ms" -lt 2900 ] && rc_pass "v$fam: -T 1 gave up after $ms ms, before the answer" ||
      rc_fail "v$fam: -T 1 took $ms ms"
  fi
done
RC_NATIVE=0

echo "--- rcoap ping (RFC 8323 §5.4)"
coap -T $RC_TMO ping "coap+tcp://127.0.0.1:$P4"
rc_expect_status "$ST" 0 "ping: exit 0"
rc_expect_re "$OUT" '^Pong from coap\+tcp://127\.0\.0\.1:[0-9]+ in [0-9]+\.[0-9]{3} ms$' \
  "ping: prints the round trip"
coap -T $RC_TMO -v ping --custody "coap+tcp://[::1]:$P6/ignored/path"
rc_expect_status "$ST" 0 "ping --custody over IPv6: exit 0"
rc_expect "$OUT" ", with Custody" "ping --custody: rcoapd's Pong carries Custody"
PTOK=$(sed -n 's/^> 7\.02 Ping tok=\([0-9a-f]*\) Custody$/\1/p' <<<"$ERR")
[ -n "$PTOK" ] && rc_pass "ping -v: a Ping with a token and Custody ($PTOK)" ||
  rc_fail "ping -v: no '> 7.02 Ping tok=... Custody' in: $ERR"
rc_expect "$ERR" "< 7.03 Pong tok=$PTOK Custody" "ping -v: the Pong echoes the token (§5.4)"
# A server that accepts and then says nothing at all: no Pong, no CSM.
SILENT=$RC_TMP/silent.port
/usr/bin/python3 - "$SILENT" $((15 * RC_SLOW)) <<'EOF' &
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(float(sys.argv[2]))
try:
    c, _ = s.accept()
    c.settimeout(float(sys.argv[2]))
    while c.recv(4096):
        pass
except (socket.timeout, ConnectionError):
    pass
EOF
SILENT_PID=$!
for i in $(seq 1 50); do [ -s "$SILENT" ] && break; sleep 0.1; done
t0=$(date +%s%N)
coap -T 1 ping "coap+tcp://127.0.0.1:$(cat "$SILENT")"
ms=$((($(date +%s%N) - t0) / 1000000))
rc_expect_status "$ST" 6 "ping a silent server: exit 6 (timeout)"
rc_expect "$ERR" "did not answer a ping" "ping a silent server: says so"
if [ "$RC_SLOW" = 1 ]; then
  [ "$ms" -lt 3000 ] && rc_pass "ping -T 1 gave up after $ms ms" ||
    rc_fail "ping -T 1 took $ms ms"
fi
# It ends by itself once rcoap has closed (or at its own timeout); no kill:
# its pid may already belong to another process.
wait "$SILENT_PID" 2>/dev/null

echo "--- usage and URI errors"
coap
rc_expect_status "$ST" 1 "no URI: usage, exit 1"
coap frob "coap+tcp://127.0.0.1:$P4/hello"
rc_expect_status "$ST" 1 "unknown method: exit 1"
rc_expect "$ERR" "unknown method" "unknown method named"
coap 'coap+tcp://[::1/x'
rc_expect_status "$ST" 2 "bad URI (unclosed IPv6 literal) exits 2"
coap 'not a uri'
rc_expect_status "$ST" 2 "not a URI exits 2"
# rcoapd listens on TCP only here: the UDP port's ICMP unreachable ends
# a coap:// request at once (a connected UDP socket hears it).
coap -T 20 "coap://127.0.0.1:$P4/hello"
rc_expect_status "$ST" 3 "coap:// to a port without a UDP server: exit 3"
rc_expect "$ERR" "connection refused" "coap:// there: connection refused"
coap "http://127.0.0.1:$P4/hello"
rc_expect_status "$ST" 2 "http:// exits 2"

# rcoapd is still there after all that, and leaves cleanly.
rcd_alive d && rc_pass "rcoapd still running" || rc_fail "rcoapd died: $(tail -n 20 "$RC_TMP/d.err")"
rcd_stop d
rc_expect "$(cat "$RC_TMP/d.err")" "rcoapd: stopped" "rcoapd logs that it stopped"
rc_done
