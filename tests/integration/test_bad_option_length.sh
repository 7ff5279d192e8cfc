#!/usr/bin/env bash
# Known options with a value length outside their range (RFC 7252 §5.4.3:
# such an option is handled like an unrecognized one, §5.4.1), both ways,
# over coap:// and coap+tcp://, exact bytes from scripted peers:
#  - rcoap against lib/bad_opt_origin.py: a 2.05 with a 3-byte
#    Content-Format, 4-byte Observe, 5-byte Max-Age or 9-byte ETag
#    (elective) is taken without that option (rcoap -i prints the code
#    and no option line); one with a 4-byte Block2 (critical) is
#    rejected (exit 7, "response rejected");
#  - raw requests to rcoapd: a POST /echo with a 3-byte Content-Format is
#    answered 2.04 without one (the handler did not see it); a GET
#    /sensors/temp with a 4-byte Observe is a plain GET (no Observe in the
#    answer, no registration); a CON GET /hello with a 4-byte Block2 gets
#    4.02, a NON one a RST; over coap+tcp the same POST and GET.
# Usage: bash test_bad_option_length.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
LIB=$RC_SRC/tests/integration/lib

echo "=== rcoap against answers with malformed options"
rcd_start_cmd o 2 '^[ut][dc]p [0-9]' $PY "$LIB/bad_opt_origin.py" $((60 * RC_SLOW)) || rc_fail "origin starts"
OU=$(awk '/^udp/ { print $2 }' "$RC_TMP/o.out")
OT=$(awk '/^tcp/ { print $2 }' "$RC_TMP/o.out")
for base in "coap://127.0.0.1:$OU" "coap+tcp://127.0.0.1:$OT"; do
  coap -T $RC_TMO -i get "$base/ok"
  rc_expect_eq "$OUT" "$(printf '2.05 Content\nContent-Format: text/plain; charset=utf-8\n\nbody')" "$base/ok: a well-formed Content-Format is shown"
  for p in cf obs ma etag; do
    coap -T $RC_TMO -i get "$base/$p"
    rc_expect_status "$ST" 0 "$base/$p: rcoap exits 0"
    rc_expect_eq "$OUT" "$(printf '2.05 Content\n\nbody')" "$base/$p: the malformed elective option is ignored"
  done
  coap -T $RC_TMO get "$base/b2"
  rc_expect_status "$ST" 7 "$base/b2: a 4-byte Block2 (critical) rejects the answer"
  rc_expect "$ERR" "response rejected" "$base/b2: rcoap says so"
done
rcd_stop o 143 # SIGTERM ends Python with 128 + 15

echo "=== requests with malformed options to rcoapd"
rcd_start d 2 -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1 coap)
PT=$(rcd_port d 127.0.0.1)
# POST /echo, Content-Format 0x00002a (3 bytes), payload "x"
CF=41020001aab46563686f1300002aff78
# GET /sensors/temp, Observe 0x00000000 (4 bytes)
OBS=41010002aa64000000005773656e736f72730474656d70
# GET /hello, Block2 0x00000002 (4 bytes), CON and NON
B2=41010003aab568656c6c6fc400000002
NB2=51010004aab568656c6c6fc400000002
PO=$(timeout $((20 * RC_SLOW)) $PY "$LIB/udp_peer.py" 127.0.0.1 "$P" sync $CF $OBS $B2 $NB2 2>&1)
answers() { awk -v h="-- $1" '$0==h{on=1;next} /^-- /{on=0} on' <<<"$PO"; }
rc_expect_eq "$(answers $CF)" "<- 61440001aaff78" "POST /echo with a 3-byte Content-Format: 2.04 'x' without one"
rc_expect_re "$(answers $OBS)" '^<- 61450002aac' "GET /sensors/temp with a 4-byte Observe: 2.05 without Observe (first option Content-Format)"
rc_expect_re "$(answers $B2)" '^<- 61820003aa' "CON GET /hello with a 4-byte Block2: 4.02"
rc_expect_eq "$(answers $NB2)" "<- 70000004" "NON GET /hello with a 4-byte Block2: RST"

# coap+tcp: CSM, then the POST and the GET (token aa, bb)
RAW=$(timeout $((20 * RC_SLOW)) $PY "$LIB/rawpeer.py" 127.0.0.1 "$PT" send:00e1 \
  send:b102aab46563686f1300002aff78 send:b101bbb568656c6c6fc400000002 \
  drain:$((2 * RC_SLOW)) 2>/dev/null)
RAW=$(tr -d ' \n' <<<"$RAW")
# after rcoapd's CSM: 2.04 (Len 2, TKL 1) token aa, payload "x", no option
rc_expect "$RAW" "2144aaff78" "coap+tcp POST /echo with a 3-byte Content-Format: 2.04 'x' without one"
# 4.02 (Len 13 + 0x13, TKL 1) token bb, then its diagnostic
rc_expect "$RAW" "d11382bb" "coap+tcp GET /hello with a 4-byte Block2: 4.02"
rcd_stop d
rc_done
