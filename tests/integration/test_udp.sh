#!/usr/bin/env bash
# rcoap <-> rcoapd over coap:// (CoAP over UDP, RFC 7252), IPv4 and IPv6:
#  - GET /hello, PUT then GET /store/x, POST /echo, DELETE, 4.04 (exit 4);
#    /large block-wise (SZX 6: 100 blocks of 1024) identical to the same
#    body over coap+tcp; an upload of 5000 bytes in Block1 read back;
#    observe /sensors/temp for 3 notifications; ping (RST = pong);
#  - a raw UDP peer (lib/udp_peer.py) and the exact answer to each datagram
#    (RFC 7252 §3, §4.2, §4.3, §4.5, §5.2, §5.4.1): a CON GET piggybacked
#    in an ACK with its Message ID and token, its duplicate answered with
#    the same bytes, a NON GET answered NON; silence for a header cut
#    short, versions 0 and 2, NON with TKL 9, an Empty NON, a RST carrying
#    a code; a matching RST for a CON with TKL 9 or 15, an option with
#    delta 15, an option past the end, a lone payload marker, an Empty CON
#    with a token, a CON 7.01; RST for a ping; 4.02 (piggybacked) for an
#    unknown critical option; /slow?ms=1500: an empty ACK first, then the
#    answer as a CON that the peer acknowledges; an observation that
#    ends when the peer answers a NON notification with RST;
#  - rcoap against a fake server sending notifications out of order
#    (Observe 10, 12, 11, 13, 2^23+14, 14): only 10, 12, 13, 14 are shown;
#  - the same malformed datagrams from 50 fresh source ports to a listener
#    of their own: rcoapd keeps no peer for them (its RSTs come
#    statelessly) and still serves.
# Usage: bash test_udp.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
PEER="$RC_SRC/tests/integration/lib/udp_peer.py"

# Without the amplification limit: the raw peer's exact answers below
# are the RFC 7252 ones (test_udp_echo.sh covers the limit). The second
# coap:// listener on 127.0.0.1 is the strangers' (see below).
rcd_start d 5 -v --amplification-factor 0 -l coap://127.0.0.1:0 -l 'coap://[::1]:0' \
  -l coap+tcp://127.0.0.1:0 -l 'coap+tcp://[::1]:0' -l coap://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P4=$(rcd_port d 127.0.0.1 coap)
P6=$(rcd_port d ::1 coap)
U=coap://127.0.0.1:$P4
U6="coap://[::1]:$P6"
T=coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)
PS=$(grep -o "coap://127.0.0.1:[0-9]*" "$RC_TMP/d.out" | sed -n 2p | sed 's/.*://')
rc_expect_re "$PS" '^[1-9]' "the strangers' coap:// listener is open"

echo "=== rcoap -> rcoapd over UDP"
# (Under valgrind the runs marked RC_NATIVE=1 run rcoap natively: a GET
# that repeats an earlier one's client code, over IPv6 again or after the
# strangers, and the coap+tcp download /large is compared with; rcoapd is
# under memcheck throughout. scripts/testlib.sh)
coap -T $RC_TMO get "$U/hello"
rc_expect_status "$ST" 0 "GET /hello over UDP (v4) exits 0"
rc_expect "$OUT" "Hello, world! (rcoap" "GET /hello over UDP (v4): body"
coap -T $RC_TMO get "$U6/hello"
rc_expect_status "$ST" 0 "GET /hello over UDP (v6) exits 0"
rc_expect "$OUT" "Hello, world! (rcoap" "GET /hello over UDP (v6): body"

coap -T $RC_TMO -i put -d "over udp" "$U/store/x"
rc_expect_re "$OUT" '^2\.0[14] ' "PUT /store/x over UDP: 2.01/2.04"
RC_NATIVE=1 coap -T $RC_TMO get "$U6/store/x"
rc_expect_eq "$OUT" "over udp" "GET /store/x back over UDP v6"
coap -T $RC_TMO -i post -t text/plain -d "ping-pong" "$U/echo"
rc_expect "$OUT" "ping-pong" "POST /echo over UDP echoes"
coap -T $RC_TMO -i delete "$U/store/x"
rc_expect "$OUT" "2.02" "DELETE /store/x over UDP: 2.02"
coap -T $RC_TMO get "$U/store/x"
rc_expect_status "$ST" 4 "GET a deleted key over UDP: 4.04 (exit 4)"

