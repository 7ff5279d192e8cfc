#!/bin/bash
# Captures the SDP vectors (capture.mjs) in a private network namespace
# with one closed veth pair (10.77.0.1) and a default route, which
# Chromium needs to gather a candidate (see WEBRTC-NOTES). Needs root,
# /usr/bin/chromium, python3-aiortc, and two folders with node packages:
#   PW_DIR=<dir holding node_modules/playwright-core>/node_modules
#   WERIFT_DIR=<dir where `npm install werift@0.24.4` ran>
# Usage: PW_DIR=... WERIFT_DIR=... bash capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=rc-wrproto-cap-$$
ip netns add "$ns"
cleanup() {
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip -n "$ns" link set lo up
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" addr add 10.77.0.1/24 dev v0
ip -n "$ns" link set v0 up
ip -n "$ns" link set v1 up
ip -n "$ns" route add default via 10.77.0.254 dev v0
ip netns exec "$ns" timeout 120 node "$here/capture.mjs"
