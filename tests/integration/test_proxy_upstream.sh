#!/usr/bin/env bash
# rcoapd's proxy and its upstreams (coap+tcp origins scripted by
# lib/coap_tcp_origin.py, which logs every request it receives):
#  - cache (RFC 7252 §5.6): a second GET within Max-Age, from another
#    downstream transport, is served without an upstream request; after
#    Max-Age the proxy validates with the entry's ETag, the origin answers
#    2.03 and the downstream gets the stored 2.05; a downstream that sends
#    the ETag itself gets 2.03; a PUT makes the entry stale; --proxy-cache 0
#    sends every GET upstream;
#  - a connection reset with a GET in flight: the GET is sent again on a
#    new connection (once) and answered; a POST in the same situation gets
#    5.02 with a diagnostic and is not sent again; the proxy keeps serving;
#  - an rcoapd origin killed (SIGKILL) during a slow GET: the GET is sent
#    again, finds it gone, and the downstream gets 5.02 at once, with a
#    diagnostic;
#  - an origin that is down: 5.02 naming the refusal, then at once 5.03
#    with Max-Age (the back-off left) without dialling; after the back-off
#    it is tried again.
# Usage: bash test_proxy_upstream.sh BUILD_DIR  (RCOAP_VALGRIND=1: memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
ORIGIN="$RC_SRC/tests/integration/lib/coap_tcp_origin.py"

origin() { # NAME ARGS...: starts an origin, its port in $PORT
  local name=$1
  shift
  rcd_start_cmd "$name" 1 '^port ' $PY "$ORIGIN" --life $((60 * RC_SLOW)) "$@" || {
    rc_fail "origin $name starts"
    rc_done
  }
  PORT=$(awk '/^port /{print $2; exit}' "$RC_TMP/$name.out")
}
# reqs NAME PATTERN: how many of NAME's log lines match PATTERN
reqs() { grep -c -- "$2" "$RC_TMP/$1.out"; }

# Times scale with RC_SLOW (valgrind): Max-Age, back-off.
MA=$((RC_SLOW > 1 ? 15 : 2))
BO=$((RC_SLOW > 1 ? 20000 : 1500))
origin oc --max-age $MA
OC=coap+tcp://127.0.0.1:$PORT
rcd_start px 2 -v --proxy --proxy-timeout $((3000 * RC_SLOW)) \
  --proxy-backoff $BO,$((4 * BO)) --proxy-allow 'coap+tcp://127.0.0.1:*' \
  -l coap+ws://127.0.0.1:0 -l coap://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
PXU=coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)

echo "=== cache"
coap -T $RC_TMO -i get -O "35,$OC/r" "$PXW/"
rc_expect "$OUT" "representation 1" "GET /r over coap+ws through the proxy"
# The subject here is rcoapd --proxy (under memcheck in the valgrind pass,
# like every rcoapd of this test); rcoap is only the client, under memcheck
# in its own tests: after its first run here it runs natively
# (RC_NATIVE_TOOLS, scripts/testlib.sh).
RC_NATIVE_TOOLS=rcoap
coap -T $RC_TMO -i get -O "35,$OC/r" "$PXU/"
rc_expect "$OUT" "representation 1" "GET /r again, over coap:// (UDP)"
rc_expect_eq "$(reqs oc 'GET /r')" 1 "the second GET is served from the cache: one upstream request"
sleep "$MA.3"
coap -T $RC_TMO -i get -O "35,$OC/r" "$PXW/"
rc_expect "$OUT" "2.05 Content" "after Max-Age the downstream still gets 2.05"
rc_expect "$OUT" "representation 1" "with the stored body"
rc_expect_eq "$(reqs oc 'GET /r etag=7631')" 1 "the proxy validated with the entry's ETag"
rc_expect_eq "$(reqs oc '^valid')" 1 "and the origin answered 2.03"
coap -T $RC_TMO -i get -O 4,0x7631 -O "35,$OC/r" "$PXW/"
rc_expect "$OUT" "2.03 Valid" "a downstream sending the ETag gets 2.03 from the fresh entry"
rc_expect_eq "$(reqs oc 'GET /r')" 2 "without an upstream request"
coap -T $RC_TMO -i put -d x -O "35,$OC/r" "$PXW/"
rc_expect "$OUT" "2.04" "PUT /r through the proxy"
coap -T $RC_TMO -i get -O "35,$OC/r" "$PXW/"
rc_expect_eq "$(reqs oc 'GET /r etag=-')" 2 "after the PUT the next GET goes upstream again"

