#!/usr/bin/env bash
# HTTP-to-CoAP (RFC 8075) on rcoapd's HTTP ports, with curl on loopback:
#  - curl -> rcoapd --proxy (coap+ws port, http://) -> rcoapd on coap://
#    (UDP): /hc/coap://.../hello (the URI as is, and percent-encoded
#    whole), a --route (/hc/devices/hello), two requests on one kept-alive
#    connection; PUT / POST bodies with Content-Type <-> Content-Format
#    both ways; 2.01 -> 201, 4.04 -> 404, 4.05 -> 405 with the upstream's
#    diagnostic as the body; Max-Age -> Cache-Control;
#  - a small origin (lib/coap_origin.py): ETag out as an entity-tag, back
#    in (If-None-Match) as a CoAP ETag whose 2.03 is 304; an unknown
#    Content-Format is application/octet-stream; Hop-Limit 16 inserted;
#    a 2.01's Location-Path / Location-Query as Location;
#  - over HTTPS (the coaps+ws port) the same;
#  - libcoap's coap-server-notls as the origin, when installed;
#  - the upstream machinery of CoAP proxying (proxy_upstream.c): a GET
#    answered again from the response cache (the origin asked once), an
#    If-None-Match of the cached ETag 304 from the cache; a closed port's
#    back-off: the next request 503 with Retry-After (5.03 + Max-Age);
#  - failures: a closed UDP port 502, a silent one 504, a destination not
#    allowed 502, no route 404, a Content-Type without Content-Format 415,
#    a malformed request 400; a chunked body decoded; the static files
#    still served.
# Usage: bash test_proxy_http.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
command -v curl >/dev/null || rc_skip "curl is not installed"

rcd_start up 1 -v -l coap://127.0.0.1:0 || {
  rc_fail "upstream rcoapd starts"
  rc_done
}
UP=coap://127.0.0.1:$(rcd_port up 127.0.0.1 coap)
rcd_start_cmd origin 0 '' $PY "$RC_SRC/tests/integration/lib/coap_origin.py" \
  "$RC_TMP/origin.port" $((60 * RC_SLOW))
$PY -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1], flush=True); time.sleep(int(sys.argv[1]))' \
  $((60 * RC_SLOW)) >"$RC_TMP/silent.port" &
SILENT_PID=$!
CLOSED=$(rcd_free_port 127.0.0.1)
for _ in $(seq 1 50); do
  [ -s "$RC_TMP/origin.port" ] && [ -s "$RC_TMP/silent.port" ] && break
  sleep 0.1
done
ORIGIN=coap://127.0.0.1:$(cat "$RC_TMP/origin.port")
SILENT=$(cat "$RC_TMP/silent.port")

rcd_start px 2 --proxy --proxy-timeout $((1500 * RC_SLOW)) \
  --proxy-backoff $((5000 * RC_SLOW)),$((5000 * RC_SLOW)) \
  --proxy-allow 'coap://127.0.0.1:*' --route "/devices/hello=$UP/hello" \
  --web-root "$RC_SRC/web" \
  -l coap+ws://127.0.0.1:0 -l coaps+ws://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
H=http://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
HS=https://127.0.0.1:$(rcd_port px 127.0.0.1 coaps+ws)

# hc URL [CURL ARGS...]: curl -i; HEAD (status line + fields) in HD, the
# body in BODY, the status code in CODE.
hc() {
  local url=$1
  shift
  rm -f "$RC_TMP/h" "$RC_TMP/b"
  curl -s -S -k --max-time $((10 * RC_SLOW)) -D "$RC_TMP/h" -o "$RC_TMP/b" \
    "$@" "$url" 2>"$RC_TMP/curl.err"
  HD=$(tr -d '\r' <"$RC_TMP/h")
  BODY=$(cat "$RC_TMP/b" 2>/dev/null)
  CODE=$(head -n 1 <<<"$HD" | cut -d' ' -f2)
}

