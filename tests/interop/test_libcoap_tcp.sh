#!/usr/bin/env bash
# rcoap against libcoap 4.3.1 (Debian libcoap3-bin) over coap+tcp, both
# ways (INTEROP-NOTES.md §1):
#  1. coap-client-notls -> rcoapd: GET /hello (v4 and v6), PUT /store/x
#     (2.01, then 2.04) and GET it back, POST /echo with a Content-Format,
#     DELETE (2.02) and the 4.04 after it, discovery with ?rt= and ?href=
#     filters, the CSMs both ways, and libcoap's keepalive Pings (-K 1)
#     while /slow?ms=2500 waits: rcoapd's Pongs keep libcoap happy; GET
#     /hello with Accept (4.06), ETag and Block2 SZX 0 answered alike by
#     that traced rcoapd and an untraced one (the session's fast paths).
#     coap-client always exits 0, so its output (-v 7 shows each PDU) is
#     what is checked, and rcoapd's -v trace is the other witness.
#  2. rcoap -> coap-server-notls -A 127.0.0.1 -p PORT: GET /time (its
#     "Mon DD HH:MM:SS" text, Max-Age), PUT /example_data then GET, DELETE
#     (4.05 there), discovery (one link per line) and ?rt=ticks, 4.04 (exit
#     4), libcoap's CSM seen in rcoap -v; and libcoap's Pong to a Ping
#     (it carries no token, INTEROP-NOTES §5), decoded with rcoap-decode.
# rcoapd runs under valgrind when RCOAP_VALGRIND=1 and must exit 0.
# Usage: bash test_libcoap_tcp.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls

# lc (lib/libcoap.sh): LOUT the body, LLOG the whole log.
# The PDUs coap-client received (it logs each PDU after "received N bytes").
lc_received() { grep -A1 'TCP : received' <<<"$LLOG" | grep '^v:1'; }
# rcoapd's -v trace lines added since the mark.
mark_d() { DMARK=$(wc -l <"$RC_TMP/d.err"); }
since_d() { tail -n +$((DMARK + 1)) "$RC_TMP/d.err"; }

echo "=== 1. coap-client-notls -> rcoapd"
rcd_start d 2 -v -l coap+tcp://127.0.0.1:0 -l 'coap+tcp://[::1]:0' || {
  rc_fail "rcoapd starts"
  rc_done
}
U=coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)
U6="coap+tcp://[::1]:$(rcd_port d ::1)"

mark_d
lc "$U/hello"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap GET /hello: body"
rc_expect "$(lc_received)" "c:CSM i:0000 {} [ Max-Message-Size:8388864, Block-Wise-Transfer: ]" \
  "libcoap receives rcoapd's CSM (Max-Message-Size, Block-Wise-Transfer)"
rc_expect "$(lc_received)" "c:2.05 i:0000 {01} [ Content-Format:text/plain ]" "libcoap GET /hello: 2.05 text/plain"
rc_expect_not "$LLOG" " ERR " "libcoap GET /hello: no errors logged"
rc_expect_not "$LLOG" " WARN " "libcoap GET /hello: no warnings logged"
rc_expect "$(since_d)" "peer CSM: max-message-size 8388864, block-wise" "rcoapd reads libcoap's CSM"
rc_expect "$(since_d)" '< 0.01 GET tok=01 Uri-Port:' "rcoapd sees libcoap's GET (with its Uri-Port)"
lc "$U6/hello"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap GET /hello over IPv6"

mark_d
lc -m put -e value1 "$U/store/x"
rc_expect "$(lc_received)" "c:2.01 " "libcoap PUT /store/x (new): 2.01"
lc -m put -e value2 -t json "$U/store/x"
rc_expect "$(lc_received)" "c:2.04 " "libcoap PUT /store/x again: 2.04"
rc_expect "$(since_d)" '> 2.01 Created' "rcoapd sent 2.01"
rc_expect "$(since_d)" '> 2.04 Changed' "rcoapd sent 2.04"
lc "$U/store/x"
rc_expect_eq "$LOUT" "value2" "libcoap GET /store/x: the PUT value"
rc_expect "$(lc_received)" "Content-Format:application/json" "libcoap GET /store/x: the PUT's format"

