#!/usr/bin/env bash
# rcoapd as a proxy (RFC 7252 §5.7, RFC 8323, RFC 8768), on loopback:
#  - forward: rcoap over coap+ws -> rcoapd --proxy -> an rcoapd on coap://
#    (UDP): GET /hello by Proxy-Uri and by Proxy-Scheme + Uri-Host +
#    Uri-Port; the upstream sees Hop-Limit 16 and never the downstream
#    token;
#  - 1 MiB both ways across UDP <-> WS: GET a 1 MiB file from the UDP
#    server through a coap+ws client (one message downstream, as the
#    client's Max-Message-Size allows; 1024-byte blocks upstream), PUT 1 MiB through coap+ws to the UDP server and read it
#    back directly; the same (GET, PUT) from a coap:// client to a
#    coap+ws server, the GET relayed block by block (a GET upstream per
#    block);
#  - six concurrent clients (ws, udp, tcp) reach a coap+ws server through
#    one upstream connection;
#  - two proxies routed at each other (coap+tcp one way, coap+ws the
#    other): 5.08 Hop Limit Reached;
#  - upstream refusing (closed TCP port, or UDP port: ICMP) or a coaps://
#    upstream with an untrusted certificate 5.02, silent (a UDP socket that
#    never answers) 5.04, a destination not allowed 5.05, the proxy's own
#    listener 5.05, each with its text/plain diagnostic; a plain rcoapd
#    answers Proxy-Uri 5.05; the proxy still serves afterwards;
#  - reverse: --route /lamp=coap://.../hello serves the UDP server's
#    resource to a coap+tcp client, and /.well-known/core lists </lamp>.
# Usage: bash test_proxy.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3

mkdir -p "$RC_TMP/files"
head -c $((1024 * 1024)) /dev/urandom >"$RC_TMP/files/big.bin"

# A free TCP port (for the second proxy, which the first one routes to).
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The upstream origin: UDP, TCP and WS, serving big.bin under /files.
rcd_start up 4 -v -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 \
  -l coap+ws://127.0.0.1:0 -l coaps://127.0.0.1:0 --serve-dir "$RC_TMP/files" || {
  rc_fail "upstream rcoapd starts"
  rc_done
}
UPP=$(rcd_port up 127.0.0.1 coap)
UPU=coap://127.0.0.1:$UPP
UPW=coap+ws://127.0.0.1:$(rcd_port up 127.0.0.1 coap+ws)
UPT=coap+tcp://127.0.0.1:$(rcd_port up 127.0.0.1)

# A UDP socket that never answers, and a TCP port nobody listens on.
$PY -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$RC_TMP/silent.port" &
SILENT_PID=$!
CLOSED=$(free_port)
B_TCP=$(free_port)

rcd_start px 3 --proxy --proxy-timeout $((2000 * RC_SLOW)) \
  --proxy-allow 'coap://127.0.0.1:*' --proxy-allow 'coap+ws://127.0.0.1:*' \
  --proxy-allow "coap+tcp://127.0.0.1:*" --proxy-allow 'coaps://127.0.0.1:*' \
  --route "/lamp=$UPU/hello" --route "/loop=coap+tcp://127.0.0.1:$B_TCP/loop" \
  -l coap+ws://127.0.0.1:0 -l coap://127.0.0.1:0 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
PXU=coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)
PXT=coap+tcp://127.0.0.1:$(rcd_port px 127.0.0.1)
rcd_start pb 1 --route "/loop=$PXW/loop" -l "coap+tcp://127.0.0.1:$B_TCP" || {
  rc_fail "second proxy rcoapd starts"
  rc_done
}
SILENT=$(head -n 1 "$RC_TMP/silent.port")

echo "=== forward: coap+ws -> proxy -> coap:// (UDP)"
coap -T $RC_TMO -i get -O "35,$UPU/hello" "$PXW/"
rc_expect_status "$ST" 0 "GET by Proxy-Uri succeeds"
rc_expect "$OUT" "2.05 Content" "the UDP server's 2.05 comes back over WS"
rc_expect "$OUT" "Hello, world!" "with its body"
# The subject here is rcoapd --proxy (under memcheck in the valgrind pass,
# like every rcoapd of this test); rcoap is only the client, under memcheck
# in its own tests: after its first run here it runs natively
# (RC_NATIVE_TOOLS, scripts/testlib.sh).
RC_NATIVE_TOOLS=rcoap
TOK=$(printf '%s\n' "$OUT" | grep -o 'tok=[0-9a-f]*' | head -n 1 | cut -d= -f2)
sleep 0.2
rc_expect "$(cat "$RC_TMP/up.err")" "Hop-Limit:16" "the upstream request carries Hop-Limit 16 (RFC 8768)"
rc_expect_not "$(grep -i 'proxy-uri' "$RC_TMP/up.err")" "Proxy-Uri" "and no Proxy-Uri"
if [ -n "$TOK" ] && grep -q "$TOK" "$RC_TMP/up.err"; then
  rc_fail "the downstream token $TOK reached the upstream"
