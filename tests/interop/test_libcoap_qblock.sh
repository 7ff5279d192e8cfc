#!/usr/bin/env bash
# Q-Block (RFC 9177) over coap:// against Debian's libcoap 4.3.1 and
# between rcoap and rcoapd on a lossy link:
#  1. coap-client-notls -L 5 (COAP_BLOCK_TRY_Q_BLOCK) -> rcoapd: GET and
#     PUT of 100 KiB bodies arrive intact. Debian builds libcoap without
#     Q-Block (no "Q-Block" in its option names: the -L 4 bit does
#     nothing), so its PDU log is checked to say which options it used.
#  2. rcoap --qblock -> coap-server-notls (no Q-Block): the Q-Block2 GET
#     gets 4.02 and the first Q-Block1 set gets Resets (RFC 7252 §5.4.1);
#     rcoap starts over in Block2/Block1 and the 100 KiB come back intact.
#  3. tshark decodes every datagram of 1 and 2 as CoAP, with no malformed
#     or error report (Request-Tag, unknown to Wireshark 4.0, aside).
#  4. rcoap --qblock <-> rcoapd in a network namespace whose loopback
#     loses 5% of datagrams (tc netem, or an nftables random-drop rule
#     where the kernel has no netem): a 100 KiB GET and PUT in Q-Block
#     sets, lost blocks asked for again, bytes intact. Left out when
#     namespaces are not permitted (a failure under CI=true).
# A missing peer skips (exit 77); under CI=true it fails.
# Usage: bash test_libcoap_qblock.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls tshark

LP=$(rcd_free_port_udp_tcp)
rcd_start d 1 -l coap://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1 coap)
U=coap://127.0.0.1:$P

ts_start "$P" "$LP"

head -c 102400 /dev/urandom >"$RC_TMP/body.bin"
head -c 102400 /dev/urandom >"$RC_TMP/body2.bin"

# lc (lib/libcoap.sh) with -L 5 (COAP_BLOCK_TRY_Q_BLOCK): LERR its PDU lines.
LC_T=$((60 * RC_SLOW))
LC_B=$((30 * RC_SLOW))
same() { cmp -s "$1" "$2" && rc_pass "$3" || rc_fail "$3 ($(wc -c <"$2") bytes differ)"; }

echo "=== 1. coap-client-notls -L 5 -> rcoapd"
lc -m put -b 1024 -f "$RC_TMP/body.bin" "$U/store/qb"
rc_expect_re "$(grep -E 'c:2\.0[14] ' <<<"$LERR")" . "libcoap -L 5 PUT 100 KiB: 2.01/2.04"
coap -T $RC_TMO -o "$RC_TMP/back.bin" get "$U/store/qb"
same "$RC_TMP/body.bin" "$RC_TMP/back.bin" "the 100 KiB libcoap PUT arrived intact"
lc -b 1024 -o "$RC_TMP/lc.body" "$U/store/qb"
same "$RC_TMP/body.bin" "$RC_TMP/lc.body" "libcoap -L 5 GET of the 100 KiB: intact"
if grep -q 'Q-Block' <<<"$LERR"; then
  rc_pass "(libcoap used Q-Block options)"
else
  rc_expect "$LERR" "Block2:99/_/1024" \
    "(libcoap 4.3.1 as built by Debian has no Q-Block: -L 5 used Block2)"
fi

echo "=== 2. rcoap --qblock -> coap-server-notls (no Q-Block)"
lc_server ls "$LP" -v 7
L=coap://127.0.0.1:$LP
coap -T $((20 * RC_SLOW)) -v --qblock put -d @"$RC_TMP/body2.bin" "$L/example_data"
rc_expect_status "$ST" 0 "rcoap --qblock PUT 100 KiB to libcoap exits 0"
rc_expect "$ERR" "Q-Block1:0/1/1024" "the first set went with Q-Block1"
rc_expect "$ERR" "no Q-Block at the server" "libcoap's Resets made rcoap start over"
rc_expect "$ERR" "Block1:99/0/1024" "then in Block1 to the last block"
coap -T $((20 * RC_SLOW)) -v --qblock -o "$RC_TMP/ls.body" get "$L/example_data"
rc_expect_status "$ST" 0 "rcoap --qblock GET from libcoap exits 0"
rc_expect "$ERR" "4.02 Bad Option" "libcoap answered the Q-Block2 GET 4.02"
same "$RC_TMP/body2.bin" "$RC_TMP/ls.body" "the 100 KiB came back intact (Block2)"
ts_stop # while both servers still hold their ports
rcd_stop ls 0
rcd_stop d