coap -T $RC_TMO -v get "$U/large"
rc_expect_status "$ST" 0 "GET /large over UDP exits 0"
cp "$RC_TMP/coap.out" "$RC_TMP/large.udp"
rc_expect "$ERR" "Block2:99/0/1024" "GET /large over UDP: the 100th block of 1024 (SZX 6)"
rc_expect_not "$ERR" "BERT" "no BERT on UDP"
RC_NATIVE=1 coap -T $RC_TMO get "$T/large"
if cmp -s "$RC_TMP/coap.out" "$RC_TMP/large.udp"; then
  rc_pass "/large over UDP equals /large over coap+tcp ($(wc -c <"$RC_TMP/large.udp") bytes)"
else
  rc_fail "/large over UDP differs from coap+tcp"
fi

head -c 5000 /dev/urandom | base64 -w0 >"$RC_TMP/up.txt"
coap -T $RC_TMO -v put -d @"$RC_TMP/up.txt" "$U/store/big"
rc_expect_status "$ST" 0 "PUT 6668 bytes over UDP (Block1) exits 0"
rc_expect "$ERR" "Block1:6/0/1024" "the upload's last Block1 is 6/0/1024"
RC_NATIVE=1 coap -T $RC_TMO get "$U6/store/big"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/up.txt")" "the upload reads back over UDP v6"

coap -T $RC_TMO observe --count 3 "$U/sensors/temp"
rc_expect_status "$ST" 0 "observe /sensors/temp over UDP exits 0"
rc_expect_eq "$(grep -c . <<<"$OUT")" 3 "observe over UDP: 3 notifications"

coap -T $RC_TMO ping "$U/"
rc_expect_status "$ST" 0 "ping over UDP exits 0"
rc_expect "$OUT" "Pong from coap://127.0.0.1:$P4/" "ping over UDP: the RST is the pong"

echo "=== raw datagrams"
# peer WAIT HEX...: one peer sends each datagram; its log in PO. WAIT
# "sync": what comes back before the answer to a ping sent after each
# datagram (lib/udp_peer.py), so silence is not waited out.
peer() {
  PO=$(timeout $((20 * RC_SLOW)) $PY "$PEER" 127.0.0.1 "$P4" "$@" 2>&1)
}
# answers HEX: the lines received after sending HEX (until the next send).
answers() { awk -v h="-- $1" '$0==h{on=1;next} /^-- /{on=0} on' <<<"$PO"; }

GET=41011001aab568656c6c6f
NONGET=51011002aab568656c6c6f
BADCRIT=4101100aaab568656c6c6fe106e901
peer sync $GET $GET $NONGET 4001 400110 49011003010203040506070809 4f011004 \
  59011005010203040506070809 81011006aa 01011007aa 40011008f100 \
  40011009b561 $BADCRIT 4000100b 5000100c 4100100daa 7045100e 40e1100f \
  40011010ff
first=$(answers $GET | head -n 1)
rc_expect_re "$first" '^<- 61451001aa' "CON GET: piggybacked 2.05 in an ACK, same MID and token"
rc_expect "$first" "48656c6c6f2c20776f726c6421" "CON GET: the body"
rc_expect_eq "$(answers $GET | sort -u | grep -c .)" 1 "the duplicate CON gets the same ACK, byte for byte"
rc_expect_eq "$(grep -c '^<- 61451001' <<<"$PO")" 2 "the duplicate is answered (twice in all)"
rc_expect_re "$(answers $NONGET)" '^<- 5145[0-9a-f]{4}aac0ff' "NON GET: a NON 2.05 with the token"
for q in 4001 400110 59011005010203040506070809 81011006aa 01011007aa 5000100c 7045100e; do
  rc_expect_eq "$(answers $q)" "" "silence for $q"
done
for q in 49011003010203040506070809 4f011004 40011008f100 40011009b561 4100100daa 40e1100f 40011010ff 4000100b; do
  rc_expect_eq "$(answers $q)" "<- 7000${q:4:4}" "RST ${q:4:4} for $q"
done
rc_expect_re "$(answers $BADCRIT)" '^<- 6182100aaa' "unknown critical option: 4.02 piggybacked"

