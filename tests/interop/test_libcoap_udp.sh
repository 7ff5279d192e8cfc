#!/usr/bin/env bash
# rcoap against libcoap 4.3.1 (Debian libcoap3-bin) over coap:// (UDP,
# RFC 7252), both ways (INTEROP-NOTES.md §6), with tshark decoding all of
# it:
#  1. coap-client-notls -> rcoapd: GET /hello as CON (rcoapd answers in a
#     piggybacked ACK with the request's Message ID) and as NON (-N: a NON
#     2.05); PUT /store/u then GET; /large in rcoapd's 1024-byte blocks and
#     in the 64-byte blocks libcoap asks for (-b 64), both bodies equal to
#     the one over coap+tcp; the first /large block held back as 4.01 with
#     an Echo (amplification limit) that libcoap repeats its GET with; observe (-s) /sensors/temp: NON notifications
#     with rising Observe numbers; /slow?ms=2500: an empty ACK first, then
#     the answer as a separate CON. coap-client exits 0 whatever happens,
#     so its -v 7 PDU log is what is checked. A POST runs once under the
#     amplification limit: against rcoapd --amplification-factor 1,
#     POST /log (its answer, the log's entries, larger than the request)
#     gets 4.01 + Echo, libcoap repeats it with the Echo under a new
#     token and gets the 2.04 of the one run; /log then holds one entry
#     for it, not two.
#  2. rcoap -> coap-server-notls: GET /time, PUT /example_data of 3000
#     bytes (Block1) and GET it back (Block2), observe /time for 3
#     notifications, ping (libcoap's RST), discovery, a NON request
#     (rcoap -N); coap-server's -v 7 log shows our CON requests and its
#     ACKs, and the NON request with its NON answer.
#  3. tshark: every UDP datagram on both ports decodes as CoAP and none
#     is malformed.
# A missing peer skips (exit 77); under CI=true it fails.
# Usage: bash test_libcoap_udp.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls tshark

# A port free on both UDP and TCP (coap-server-notls opens both).
LP=$(rcd_free_port_udp_tcp)

rcd_start d 2 -v -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1 coap)
U=coap://127.0.0.1:$P
T=coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)

ts_start "$P" "$LP"

# lc (lib/libcoap.sh): LOUT the body, LERR its PDU lines.
# The PDU lines with this type and code.
pdus() { grep -E "t:$1 c:$2 " <<<"$LERR"; }

echo "=== 1. coap-client-notls -> rcoapd"
lc "$U/hello"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap CON GET /hello: body"
mid=$(pdus CON GET | head -n 1 | sed 's/.* i:\([0-9a-f]*\) .*/\1/')
rc_expect "$(pdus ACK 2.05)" "i:$mid " "the 2.05 is piggybacked in the ACK to MID $mid"

lc -N "$U/hello"
rc_expect "$LOUT" "Hello, world! (rcoap" "libcoap NON GET /hello: body"
rc_expect_re "$(pdus NON 2.05)" 'Content-Format:text/plain' "NON request, NON 2.05 answer"
rc_expect_eq "$(pdus ACK '[0-9.]+' | wc -l)" 0 "no ACK to a NON request"

lc -m put -e "libcoap over udp" "$U/store/u"
rc_expect_re "$(pdus ACK '2\.0[14]')" . "libcoap PUT /store/u: 2.01/2.04"
lc "$U/store/u"
rc_expect_eq "$LOUT" "libcoap over udp" "libcoap GET /store/u back"

coap -T $RC_TMO get "$T/large"
cp "$RC_TMP/coap.out" "$RC_TMP/large.tcp"
lc "$U/large"
cmp -s "$RC_TMP/lc.body" "$RC_TMP/large.tcp" &&
  rc_pass "libcoap /large over UDP (rcoapd's blocks) equals coap+tcp" ||
  rc_fail "libcoap /large over UDP differs ($(wc -c <"$RC_TMP/lc.body") bytes)"
# Amplification limit (RFC 9175 §2.4): a fresh client port is not
# confirmed, so the first block (over 3x the request) comes as 4.01 with
# an Echo; libcoap 4.3.1 repeats the request with that Echo (new token).
echo1=$(pdus ACK 4.01 | head -n 1 | sed -n 's/.*Echo:\(0x[0-9a-f]*\).*/\1/p')
rc_expect_re "$echo1" '^0x[0-9a-f]{24}$' "rcoapd answers libcoap's first GET /large with 4.01 and a 12-byte Echo"
rc_expect "$(pdus CON GET | sed -n 2p)" "Echo:$echo1" "libcoap repeats the GET with that Echo"
rc_expect_eq "$(pdus ACK 4.01 | wc -l)" 1 "one 4.01 only: the Echo confirmed the address"
rc_expect "$LERR" "Block2:99/_/1024" "rcoapd's own block size: 100 blocks of 1024"
lc -b 64 "$U/large"
cmp -s "$RC_TMP/lc.body" "$RC_TMP/large.tcp" &&
  rc_pass "libcoap -b 64 /large over UDP equals coap+tcp" ||
  rc_fail "libcoap -b 64 /large differs ($(wc -c <"$RC_TMP/lc.body") bytes)"
rc_expect "$LERR" "Block2:1599/_/64" "the 1600th block of 64 (libcoap's SZX 2 honoured)"

