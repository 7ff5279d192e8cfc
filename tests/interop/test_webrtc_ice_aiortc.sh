#!/bin/bash
# rcoap's ICE agent, SDP and signaling JSON (src/transport/webrtc/) against
# aiortc 1.4 / aioice 0.8 (Debian python3-aiortc), both ways, through
# tests/ice_peer (the agent on a real UDP socket) and
# tests/interop/aiortc_ice_peer.py:
#  - aiortc offers (the legacy DTLS/SCTP + sctpmap SDP, aioice
#    controlling): ice_peer answers as ICE-lite in the same legacy form;
#    aioice must accept it, complete ICE with ice_peer's candidate
#    nominated, ice_peer must select aiortc's address and see its DTLS.
#  - ice_peer offers (RFC 8841 form, controlling full agent: paced checks,
#    nomination): aiortc answers a=setup:active; both complete ICE on
#    each other's host candidates, and aiortc's DTLS reaches ice_peer.
# In a private network namespace (tests/interop/lib/netns.sh: aioice skips
# loopback). Exit 77 without root/netns or python3-aiortc (a failure under
# CI=true).
#
#   bash tests/interop/test_webrtc_ice_aiortc.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
PY=/usr/bin/python3 # Debian's: the aiortc package is not on other pythons
$PY -c 'import aiortc' 2>/dev/null || rc_skip "no python3-aiortc for $PY (apt-get install python3-aiortc)"
PEER=$(rc_tool tests/ice_peer)
. "$RC_SRC/tests/interop/lib/netns.sh"
rc_netns_up "rc-wrproto-$$" || rc_skip "cannot make a network namespace here (ip netns, veth)"

for mode in aiortc-offers rcoap-offers; do
  out=$(ip netns exec "$RC_NETNS" timeout 60 $PY "$RC_SRC/tests/interop/aiortc_ice_peer.py" \
    "$PEER" "$RC_NETNS_IP" "$mode" 2>&1)
  st=$?
  printf '%s\n' "$out" | cut -c1-300 | sed 's/^/    | /'
  rc_expect_status "$st" 0 "$mode: the run completes"
  if [ $mode = aiortc-offers ]; then
    rc_expect "$out" "ice_peer: offer: 1 candidates, 0 skipped, legacy" "$mode: rcoap reads aiortc's legacy offer"
    rc_expect "$out" 'm=application' "$mode: rcoap answers"
    rc_expect "$out" 'DTLS/SCTP 5000\r\n' "$mode: in the legacy form"
    rc_expect "$out" 'a=ice-lite' "$mode: as ICE-lite"
  else
    rc_expect "$out" "UDP/DTLS/SCTP webrtc-datachannel" "$mode: rcoap offers in the RFC 8841 form"
    rc_expect "$out" "ice_peer: answer: 1 candidates, 0 skipped, RFC 8841, setup 2" "$mode: rcoap reads aiortc's answer (setup active)"
  fi
  rc_expect "$out" "aiortc: descriptions exchanged" "$mode: aiortc accepts rcoap's SDP"
  rc_expect "$out" "aiortc ice: completed" "$mode: aioice completes ICE with rcoap"
  port=$(printf '%s\n' "$out" | sed -n 's/.*a=candidate:1 1 udp [0-9]* 10\.77\.0\.1 \([0-9]*\) typ host.*/\1/p' | head -n 1)
  rc_expect "$out" "aiortc pair: $RC_NETNS_IP:$port" "$mode: aioice nominated rcoap's candidate"
  rc_expect "$out" "ice_peer: state connected" "$mode: rcoap's agent selected a pair"
  dtls=$(printf '%s\n' "$out" | sed -n 's/^ice_peer: dtls //p')
  [ "${dtls:-0}" -gt 0 ] && rc_pass "$mode: aiortc's DTLS reached rcoap on the selected pair ($dtls datagrams)" ||
    rc_fail "$mode: no DTLS datagram from the selected address"
done
rc_done