echo "=== 3. tshark"
# Wireshark 4.0 knows neither Request-Tag (292), Echo (252: rcoapd's
# 4.01 to a new address and the request repeated with it, RFC 9175 §2.4)
# nor Q-Block1 (19) and Q-Block2 (31), and reports each as "Invalid
# Option Number N" in the Malformed group.
ts_check "19 31 292 252" "Request-Tag, Echo, Q-Block"

echo "=== 4. rcoap --qblock <-> rcoapd, 5% loss (netns + netem)"
# Parts 1-3 stand on their own: without namespaces part 4 is left out
# (a failure under CI=true, where the runner is root).
no_ns() {
  if [ "${CI:-}" = true ]; then
    rc_fail "part 4 cannot run in CI: $*"
  else
    echo "SKIP part 4: $*"
  fi
  rc_done
}
NS=rc-qblock-$$
if [ "$(id -u)" != 0 ] || ! ip netns add "$NS" 2>/dev/null; then
  no_ns "cannot make a network namespace here (needs root and ip netns)"
fi
trap 'rcd_cleanup; ip netns del "$NS" 2>/dev/null; rm -rf "$RC_TMP"' EXIT
nx() { ip netns exec "$NS" "$@"; }
nx ip link set lo up
# tc netem where the kernel has it, else an nftables rule dropping one
# UDP datagram in 20 at random.
if ! nx tc qdisc add dev lo root netem loss 5% 2>/dev/null; then
  command -v nft >/dev/null || no_ns "neither tc netem nor nft here"
  { nx nft add table inet rcloss &&
    nx nft add chain inet rcloss out '{ type filter hook output priority 0; }' &&
    nx nft add rule inet rcloss out meta l4proto udp numgen random mod 20 == 0 drop; } ||
    no_ns "cannot add an nftables loss rule in the namespace"
fi
rcd_start_cmd dn 1 ' listening on ' ip netns exec "$NS" "$(rc_tool rcoapd)" \
  -l coap://127.0.0.1:0 --state-dir "$RC_TMP/state-dn" || {
  rc_fail "rcoapd starts in the namespace"
  rc_done
}
PN=$(rcd_port dn 127.0.0.1 coap)
N=coap://127.0.0.1:$PN
ncoap() {
  ST=0
  nx "$(rc_tool rcoap)" "$@" >"$RC_TMP/coap.out" 2>"$RC_TMP/coap.err" || ST=$?
  ERR=$(cat "$RC_TMP/coap.err")
}
ncoap -T $((90 * RC_SLOW)) -v --qblock put -d @"$RC_TMP/body.bin" "$N/store/lossy"
rc_expect_status "$ST" 0 "Q-Block1 PUT 100 KiB over 5% loss exits 0"
rc_expect "$ERR" "Q-Block1:99/0/1024" "the body went in Q-Block1 sets"
ncoap -T $((90 * RC_SLOW)) -v --qblock -o "$RC_TMP/lossy.bin" get "$N/store/lossy"
rc_expect_status "$ST" 0 "Q-Block2 GET 100 KiB over 5% loss exits 0"
rc_expect "$ERR" "Q-Block2:99/0/1024" "the body came in Q-Block2 sets"
same "$RC_TMP/body.bin" "$RC_TMP/lossy.bin" "100 KiB up and down over 5% loss: intact"
echo "    (requests naming missing blocks on the way down:" \
  "$(grep -cE '^> .*Q-Block2:[0-9]+/0/1024' <<<"$ERR"))"
rcd_stop dn
rc_done
