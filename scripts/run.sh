#!/usr/bin/env bash
# THE main-job command: installs what rcoap needs, builds it, and shows it
# working: it decodes real CoAP-over-TCP frames with tools/rcoap-decode (the
# RFC 8323 §3.3 example, the CSM libcoap sends, a GET and its 2.05 answer as
# one TCP byte stream, a malformed frame), then starts rcoapd with its demo
# resources on coap (UDP), coaps (DTLS), coap+tcp, coaps+tcp, coap+ws,
# coaps+ws and coaps+wr (WebRTC; loopback, free ports) and calls each with
# the rcoap client; a
# second rcoapd on UDP only plays a device (its /sensors/temp and
# /store/lamp), which the first proxies as /devices/temp and /devices/lamp
# (--route): rcoap reads and switches it through the proxy, curl reads it
# over HTTP (RFC 8075, /hc/), and the web demo page shows it. Then both stop.
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

# ---- the server demo: rcoapd on every transport, rcoap against each ---------
RCOAPD=$BUILD_DIR/rcoapd
RCOAP=$BUILD_DIR/rcoap
if [ -x "$RCOAPD" ] && [ -x "$RCOAP" ]; then
  STATE=$(mktemp -d "${TMPDIR:-/tmp}/rcoap-demo.XXXXXX")
  mkdir -p "$STATE/device"
  PIDS=()
  stop_rcoapd() {
    for pid in "${PIDS[@]}"; do
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$STATE"
  }
  trap stop_rcoapd EXIT
  echo
  echo "== a device: rcoapd on UDP only (loopback, a free port)"
  "$RCOAPD" -l coap://127.0.0.1:0 --state-dir "$STATE/device" \
    >"$STATE/device.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    grep -q ' listening on ' "$STATE/device.log" && break
    sleep 0.1
  done
  sed 's/^/  | /' "$STATE/device.log"
  DEVICE=$(grep -o 'coap://127\.0\.0\.1:[0-9]*' "$STATE/device.log" | head -n 1)
  [ -n "$DEVICE" ] || { echo "the device rcoapd did not start"; exit 1; }
  "$RCOAP" put -d off "$DEVICE/store/lamp"
  echo
  echo "== rcoapd with its demo resources on every transport, proxying the device"
  "$RCOAPD" -l coap://127.0.0.1:0 -l coaps://127.0.0.1:0 \
    -l coap+tcp://127.0.0.1:0 -l coaps+tcp://127.0.0.1:0 \
    -l coap+ws://127.0.0.1:0 -l coaps+ws://127.0.0.1:0 \
    -l coaps+wr://127.0.0.1:0 \
    --proxy --proxy-allow "$DEVICE" \
    --route "/devices/temp=$DEVICE/sensors/temp" \
    --route "/devices/lamp=$DEVICE/store/lamp" \
    --state-dir "$STATE" >"$STATE/rcoapd.log" 2>&1 &
  PIDS+=($!)
  RCOAPD_PID=$!
  # Bounded wait for its seven "listening on" lines.
  for _ in $(seq 1 100); do
    [ "$(grep -c ' listening on ' "$STATE/rcoapd.log")" -ge 7 ] && break
    kill -0 "$RCOAPD_PID" 2>/dev/null || break
    sleep 0.1
  done
  sed 's/^/  | /' "$STATE/rcoapd.log"
  mapfile -t URLS < <(grep -o 'coaps\{0,1\}\(+tcp\|+ws\)\{0,1\}://127\.0\.0\.1:[0-9]*' \
    "$STATE/rcoapd.log" | sort -u)
  if [ "${#URLS[@]}" -lt 6 ]; then
    echo "rcoapd did not start on every transport (log above)"
    exit 1
  fi
  CA=$STATE/demo-cert.pem # the self-signed certificate rcoapd made
  for url in "${URLS[@]}"; do
    echo
    echo "\$ rcoap --cafile demo-cert.pem get $url/hello"
    "$RCOAP" --cafile "$CA" get "$url/hello"
  done
  tcp=$(printf '%s\n' "${URLS[@]}" | grep '^coap+tcp' | head -n 1)
  ws=$(printf '%s\n' "${URLS[@]}" | grep '^coap+ws' | head -n 1)
  # coaps+wr: a WebRTC data channel (ICE, DTLS, SCTP) set up through the
  # offer/answer that rcoapd's /webrtc resource takes over coap+ws.
  if grep -q 'listening on coaps+wr://' "$STATE/rcoapd.log"; then
    echo
    echo "\$ rcoap --signal $ws/webrtc get coaps+wr://127.0.0.1/hello"
    "$RCOAP" --signal "$ws/webrtc" get coaps+wr://127.0.0.1/hello
  fi
  echo
  echo "\$ rcoap -i get $tcp/.well-known/core"
  "$RCOAP" -i get "$tcp/.well-known/core"
  echo
  echo "== the UDP device through the proxy (coap+tcp in, coap:// out)"
  for cmd in "get $tcp/devices/temp" "put -d on $tcp/devices/lamp" \
    "get $DEVICE/store/lamp"; do
    echo "\$ rcoap $cmd"
    # shellcheck disable=SC2086
    out=$("$RCOAP" $cmd)
    [ -z "$out" ] || echo "$out"
  done
  if command -v curl >/dev/null && [ -n "$ws" ]; then
    echo
    echo "== HTTP to CoAP (RFC 8075): curl -i ${ws/coap+ws/http}/hc/devices/temp"
    curl -s -i --max-time 10 "${ws/coap+ws/http}/hc/devices/temp"
    echo
  fi
  echo
  echo "Try it yourself: $RCOAPD (then: $RCOAP get coap+tcp://127.0.0.1/hello,"
  echo "or open the web demo at http://127.0.0.1:8080/)."
fi

echo
echo "done. Decode your own frames: $DECODE --help"
