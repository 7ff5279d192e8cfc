#!/usr/bin/env bash
# Multicast discovery (RFC 7252 §8) in network namespaces this test makes
# (rc-udpedge-PID: lo up with multicast on, 224.0.0.0/4 routed to it;
# rc-udpedge-cPID for the IPv6 client, deleted on exit):
# two rcoapd --multicast (the second with --serve-dir: one more link,
# /files) and rcoap discover:
#  - GET /.well-known/core to 224.0.1.187: two answers, one from each
#    server's unicast listener (its address and port), each its own
#    link-format (the second with </files>), as NON 2.05 (§8.1);
#  - ?href=/files* filters: only the second answers (§8.2: an empty
#    filtered list gets no answer);
#  - GET /hello and GET /nothing to the group: no answer at all (no error
#    responses to multicast, §8.2): exit 6;
#  - a CON to the group: ignored (§8.1: multicast requests are NON);
#  - a discover where no server listens: exit 6.
#  - IPv6: ff02::fd across a veth pair from a second namespace (loopback
#    does not carry IPv6 multicast), the group's interface named in the
#    URI ([ff02::fd%25IF]); the answer from the server's unicast address.
# Needs root for ip netns: skipped otherwise (a failure under CI=true).
# Usage: bash test_multicast.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
NS=rc-udpedge-$$
command -v ip >/dev/null || rc_skip "no ip (iproute2)"
ip netns add "$NS" 2>/dev/null || rc_skip "ip netns add not permitted here"
trap 'rcd_cleanup; ip netns del "$NS" 2>/dev/null; rm -rf "$RC_TMP"' EXIT
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link set lo multicast on
in_ns ip route add 224.0.0.0/4 dev lo

mkdir -p "$RC_TMP/pub"
echo shared >"$RC_TMP/pub/a.txt"
start() { # start NAME ARGS...
  local n=$1
  shift
  rcd_start_cmd "$n" 1 'multicast discovery on' ip netns exec "$NS" "$RC_BUILD/rcoapd" \
    -l coap://127.0.0.1:0 --multicast --multicast-if lo --leisure 200 \
    --state-dir "$RC_TMP/state-$n" "$@"
}
start a || rc_fail "rcoapd a --multicast starts"
start b --serve-dir "$RC_TMP/pub" || rc_fail "rcoapd b --multicast starts"
PA=$(rcd_port a 127.0.0.1 coap)
PB=$(rcd_port b 127.0.0.1 coap)
echo "servers on ports $PA and $PB"

# disc ARGS...: rcoap discover in the namespace; OUT, ERR, ST.
disc() {
  ST=0
  in_ns "$RC_BUILD/rcoap" "$@" >"$RC_TMP/d.out" 2>"$RC_TMP/d.err" || ST=$?
  OUT=$(cat "$RC_TMP/d.out")
  ERR=$(cat "$RC_TMP/d.err")
}

echo "=== discover"
disc -T 2 discover
rc_expect_status "$ST" 0 "rcoap discover: exit 0"
rc_expect_eq "$(grep -c . <<<"$OUT")" 2 "two answers"
A=$(grep "^coap://127.0.0.1:$PA " <<<"$OUT")
B=$(grep "^coap://127.0.0.1:$PB " <<<"$OUT")
rc_expect "$A" "</hello>;" "server a answers from its unicast listener with its links"
rc_expect_not "$A" "</files>" "(a has no /files)"
rc_expect "$B" "</files>;ct=40" "server b answers from its own, with /files"

disc -T 2 discover 'coap://224.0.1.187/.well-known/core?href=/files*'
rc_expect_eq "$OUT" "coap://127.0.0.1:$PB </files>;ct=40;title=\"files (read-only)\"" \
  "?href=/files*: only b answers (a's empty list is suppressed)"

for p in hello nothing; do
  disc -T 1 discover "coap://224.0.1.187/$p"
  rc_expect_status "$ST" 6 "GET /$p to the group: no answer (exit 6)"
  rc_expect "$ERR" "no answer to the multicast request within -T 1 s" "and says so"