else
  rc_pass "the downstream token ($TOK) is not sent upstream"
fi
coap -T $RC_TMO get -O 39,coap -O 3,127.0.0.1 -O "7,$UPP" "$PXW/hello"
rc_expect_status "$ST" 0 "GET by Proxy-Scheme + Uri-Host + Uri-Port"
rc_expect "$OUT" "Hello, world!" "gets the UDP server's /hello"

echo "=== 1 MiB across UDP <-> WS"
coap -T $((30 * RC_SLOW)) -v get -o "$RC_TMP/got1" -O "35,$UPU/files/big.bin" "$PXW/"
rc_expect_status "$ST" 0 "GET 1 MiB from the UDP server through a coap+ws client"
rc_expect_re "$ERR" '< 2\.05 Content .*\(1048576 bytes\)' \
  "served to the coap+ws client whole (its CSM allows 8 MiB messages)"
rc_expect_re "$(cat "$RC_TMP/up.err")" 'Block2:1023/0/1024' \
  "fetched from the UDP server in 1024 blocks of 1024"
if cmp -s "$RC_TMP/got1" "$RC_TMP/files/big.bin"; then
  rc_pass "the 1 MiB body arrives byte for byte (UDP -> WS)"
else
  rc_fail "the 1 MiB body differs (UDP -> WS): $(wc -c <"$RC_TMP/got1" 2>/dev/null) bytes"
fi
coap -T $((30 * RC_SLOW)) put -d "@$RC_TMP/files/big.bin" -O "35,$UPU/store/big" "$PXW/"
rc_expect_status "$ST" 0 "PUT 1 MiB through coap+ws to the UDP server"
coap -T $((30 * RC_SLOW)) get -o "$RC_TMP/got2" "$UPT/store/big"
if cmp -s "$RC_TMP/got2" "$RC_TMP/files/big.bin"; then
  rc_pass "the upstream stored the 1 MiB upload byte for byte (WS -> UDP)"
else
  rc_fail "the stored upload differs: $(wc -c <"$RC_TMP/got2" 2>/dev/null) bytes"
fi
BIG_GETS=$(grep -c 'Uri-Path:"big.bin"' "$RC_TMP/up.err")
coap -T $((30 * RC_SLOW)) get -o "$RC_TMP/got3" -O "35,$UPW/files/big.bin" "$PXU/"
rc_expect_status "$ST" 0 "GET 1 MiB from the WS server through a coap:// client"
# Relayed block by block (proxy.c relay_block): one upstream GET per
# 1024-byte block the UDP client asks for, not one BERT fetch of the body.
BIG_GETS=$(($(grep -c 'Uri-Path:"big.bin"' "$RC_TMP/up.err") - BIG_GETS))
if [ "$BIG_GETS" -ge 1024 ]; then
  rc_pass "relayed block by block: $BIG_GETS GETs reached the WS server"
else
  rc_fail "relayed block by block: only $BIG_GETS GETs reached the WS server"
fi
if cmp -s "$RC_TMP/got3" "$RC_TMP/files/big.bin"; then
  rc_pass "the 1 MiB body arrives byte for byte (WS -> UDP)"
else
  rc_fail "the 1 MiB body differs (WS -> UDP): $(wc -c <"$RC_TMP/got3" 2>/dev/null) bytes"
fi
coap -T $((30 * RC_SLOW)) put -d "@$RC_TMP/files/big.bin" -O "35,$UPW/store/big2" "$PXU/"
rc_expect_status "$ST" 0 "PUT 1 MiB through coap:// to the WS server"
coap -T $((30 * RC_SLOW)) get -o "$RC_TMP/got4" "$UPT/store/big2"
if cmp -s "$RC_TMP/got4" "$RC_TMP/files/big.bin"; then
  rc_pass "the upstream stored the 1 MiB upload byte for byte (UDP -> WS)"
else
  rc_fail "the stored upload differs: $(wc -c <"$RC_TMP/got4" 2>/dev/null) bytes"
fi