echo "=== a connection reset with the request in flight"
origin od --drop 1
OD=coap+tcp://127.0.0.1:$PORT
coap -T $RC_TMO -i get -O "35,$OD/x" "$PXW/"
rc_expect "$OUT" "ok /x" "the GET is answered after the reset"
rc_expect_eq "$(reqs od 'GET /x')" 2 "it went upstream twice: once more on a new connection"
rc_expect "$(cat "$RC_TMP/od.out")" "req 2 GET /x" "the second time on connection 2"
rc_expect "$(cat "$RC_TMP/px.err")" "sending it again" "the proxy says it retries"
origin oe --drop 1
OE=coap+tcp://127.0.0.1:$PORT
coap -T $RC_TMO -i post -d y -O "35,$OE/y" "$PXW/"
rc_expect "$OUT" "5.02 Bad Gateway" "a POST whose connection drops gets 5.02"
rc_expect_re "$OUT" "proxy: coap\+tcp://127.0.0.1:$PORT failed: " "with a diagnostic naming the origin"
rc_expect_eq "$(reqs oe 'POST /y')" 1 "the POST is not sent again"
coap -T $RC_TMO -i get -O "35,$OE/z" "$PXU/"
rc_expect "$OUT" "ok /z" "the proxy keeps serving that origin"

echo "=== an rcoapd origin killed while it works on a GET"
rcd_start ok 1 -v -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd origin starts"
  rc_done
}
OK=coap+tcp://127.0.0.1:$(rcd_port ok 127.0.0.1)
coap -T $RC_TMO -i get -O "35,$OK/slow?ms=$((3000 * RC_SLOW))" "$PXW/" &
CPID=$!
for _ in $(seq 1 $((50 * RC_SLOW))); do
  grep -q 'GET .*Uri-Path:"slow"' "$RC_TMP/ok.err" && break
  sleep 0.1
done
rcd_kill ok
wait "$CPID"
OUT=$(cat "$RC_TMP/coap.out")
rc_expect "$OUT" "5.02 Bad Gateway" "the downstream gets 5.02 (not 5.04 after the timeout)"
# The retry finds the port closed, or (when it beat the dying process's
# listener) a connection that is reset at once.
rc_expect_re "$OUT" "proxy: coap\+tcp://127.0.0.1:[0-9]+ failed: connection (refused|reset by peer.*sent twice)" \
  "naming the origin and why, after the retry"
if rcd_alive px; then rc_pass "the proxy keeps running"; else rc_fail "the proxy keeps running"; fi

echo "=== an origin that is down: back-off, fail fast"
rcd_kill od
coap -T $RC_TMO -i get -O "35,$OD/a" "$PXW/"
rc_expect "$OUT" "5.02 Bad Gateway" "the dead origin: 5.02"
rc_expect "$OUT" "next attempt in $BO ms" "naming the back-off"
coap -T $RC_TMO -i get -O "35,$OD/b" "$PXU/"
rc_expect "$OUT" "5.03 Service Unavailable" "at once after: 5.03 without dialling"
rc_expect_re "$OUT" "Max-Age: [1-9]" "with Max-Age, the seconds left"
rc_expect "$OUT" "unreachable; next attempt in" "and a diagnostic"
coap -T $RC_TMO observe --count 1 -O "35,$OD/o" "$PXW/"
rc_expect "$OUT$ERR" "5.03" "an observe registration for it gets 5.03 at once too"
sleep "$(awk -v b="$BO" 'BEGIN{print b / 1000 + 0.3}')"
coap -T $RC_TMO -i get -O "35,$OD/c" "$PXW/"
rc_expect "$OUT" "next attempt in $((2 * BO)) ms" "after the back-off it dials again, then backs off twice as long"

echo "=== --proxy-cache 0"
rcd_start p0 1 --proxy --proxy-cache 0 --proxy-allow 'coap+tcp://127.0.0.1:*' \
  -l coap+ws://127.0.0.1:0 || {
  rc_fail "proxy without a cache starts"
  rc_done
}
P0=coap+ws://127.0.0.1:$(rcd_port p0 127.0.0.1 coap+ws)
N0=$(reqs oe 'GET /n')
coap -T $RC_TMO get -O "35,$OE/n" "$P0/"
coap -T $RC_TMO get -O "35,$OE/n" "$P0/"
rc_expect_eq "$(($(reqs oe 'GET /n') - N0))" 2 "without a cache both GETs go upstream"
rcd_stop p0
rcd_stop px
rc_done
