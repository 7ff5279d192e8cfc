#!/usr/bin/env bash
# THE main-job command: installs what rcoap needs, builds it, and shows it
# working. Today rcoap is a codec and a decoder tool, so the demo decodes
# real CoAP-over-TCP frames with tools/rcoap-decode: the RFC 8323 §3.3
# example, the CSM libcoap sends, and a GET and its 2.05 answer as one TCP
# byte stream. When rcoapd and the rcoap client exist, this script starts
# rcoapd with its demo resources on every transport and calls it with
# rcoap (see the marked place below).
#
# Environment: BUILD_DIR (default <repo>/build), JOBS, RCOAP_SKIP_DEPS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ "${RCOAP_SKIP_DEPS:-0}" != 1 ]; then
  bash "$ROOT/scripts/install-deps.sh"
fi

echo "== building rcoap in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DRCOAP_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" >"$BUILD_DIR/run-build.log" 2>&1 || {
  tail -n 40 "$BUILD_DIR/run-build.log"
  echo "build failed (log: $BUILD_DIR/run-build.log)"
  exit 1
}
echo "built: $(cd "$BUILD_DIR" && ls -1 rcoap* 2>/dev/null | grep -v '\.a$' | tr '\n' ' ')"

DECODE=$BUILD_DIR/rcoap-decode

show() {
  echo
  echo "== $1"
  shift
  echo "\$ rcoap-decode $*"
  "$DECODE" "$@"
}

show "RFC 8323 §3.3, Figure 5: a 2.03 with token 7f, as framed for TCP" \
  01 43 7f
show "The CSM libcoap 4.3.1 sends first on every TCP connection" \
  50 e1 23 80 01 00 20
# A client's first bytes on a coap+tcp connection (CSM, then GET
# /sensors/temp with Accept: text/plain), then the server's 2.05 answer,
# decoded as one byte stream.
show "A TCP byte stream: CSM, GET /sensors/temp, 2.05 Content \"21.5 C\"" \
  --stream 00 e1 d1 01 01 12 b7 73 65 6e 73 6f 72 73 04 74 65 6d 70 60 \
  a1 45 12 c0 21 3c ff 32 31 2e 35 20 43
show "A malformed frame (option delta nibble 15) is refused by name" \
  20 01 f0 00 || echo "(exit status $?: malformed input, as expected)"

# ---- LATER: the server demo ---------------------------------------------------
# When tools/rcoapd and tools/rcoap exist, start rcoapd here with its demo
# resources on every transport (coap+tcp, coaps+tcp, coap+ws, coaps+ws, and
# later coap over UDP and WebRTC), on loopback, in the background with a
# trap that stops it on exit; then run `rcoap get` against each transport
# and print the answers.
if [ -x "$BUILD_DIR/rcoapd" ] && [ -x "$BUILD_DIR/rcoap" ]; then
  echo
  echo "== rcoapd and rcoap are built; the server demo is not wired in yet"
fi

echo
echo "done. Decode your own frames: $DECODE --help"