echo "=== one upstream connection per origin, shared by every downstream client"
WSPORT=$(rcd_port up 127.0.0.1 coap+ws)
pids=()
for i in 1 2 3 4 5 6; do
  case $((i % 3)) in 0) via=$PXW ;; 1) via=$PXU ;; 2) via=$PXT ;; esac
  rc_run rcoap -T $RC_TMO get -O "35,$UPW/hello" "$via/" >"$RC_TMP/c$i.out" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
n_ok=$(grep -l "Hello, world!" "$RC_TMP"/c[1-6].out | wc -l)
rc_expect_eq "$n_ok" 6 "six concurrent clients over ws, udp and tcp all get the WS server's /hello"
rc_expect_eq "$(ss -Htn state established "( dport = :$WSPORT )" | wc -l)" 1 \
  "through one coap+ws connection from the proxy to the server"

echo "=== two proxies in a loop"
coap -T $((10 * RC_SLOW)) -i get "$PXT/loop"
rc_expect_status "$ST" 5 "the loop ends in a 5.xx"
rc_expect "$OUT" "5.08 Hop Limit Reached" "5.08 Hop Limit Reached (RFC 8768)"
rc_expect "$OUT" "hop limit reached" "with a diagnostic"

coap -T $RC_TMO -i get -O 16,1 -O "35,$UPU/hello" "$PXW/"
rc_expect "$OUT" "5.08 Hop Limit Reached" "a request arriving with Hop-Limit 1 is not forwarded: 5.08"

echo "=== failures, each with a diagnostic"
coap -T $RC_TMO -i get -O "35,coap+tcp://127.0.0.1:$CLOSED/x" "$PXW/"
rc_expect "$OUT" "5.02 Bad Gateway" "upstream not listening: 5.02"
rc_expect "$OUT" "proxy: coap+tcp://127.0.0.1:$CLOSED failed" "saying which upstream failed"
coap -T $RC_TMO -i get -O "35,coap://127.0.0.1:$CLOSED/x" "$PXW/"
rc_expect "$OUT" "5.02 Bad Gateway" "a UDP upstream not listening (ICMP port unreachable): 5.02"
rc_expect "$OUT" "connection refused" "saying it was refused"
# coaps:// upstreams are spoken (DTLS); the upstream's self-signed demo
# certificate is not in the proxy's trust store: 5.02 saying so.
coap -T $RC_TMO -i get -O "35,coaps://127.0.0.1:$(rcd_port up 127.0.0.1 coaps)/hello" "$PXW/"
rc_expect "$OUT" "5.02 Bad Gateway" "a coaps:// upstream with an untrusted certificate: 5.02"
rc_expect "$OUT" "certificate" "saying it was the certificate"
coap -T $((10 * RC_SLOW)) -i get -O "35,coap://127.0.0.1:$SILENT/x" "$PXW/"
rc_expect "$OUT" "5.04 Gateway Timeout" "upstream silent: 5.04"
rc_expect "$OUT" "did not answer within $((2000 * RC_SLOW)) ms" "saying how long it waited"
coap -T $RC_TMO -i get -O "35,coap+tcp://10.255.255.1:5683/x" "$PXW/"
rc_expect "$OUT" "5.05 Proxying Not Supported" "a destination not allowed: 5.05"
rc_expect "$OUT" "is not an allowed destination (--proxy-allow)" "saying why"
coap -T $RC_TMO -i get -O "35,$PXT/hello" "$PXW/"
rc_expect "$OUT" "is this proxy itself" "its own listener: refused"
coap -T $RC_TMO -i get -O "35,coap+ws://127.0.0.2:8080/x" "$PXU/"
rc_expect "$OUT" "not an allowed destination" "a host outside the rules, asked over UDP: refused"
coap -T $RC_TMO -i get -O "35,$UPU/hello" "$UPT/"
rc_expect "$OUT" "5.05 Proxying Not Supported" "an rcoapd without --proxy answers Proxy-Uri 5.05"
rc_expect "$OUT" "not a forward proxy" "saying so"
coap -T $RC_TMO get -O "35,$UPU/hello" "$PXT/"
rc_expect "$OUT" "Hello, world!" "the proxy still serves afterwards (over coap+tcp)"

echo "=== reverse route"
coap -T $RC_TMO get "$PXT/lamp"
rc_expect_status "$ST" 0 "GET /lamp on the proxy over coap+tcp"
rc_expect "$OUT" "Hello, world!" "serves the UDP server's /hello"
coap -T $RC_TMO get "$PXT/.well-known/core"
rc_expect "$OUT" "</lamp>" "/.well-known/core lists the route"

kill "$SILENT_PID" 2>/dev/null
wait "$SILENT_PID" 2>/dev/null
rcd_stop pb
rcd_stop px
rcd_stop up
rc_done
