#!/bin/bash
# Captures the SDP vectors (capture.mjs) in a private network namespace
# with one closed veth pair (10.77.0.1) and a default route, which
# Chromium needs to gather a candidate (see WEBRTC-NOTES). Needs root,
# /usr/bin/chromium, python3-aiortc, and two folders with node packages:
#   PW_DIR=<dir holding node_modules/playwright-core>/node_modules
#   PEERS_DIR=<dir where `npm install werift@0.24.4 node-datachannel@0.33.4` ran>
# Usage: PW_DIR=... PEERS_DIR=... bash capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../interop/lib/netns.sh"
rc_netns_up "rc-wrproto-cap-$$"
ip netns exec "$RC_NETNS" timeout 120 node "$here/capture.mjs"
ip netns exec "$RC_NETNS" timeout 60 node "$here/capture_media.mjs"