echo "=== GET through /hc/"
hc "$H/hc/$UP/hello"
rc_expect_eq "$CODE" 200 "GET /hc/coap://.../hello: 2.05 is 200"
rc_expect "$BODY" "Hello, world!" "with the UDP server's body"
rc_expect "$HD" "Content-Type: text/plain; charset=utf-8" "Content-Format 0 is text/plain; charset=utf-8"
rc_expect "$HD" "Cache-Control: max-age=60" "no Max-Age: fresh for CoAP's default 60 s"
rc_expect_not "$HD" "Connection: close" "the connection is kept alive"
ENC=$($PY -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$UP/hello")
hc "$H/hc/$ENC"
rc_expect "$CODE $BODY" "200 Hello, world!" "the target URI percent-encoded whole ({tu}) is decoded once"
hc "$H/hc/devices/hello"
rc_expect "$CODE $BODY" "200 Hello, world!" "/hc/devices/hello follows --route /devices/hello"
curl -s -v --max-time $((10 * RC_SLOW)) "$H/hc/$UP/hello" "$H/hc/devices/hello" \
  >"$RC_TMP/two.out" 2>"$RC_TMP/two.err"
rc_expect_eq "$(grep -o 'Hello, world!' "$RC_TMP/two.out" | wc -l)" 2 "two requests in one curl run"
rc_expect "$(cat "$RC_TMP/two.err")" "Re-using existing connection" "share one kept-alive connection"
hc "$H/hc/$UP/sensors/temp"
rc_expect "$HD" "Cache-Control: max-age=1" "Max-Age 1 is Cache-Control: max-age=1"

echo "=== bodies and Content-Format both ways"
hc "$H/hc/$UP/store/k" -X PUT -H 'Content-Type: application/json' --data '{"on":true}'
rc_expect_eq "$CODE" 201 "PUT /store/k with a JSON body: 2.01 is 201"
hc "$H/hc/$UP/store/k"
rc_expect "$CODE $BODY" '200 {"on":true}' "GET it back: the body went upstream"
rc_expect "$HD" "Content-Type: application/json" "Content-Format 50 is application/json"
coap -T $RC_TMO -v get "$UP/store/k"
rc_expect "$ERR" "Content-Format:application/json" "the body was stored upstream with Content-Format 50"
hc "$H/hc/$UP/echo" -X POST -H 'Content-Type: text/plain' --data-binary 'ping'
rc_expect "$CODE $BODY" "200 ping" "POST /echo: the body comes back"
hc "$H/hc/$UP/store/k" -X PUT -H 'Content-Type: text/html' --data '<p>'
rc_expect_eq "$CODE" 415 "a Content-Type without a Content-Format: 415"
hc "$H/hc/$UP/hello" -X DELETE
rc_expect_eq "$CODE" 405 "DELETE on /hello: 4.05 is 405"
hc "$H/hc/$UP/nothing"
rc_expect_eq "$CODE" 404 "an unknown resource: 4.04 is 404"
hc "$H/hc/$UP/store/k" -X OPTIONS
rc_expect_eq "$CODE" 501 "OPTIONS has no CoAP method: 501"

echo "=== ETag, validation, unknown Content-Format (lib/coap_origin.py)"
hc "$H/hc/$ORIGIN/v"
rc_expect "$CODE $BODY" "200 v1" "GET /v from the small origin"
rc_expect "$HD" 'ETag: "0102"' "ETag 0x0102 is the entity-tag \"0102\""
rc_expect "$HD" "Content-Type: application/octet-stream" "Content-Format 9999 (unregistered) is application/octet-stream"
rc_expect "$HD" "Cache-Control: max-age=5" "Max-Age 5 is max-age=5"
nv() { grep -c 'path=/v opts=11:76,16:10$' "$RC_TMP/origin.out"; }
rc_expect_eq "$(nv)" 1 "the origin saw one GET /v"
hc "$H/hc/$ORIGIN/v"
rc_expect "$CODE $BODY" "200 v1" "GET /v again: answered from the proxy's cache (--proxy-cache)"
rc_expect_eq "$(nv)" 1 "the origin still saw only one GET /v"
rc_expect_re "$HD" "Cache-Control: max-age=[1-5]" "max-age lowered by the entry's age"
hc "$H/hc/$ORIGIN/v" -H 'If-None-Match: "0102"'
rc_expect "$CODE $BODY" "304 " "If-None-Match \"0102\" of the cached entry: 304 from the cache, no body"
rc_expect_eq "$(nv)" 1 "without asking the origin"
hc "$H/hc/$ORIGIN/v" -H 'If-None-Match: "0102"' -H 'Accept: application/octet-stream'
rc_expect_eq "$CODE" 304 "another cache key (Accept): the origin's 2.03 Valid is 304"
rc_expect_eq "$BODY" "" "without a body"
rc_expect "$(cat "$RC_TMP/origin.out")" "opts=4:0102,11:76,16:10,17:2a" \
  "upstream the validation carried ETag 0x0102, Hop-Limit 16 and Accept 42"
hc "$H/hc/$ORIGIN/c" -X POST -H 'Content-Type: text/plain' --data-binary 'new'
rc_expect_eq "$CODE" 201 "POST /c: 2.01 is 201"
rc_expect "$HD" "Location: /hc/$ORIGIN/c/a%20b?x=1" "Location-Path / Location-Query are the Location, under /hc/"
hc "$H/hc/$ORIGIN/x"
rc_expect "$CODE $BODY" "404 no such thing" "a 4.04's diagnostic payload is the body"
rc_expect "$HD" "Content-Type: text/plain; charset=utf-8" "as text"

echo "=== HTTPS"
hc "$HS/hc/$UP/hello"
rc_expect "$CODE $BODY" "200 Hello, world!" "GET /hc/ over https (the coaps+ws port)"

echo "=== failures"
hc "$H/hc/coap://127.0.0.1:$CLOSED/x"
rc_expect_eq "$CODE" 502 "a UDP port nobody listens on: 502"
rc_expect "$BODY" "connection refused" "saying it was refused"
hc "$H/hc/coap://127.0.0.1:$CLOSED/y"
rc_expect_eq "$CODE" 503 "again while the origin backs off (--proxy-backoff): 5.03 is 503"
rc_expect_re "$HD" "Retry-After: [1-9][0-9]*" "its Max-Age is Retry-After"
rc_expect "$BODY" "unreachable; next attempt in" "saying when the next attempt is"
hc "$H/hc/coap://127.0.0.1:$SILENT/x"
rc_expect_eq "$CODE" 504 "a silent upstream: 504"
rc_expect "$BODY" "did not answer within $((1500 * RC_SLOW)) ms" "saying how long it waited"
hc "$H/hc/coap+tcp://127.0.0.1:5683/x"
rc_expect_eq "$CODE" 502 "a destination not allowed: 5.05 is 502"
rc_expect "$BODY" "not an allowed destination" "saying why"
hc "$H/hc/devices/nothing"
rc_expect "$CODE $BODY" "404 proxy: no route for /devices/nothing" "no route: 404 naming the path"
hc "$H/hc/$UP/echo" -X POST -H 'Transfer-Encoding: chunked' \
  -H 'Content-Type: text/plain' --data-binary 'chunky'
rc_expect "$CODE $BODY" "200 chunky" "a chunked request body (RFC 9112 §7.1) is decoded and sent on"
BAD=$($PY - "$(rcd_port px 127.0.0.1 coap+ws)" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /hc/x HTTP/1.1\r\nHost : h\r\n\r\n")
print(s.recv(4096).decode(errors="replace").splitlines()[0])
EOF
)
rc_expect "$BAD" "HTTP/1.1 400 Bad Request" "a malformed request: 400"
hc "$H/index.html"
rc_expect_eq "$CODE" 200 "the demo page is still served beside /hc/"

if command -v coap-server-notls >/dev/null; then
  echo "=== libcoap coap-server-notls as the origin"
  LP=$(rcd_free_port_udp_tcp)
  rcd_start_cmd lc 0 '' coap-server-notls -A 127.0.0.1 -p "$LP"
  for _ in $(seq 1 50); do
    coap -T 1 get "coap://127.0.0.1:$LP/" && break
    sleep 0.1
  done
  hc "$H/hc/coap://127.0.0.1:$LP/"
  rc_expect_eq "$CODE" 200 "GET / of coap-server-notls through /hc/"
  rc_expect "$BODY" "libcoap" "its text"
else
  [ "${CI:-}" = true ] && rc_fail "coap-server-notls is missing"
  echo "(libcoap's coap-server-notls not installed: that part skipped)"
fi

kill "$SILENT_PID" 2>/dev/null
wait "$SILENT_PID" 2>/dev/null
rcd_stop px
rcd_stop up
rc_done
