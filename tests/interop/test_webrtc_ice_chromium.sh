#!/bin/bash
# rcoap's ICE agent, SDP and signaling JSON (src/transport/webrtc/) against
# Chromium's ICE agent: tests/ice_peer (ice.c on a UDP socket) answers the
# offer Chromium makes (JSON.stringify of its localDescription) as an
# ICE-lite, DTLS-passive peer; Chromium must accept the answer, reach
# iceConnectionState "connected" with ice_peer's address as its selected
# remote candidate, and ice_peer must select Chromium's address on
# USE-CANDIDATE and then see Chromium's DTLS ClientHello arrive from it.
# Twice: with Chromium's real host address in the offer, and with mDNS on
# (a <uuid>.local candidate ice_peer cannot use: Chromium's address is
# learned peer-reflexively from its checks). Then the other way (with mDNS
# on): ice_peer offers as the controlling full agent, Chromium accepts
# the offer and answers; ice_peer's paced checks and nomination must get
# Chromium's ICE to connected on ice_peer's candidate.
#
# Runs in a private network namespace (rc-<branch>-PID, one closed veth
# pair on 10.77.0.1 with a default route: Chromium gathers no candidate
# on loopback alone, WEBRTC-NOTES §2). Exit 77 without root/netns,
# Chromium, node or tests/web/node_modules (a failure under CI=true).
#
#   bash tests/interop/test_webrtc_ice_chromium.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
WEBT="$RC_SRC/tests/web"
[ -x "$CHROMIUM" ] || rc_skip "no chromium at $CHROMIUM"
command -v node >/dev/null || rc_skip "no node"
rc_web_deps ||
  rc_skip "no tests/web/node_modules (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
PEER=$(rc_tool tests/ice_peer)

. "$RC_SRC/tests/interop/lib/netns.sh"
rc_netns_up "rc-wrproto-$$" || rc_skip "cannot make a network namespace here (ip netns, veth)"

for mdns in 0 1; do
  name="mdns=$mdns"
  out=$(cd "$WEBT" && CHROMIUM="$CHROMIUM" ip netns exec "$RC_NETNS" \
    timeout 90 node webrtc-ice-run.mjs "$PEER" 10.77.0.1 $mdns 60 2>&1)
  st=$?
  printf '%s\n' "$out" | grep -v dbus | sed 's/^/    | /'
  rc_expect_status "$st" 0 "$name: the run completes"
  if [ $mdns = 1 ]; then
    rc_expect "$out" ".local " "$name: Chromium's offer hides its address behind mDNS"
  fi
  rc_expect "$out" "setRemoteDescription: accepted" "$name: Chromium accepts rcoap's answer SDP"
  rc_expect "$out" "chromium ice state: connected" "$name: Chromium's ICE reaches connected against rcoap's lite agent"
  port=$(printf '%s\n' "$out" | sed -n 's/.*a=candidate:1 1 udp [0-9]* 10\.77\.0\.1 \([0-9]*\) typ host.*/\1/p' | head -n 1)
  rc_expect "$out" "remote host 10.77.0.1:$port nominated true" "$name: Chromium nominated rcoap's host candidate"
  rc_expect "$out" "ice_peer: state connected" "$name: rcoap's agent selected a pair (USE-CANDIDATE)"
  rc_expect "$out" "ice_peer: selected 10.77.0.1:" "$name: rcoap selected Chromium's address"
  dtls=$(printf '%s\n' "$out" | sed -n 's/^ice_peer: dtls //p')
  [ "${dtls:-0}" -gt 0 ] && rc_pass "$name: Chromium's DTLS ClientHello reached rcoap from the selected address ($dtls datagrams)" ||
    rc_fail "$name: no DTLS datagram from the selected address"
  rc_expect_not "$out" "ice_peer: state failed" "$name: consent held while Chromium ran"
done
# rcoap offers, Chromium answers (controlled): our checks and nomination.
name="rcoap-offers"
out=$(cd "$WEBT" && CHROMIUM="$CHROMIUM" ip netns exec "$RC_NETNS" \
  timeout 90 node webrtc-ice-run.mjs "$PEER" "$RC_NETNS_IP" 1 60 rcoap-offers 2>&1)
st=$?
printf '%s\n' "$out" | grep -v dbus | sed 's/^/    | /'
rc_expect_status "$st" 0 "$name: the run completes"
rc_expect "$out" "setRemoteDescription: accepted" "$name: Chromium accepts rcoap's offer and answers"
rc_expect "$out" "a=setup:actpass" "$name: the offer is actpass"
rc_expect "$out" "ice_peer: answer: 0 candidates, 1 skipped, RFC 8841, setup 2" "$name: rcoap reads Chromium's answer (mDNS candidate skipped, setup active)"
rc_expect "$out" "chromium ice state: connected" "$name: Chromium's ICE reaches connected on rcoap's checks"
port=$(printf '%s\n' "$out" | sed -n 's/.*a=candidate:1 1 udp [0-9]* 10\.77\.0\.1 \([0-9]*\) typ host.*/\1/p' | head -n 1)
rc_expect "$out" "remote host 10.77.0.1:$port nominated true" "$name: rcoap nominated the pair Chromium selected"
rc_expect "$out" "ice_peer: state connected" "$name: rcoap's controlling agent selected the pair"
rc_expect_not "$out" "ice_peer: state failed" "$name: consent held"
rc_done