# The peer listens until both answers came and then 3.5 s passed without
# another: a retransmission of the separate CON would come 2-3 s after it
# (ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5).
SLOW=41011011aab4736c6f77476d733d31353030
MIN=2 QUIET=3.5 peer $((20 * RC_SLOW)) $SLOW
rc_expect_eq "$(answers $SLOW | sed -n 1p)" "<- 60001011" "/slow: the empty ACK first"
rc_expect_re "$(answers $SLOW | sed -n 2p)" '^<- 4145[0-9a-f]{4}aa' "/slow: then a separate CON 2.05"
rc_expect_re "$(answers $SLOW | sed -n 3p)" '^-> ack ' "/slow: which the peer acknowledges"
rc_expect_eq "$(answers $SLOW | grep -c '^<- 4145')" 1 "/slow: acknowledged, so not retransmitted"

# Observe (RFC 7641 §3.6): a RST to a notification ends the observation,
# so after the first NON notification nothing more comes (/sensors/temp
# notifies every second): the peer listens until 2.5 s pass without one.
OBS=41012001bb605773656e736f72730474656d70
RST_NON=1 MIN=2 QUIET=2.5 peer $((15 * RC_SLOW)) $OBS
rc_expect_re "$(answers $OBS | sed -n 1p)" '^<- 61452001bb' "observe: registered, first answer piggybacked"
rc_expect_re "$(answers $OBS | sed -n 2p)" '^<- 5145[0-9a-f]{4}bb' "observe: a NON notification follows"
rc_expect_re "$(answers $OBS | sed -n 3p)" '^-> rst ' "observe: the peer rejects it with RST"
rc_expect_eq "$(answers $OBS | grep -c '^<- 5145')" 1 "observe: no notification after the RST (2.5 s)"

echo "=== rcoap keeps only the freshest notification (RFC 7641 §3.4)"
$PY "$RC_SRC/tests/integration/lib/udp_reorder_server.py" "$RC_TMP/rs.port" &
RS_PID=$!
for i in $(seq 1 50); do [ -s "$RC_TMP/rs.port" ] && break; sleep 0.1; done
coap -T $RC_TMO observe --count 4 "coap://127.0.0.1:$(cat "$RC_TMP/rs.port")/obs"
# rcoap has its four: the server (which would wait 5 s for a later
# request) is not needed any more.
kill "$RS_PID" 2>/dev/null
wait "$RS_PID" 2>/dev/null
rc_expect_status "$ST" 0 "rcoap observes the reordering server"
rc_expect_eq "$(awk '{print $NF}' <<<"$OUT" | tr '\n' ' ')" "n10 n12 n13 n14 " \
  "Observe 11 after 12, and 2^23 + 14 after 13, are dropped as older"

echo "=== strangers cost nothing"
# A peer's session logs each format error; a stranger's garbage is
# answered by the socket itself (udp.c) and never reaches a session.
# The strangers write to a listener ($PS) no peer has used: each listener
# keeps its own peers, and on $P4 a "fresh" ephemeral port may be one the
# kernel gave an earlier client (rcoap, udp_peer.py) whose peer rcoapd
# still keeps, and whose garbage that peer's session rightly logs (seen
# on a loaded machine, where few ephemeral ports are free).
fe_before=$(grep -c 'message format error' "$RC_TMP/d.err")
rc_expect_re "$fe_before" '^[1-9]' "format errors of a known peer reach its session's log"
PO=$(timeout $((20 * RC_SLOW)) $PY "$PEER" 127.0.0.1 "$PS" sync 4f011004 2>&1)
rc_expect_eq "$(answers 4f011004)" "<- 70001004" "a stranger's bad CON: RST, statelessly"
for i in $(seq 1 50); do
  timeout $((5 * RC_SLOW)) $PY "$PEER" 127.0.0.1 "$PS" sync 4f011004 5000100c 81011006aa 4000100b >/dev/null 2>&1 ||
    rc_fail "stranger $i: no answer to its ping"
done
RC_NATIVE=1 coap -T $RC_TMO get "coap://127.0.0.1:$PS/hello"
rc_expect "$OUT" "Hello, world!" "rcoapd still serves after 50 strangers' garbage"
rc_expect_eq "$(grep -c 'message format error' "$RC_TMP/d.err")" "$fe_before" \
  "no session was made for the 50 strangers"

rcd_stop d
rc_done