lc -m post -e '{"hi":1}' -t json "$U/echo"
rc_expect_eq "$LOUT" '{"hi":1}' "libcoap POST /echo: payload back"
rc_expect "$(lc_received)" "c:2.04 i:0000 {01} [ Content-Format:application/json ]" "libcoap POST /echo: 2.04, format kept"

lc -m delete "$U/store/x"
rc_expect "$(lc_received)" "c:2.02 " "libcoap DELETE /store/x: 2.02"
lc "$U/store/x"
rc_expect "$(lc_received)" "c:4.04 " "libcoap GET after DELETE: 4.04"
rc_expect "$LLOG" "4.04" "coap-client reports the 4.04"

lc "$U/.well-known/core?rt=time"
rc_expect_re "$LOUT" '^</time>;[^,]*rt="time"[^,]*$' "libcoap discovery ?rt=time: only /time"
rc_expect "$(lc_received)" "Content-Format:application/link-format" "libcoap discovery: link-format"
lc "$U/.well-known/core?href=/hello"
rc_expect_re "$LOUT" '^</hello>;[^,]*title="Greeting"[^,]*$' "libcoap discovery ?href=/hello: only /hello"
lc "$U/.well-known/core"
for p in /hello /time /echo /store /sensors/temp /slow /large; do
  rc_expect "$LOUT" "<$p>;" "libcoap discovery lists $p"
done

mark_d
lc -K 1 "$U/slow?ms=2500"
rc_expect_eq "$LOUT" "sorry for the wait" "libcoap -K 1 GET /slow?ms=2500: answered"
rc_expect "$(lc_received)" "c:Pong" "libcoap gets rcoapd's Pong to its keepalive Ping"
rc_expect "$(since_d)" "< 7.02 Ping" "rcoapd sees libcoap's Ping"
rc_expect "$(since_d)" "> 7.03 Pong" "rcoapd answers with a Pong"
rc_expect_not "$LLOG" " ERR " "libcoap keepalive: no errors logged"

# The static GET (/hello) with Accept, ETag and Block2 from the traced
# rcoapd above (-v: its session encodes every message) and from one
# untraced (the session's fast paths: send_tail, send_parts, the direct
# message hand-over): the same PDUs. libcoap adds Uri-Port, so neither
# takes on_plain (tests/unit/test_app_fastpath.c compares that one).
rcd_start f 1 -l coap+tcp://127.0.0.1:0 || rc_fail "untraced rcoapd starts"
UF=coap+tcp://127.0.0.1:$(rcd_port f 127.0.0.1)
lc_same() {
  local what=$1 a b
  shift
  lc "$@" "$U/hello"
  a="$LOUT|$(lc_received)"
  lc "$@" "$UF/hello"
  b="$LOUT|$(lc_received)"
  rc_expect "$a" "c:" "libcoap GET /hello $what: answered"
  rc_expect_eq "$b" "$a" "libcoap GET /hello $what: the same from the untraced rcoapd"
}
lc_same ""
lc_same "Accept 0" -A 0
lc_same "Accept 50 (4.06)" -A 50
rc_expect "$(lc_received)" "c:4.06 " "libcoap GET /hello Accept 50: 4.06"
lc_same "ETag" -O 4,etag
lc_same "Block2 SZX 0" -b 16
rc_expect "$(lc_received)" "Block2:" "libcoap GET /hello -b 16: Block2 answers"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap GET /hello -b 16: the whole greeting"
rcd_stop f

rcd_alive d && rc_pass "rcoapd still running" || rc_fail "rcoapd died"
rcd_stop d

echo "=== 2. rcoap -> coap-server-notls"
# A port free for both TCP and UDP on 127.0.0.1 (libcoap takes both).
LP=$(rcd_free_port_udp_tcp)
rcd_start_cmd ls 0 '' coap-server-notls -A 127.0.0.1 -p "$LP"
lc_wait_bound ls "$LP" tcp
if ! ss -Hltn "sport = :$LP" | grep -q LISTEN; then
  rc_fail "coap-server-notls does not listen on $LP: $(cat "$RC_TMP/ls.err")"
  rc_done
fi
rc_pass "coap-server-notls listens on 127.0.0.1:$LP"
L=coap+tcp://127.0.0.1:$LP