lc -s $((3 * RC_SLOW)) "$U/sensors/temp"
nn=$(pdus NON 2.05 | grep -c 'Observe:')
rc_expect_re "$nn" '^([2-9]|[1-9][0-9]+)$' "observe /sensors/temp: $nn NON notifications"
obs=$(pdus NON 2.05 | sed 's/.*Observe:\([0-9]*\).*/\1/' | tr '\n' ' ')
sorted=$(tr ' ' '\n' <<<"$obs" | grep . | sort -n | tr '\n' ' ')
rc_expect_eq "$obs" "$sorted" "Observe numbers rise ($obs)"

lc "$U/slow?ms=2500"
rc_expect "$LOUT" "sorry for the wait" "libcoap /slow: the answer"
rc_expect_re "$(grep -E 't:ACK c:0.00' <<<"$LERR" | head -n 1)" . "/slow: rcoapd's empty ACK first"
rc_expect_re "$(pdus CON 2.05)" . "/slow: then the 2.05 as a separate CON"

echo "=== 1b. libcoap POST under the amplification limit"
rcd_start e 1 --amplification-factor 1 -l coap://127.0.0.1:0 || rc_fail "rcoapd --amplification-factor 1 starts"
E=coap://127.0.0.1:$(rcd_port e 127.0.0.1 coap)
# One entry first (rcoap): libcoap's Uri-Port makes its request longer
# than an answer with its entry alone.
coap -T $RC_TMO post -d rcoap "$E/log"
rc_expect_eq "$OUT" "#1 rcoap" "rcoap POST /log: its entry"
lc -m post -e libcoap "$E/log"
rc_expect_re "$(pdus ACK 4.01)" 'Echo:0x[0-9a-f]{24}' "libcoap's POST /log: 4.01 with Echo (answer held back)"
rc_expect_re "$(pdus CON POST | sed -n 2p)" '^v:1 t:CON c:POST i:[0-9a-f]+ \{02000000000002\} .*Echo:0x' "libcoap repeats the POST with the Echo under a new token"
rc_expect_eq "$LOUT" "$(printf '#1 rcoap\n#2 libcoap')" "and gets the answer of the one run"
rc_expect_eq "$(pdus CON POST | wc -l)" 2 "two POSTs on the wire"
coap -T $RC_TMO get "$E/log"
rc_expect_eq "$OUT" "$(printf '#1 rcoap\n#2 libcoap')" "GET /log: the handler ran once for them"
rcd_stop e

echo "=== 2. rcoap -> coap-server-notls"
lc_server ls "$LP" -v 7
L=coap://127.0.0.1:$LP
coap -T $RC_TMO -i get "$L/time"
rc_expect_status "$ST" 0 "rcoap GET libcoap /time exits 0"
rc_expect_re "$(tail -n 1 <<<"$OUT")" '^[A-Z][a-z]{2} [ 0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]$' \
  "libcoap /time: its 'Mon DD HH:MM:SS' text"
head -c 2250 /dev/urandom | base64 -w0 >"$RC_TMP/up.txt"
coap -T $RC_TMO -v put -d @"$RC_TMP/up.txt" "$L/example_data"
rc_expect_status "$ST" 0 "rcoap PUT 3000 bytes to libcoap (Block1) exits 0"
rc_expect "$ERR" "Block1:2/0/1024" "the upload went in 1024-byte blocks"
coap -T $RC_TMO get "$L/example_data"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/up.txt")" "libcoap gives the 3000 bytes back (Block2)"
coap -T $((3 * RC_TMO)) observe --count 3 "$L/time"
rc_expect_status "$ST" 0 "rcoap observes libcoap /time"
rc_expect_eq "$(grep -c . <<<"$OUT")" 3 "3 notifications from libcoap"
coap -T $RC_TMO ping "$L/"
rc_expect_status "$ST" 0 "rcoap ping libcoap over UDP"
rc_expect "$OUT" "Pong from $L/" "libcoap's RST is the pong"
coap -T $RC_TMO get "$L/.well-known/core"
rc_expect "$OUT" '</time>' "discovery from libcoap"
coap -T $RC_TMO -N get "$L/time"
rc_expect_status "$ST" 0 "rcoap -N (NON) GET libcoap /time exits 0"
ts_stop # while both servers still hold their ports
# (coap-server's stdout is buffered: read its log once it has exited)
rcd_stop ls 0
LS=$(grep -ho 'v:1 t:.*' "$RC_TMP/ls.out" "$RC_TMP/ls.err" 2>/dev/null)
rc_expect_re "$(grep -E 't:CON c:GET ' <<<"$LS")" . "libcoap saw our requests as CON"
rc_expect_re "$(grep -E 't:ACK c:2.05 ' <<<"$LS")" . "and answered in piggybacked ACKs"
rc_expect_re "$(grep -E 't:RST c:0.00' <<<"$LS")" . "and our ping with a RST"
rc_expect_re "$(grep -E 't:NON c:GET ' <<<"$LS")" . "libcoap saw rcoap -N's request as NON"
rc_expect_re "$(grep -E 't:NON c:2.05 ' <<<"$LS")" . "and answered it NON"
rcd_stop d

echo "=== 3. tshark"
# Wireshark 4.0 does not know Request-Tag (292, RFC 9175; our Block1
# uploads carry it, RFC 9175 §3.4) nor Echo (252, RFC 9175 §2: our 4.01
# to an unconfirmed address carries it) and reports them as "Invalid
# Option Number 292/252" in the Malformed group: those reports are not
# ours.
ts_check "292 252" "Request-Tag, Echo"
TYPES=$(ts -Y coap -T fields -e coap.type | sort -u | tr '\n' ' ')
rc_expect_eq "$TYPES" "0 1 2 3 " "tshark sees CON, NON, ACK and RST"
[ -n "${KEEP_CAP:-}" ] && cp "$CAP" "$KEEP_CAP"
rc_done