done

echo "=== the exact answer, a CON"
# A raw client (prints ms after sending, source port, datagram): NON GET /.well-known/core?rt=time, token 1122334455667788;
# then the same as CON (must stay unanswered).
RAW=$(in_ns $PY - <<'EOF'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
q = bytes.fromhex("1122334455667788") + b"\xbb.well-known\x04core\x47rt=time"
t0 = time.monotonic()
s.sendto(b"\x58\x01\x12\x34" + q, ("224.0.1.187", 5683))
s.settimeout(2)
got = []
try:
    while True:
        d, a = s.recvfrom(2000)
        got.append((round((time.monotonic() - t0) * 1000), a[1], d.hex()))
except socket.timeout:
    pass
for ms, port, hx in got:
    print("%d %d %s" % (ms, port, hx))
s.sendto(b"\x48\x01\x12\x35" + q, ("224.0.1.187", 5683))
s.settimeout(1)
try:
    print("CON answered " + s.recv(2000).hex())
except socket.timeout:
    print("CON silent")
EOF
)
echo "$RAW"
rc_expect_eq "$(grep -c '^[0-9]' <<<"$RAW")" 2 "rt=time: both servers answer"
# NON (0x58: Ver 1, NON, TKL 8) 2.05, token, Content-Format 40, the link
want='^[0-9]+ [0-9]+ 5845[0-9a-f]{4}1122334455667788c128ff'
rc_expect_re "$(sed -n 1p <<<"$RAW")" "$want" "an exact NON 2.05 with the token and Content-Format 40"
rc_expect "$(sed -n 1p <<<"$RAW")" "$(printf '</time>' | od -An -tx1 | tr -d ' \n')" "carrying </time>"
rc_expect "$RAW" "CON silent" "a CON to the group gets nothing"

rcd_stop a
rcd_stop b
disc -T 1 discover
rc_expect_status "$ST" 6 "nobody listening: exit 6"

echo "=== IPv6: ff02::fd over a veth pair (server and client namespaces)"
NS6=rc-udpedge-c$$
V=ue$$
ip netns add "$NS6" || rc_fail "second namespace"
trap 'rcd_cleanup; ip netns del "$NS" 2>/dev/null; ip netns del "$NS6" 2>/dev/null; rm -rf "$RC_TMP"' EXIT
ip link add "${V}a" type veth peer name "${V}b" &&
  ip link set "${V}a" netns "$NS" && ip link set "${V}b" netns "$NS6" &&
  ip -n "$NS" link set "${V}a" up && ip -n "$NS6" link set "${V}b" up &&
  ip -n "$NS6" link set lo up &&
  ip -n "$NS" addr add fd00:99::1/64 dev "${V}a" nodad &&
  ip -n "$NS6" addr add fd00:99::2/64 dev "${V}b" nodad ||
  rc_fail "veth pair with fd00:99::1 and ::2"
rcd_start_cmd v6 1 'multicast discovery on' ip netns exec "$NS" "$RC_BUILD/rcoapd" \
  -l 'coap://[fd00:99::1]:0' --multicast --multicast-if "${V}a" --leisure 200 \
  --state-dir "$RC_TMP/state-v6" || rc_fail "rcoapd on fd00:99::1 --multicast starts"
P6=$(rcd_port v6 '\[fd00:99::1\]' coap)
ST=0
ip netns exec "$NS6" "$RC_BUILD/rcoap" -T 2 discover "coap://[ff02::fd%25${V}b]" \
  >"$RC_TMP/d.out" 2>"$RC_TMP/d.err" || ST=$?
OUT=$(cat "$RC_TMP/d.out")
rc_expect_status "$ST" 0 "rcoap discover coap://[ff02::fd%25${V}b]: exit 0"
rc_expect_re "$OUT" "^coap://\[fd00:99::1\]:$P6 </counter>;" "the answer comes from the server's unicast [fd00:99::1]:$P6"
rcd_stop v6
rc_done