coap -T $RC_TMO -v -i get "$L/time"
rc_expect_status "$ST" 0 "rcoap GET libcoap /time exits 0"
rc_expect "$OUT" "2.05 Content" "libcoap /time: 2.05"
rc_expect "$OUT" "Max-Age: 1" "libcoap /time: Max-Age 1"
rc_expect_re "$(tail -n 1 <<<"$OUT")" '^[A-Z][a-z]{2} [ 0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]$' \
  "libcoap /time: its 'Mon DD HH:MM:SS' text"
rc_expect "$ERR" "< 7.01 CSM Max-Message-Size:8388864 Block-Wise-Transfer" "rcoap -v shows libcoap's CSM"
rc_expect "$ERR" "> 7.01 CSM" "rcoap -v shows its own CSM"
rc_expect_not "$ERR" "error" "rcoap -v: no errors against libcoap"

coap -T $RC_TMO -i put -d "rcoap was here" "$L/example_data"
rc_expect_status "$ST" 0 "rcoap PUT libcoap /example_data exits 0"
rc_expect_re "$OUT" '^2\.0[14] ' "libcoap PUT: 2.01 or 2.04"
coap -T $RC_TMO get "$L/example_data"
rc_expect_eq "$OUT" "rcoap was here" "rcoap GET libcoap /example_data: what we PUT"
coap -T $RC_TMO delete "$L/example_data"
rc_expect_status "$ST" 4 "libcoap DELETE /example_data: 4.xx, exit 4"
rc_expect "$ERR" "4.05" "libcoap DELETE /example_data: 4.05"

coap_links -T $RC_TMO get "$L/.well-known/core"
rc_expect_status "$ST" 0 "rcoap discovery on libcoap exits 0"
for p in '</>;' '</time>;' '</async>;' '</example_data>;'; do
  rc_expect "$OUT" "$p" "libcoap discovery lists $p"
done
rc_expect_eq "$(wc -l <<<"$OUT")" 4 "libcoap discovery printed one link per line"
rc_expect_re "$(head -n 1 <<<"$OUT")" '^</>;title="General Info";ct=0$' "libcoap discovery: first line whole"
coap -T $RC_TMO get "$L/.well-known/core?rt=ticks"
rc_expect_re "$OUT" '^</time>;[^
]*$' "libcoap discovery ?rt=ticks: only /time"

coap -T $RC_TMO get "$L/no/such"
rc_expect_status "$ST" 4 "libcoap 4.04: exit 4"
rc_expect "$ERR" "4.04 Not Found" "libcoap 4.04 named"

# libcoap's Pong (INTEROP-NOTES §5): no token echoed, Custody added; the
# session matches Pongs by order (unit tests); here we look at the bytes.
RAW=$("${RC_RAWPEER[@]}" 127.0.0.1 "$LP" send:00e1 send:01e2ab expect:10:$((5 * RC_SLOW)) close 2>/dev/null)
DEC=$(rc_run rcoap-decode --stream "$RAW" 2>&1)
rc_expect "$DEC" "7.03 Pong" "libcoap answers a Ping with a Pong"
if grep -A3 '7.03 Pong' <<<"$DEC" | grep -q 'token:    ab'; then
  echo "note: this libcoap echoes the Ping token now"
else
  echo "note: libcoap's Pong carries no token (RFC 8323 §5.4 wants it echoed)"
fi
# ...and after such a peer, rcoap still works against it.
coap -T $RC_TMO get "$L/time"
rc_expect_status "$ST" 0 "rcoap still talks to libcoap"
# rcoap ping: its session matches libcoap's token-less Pong by order.
coap -T $RC_TMO -v ping "$L"
rc_expect_status "$ST" 0 "rcoap ping libcoap: exit 0"
rc_expect "$OUT" "Pong from $L in " "rcoap ping libcoap: a Pong"
rc_expect_re "$OUT" ' in [0-9]+\.[0-9]{3} ms' "rcoap ping libcoap: the round trip"
rc_expect "$ERR" "< 7.03 Pong" "rcoap ping libcoap: -v shows libcoap's Pong"

rcd_alive ls && rc_pass "coap-server-notls still running" || rc_fail "coap-server-notls died"
kill -TERM "$(rcd_pid ls)"
rcd_wait_exit ls 5 || rc_fail "coap-server-notls did not exit on SIGTERM"
rc_done
