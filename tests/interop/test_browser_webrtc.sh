#!/bin/bash
# The demo page in headless Chromium with its CoAP session over a WebRTC
# data channel to rcoapd (coaps+wr): rcoapd serves web/ and coap+ws on
# 127.0.0.1 and coaps+wr on 10.77.0.1 inside a private network namespace
# (tests/interop/lib/netns.sh: Chromium gathers no candidates on loopback
# alone); tests/web/browser-webrtc-run.mjs opens the page with ?webrtc=1:
# the page's rcoap.js POSTs its offer to /webrtc over coap+ws, sets
# rcoapd's answer, and runs CSM, discovery, GET /hello and the observed
# temperature over the channel (ICE with rcoapd's lite agent, DTLS with
# Chromium as server, SCTP, DCEP "coap"); the page says which transport
# carried each response; a PUT to /store/NAME read back by GET, observed
# from the form and changed by a second PUT that arrives as notification 2;
# the Devices card (rcoapd's --route to a UDP rcoapd "device" in the same
# namespace, draft-groves §10 gateway: WebRTC peer -> proxy -> coap://)
# read live and its lamp toggled over the channel, then read from the
# device itself with rcoap over UDP; then the switch back to coap+ws. Twice: with
# Chromium's default mDNS host candidates (rcoapd learns Chromium's
# address from its checks) and with real addresses. Screenshots:
# BUILD_DIR/web-demo-webrtc.png, web-demo-webrtc-nomdns.png. A third run
# (web-demo-webrtc-media.png): the page's connection also has audio and
# video transceivers and sends its offer at once (trickle, no candidate):
# rcoapd's answer rejects those sections with port 0 in their places,
# BUNDLE only the data channel, and the session runs as before.
# Exit 77 without root/netns, Chromium, node, tests/web/node_modules, or an
# rcoapd without coaps+wr (a failure under CI=true).
#
#   bash tests/interop/test_browser_webrtc.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
WEBT="$RC_SRC/tests/web"
[ -x "$CHROMIUM" ] || rc_skip "no chromium at $CHROMIUM"
command -v node >/dev/null || rc_skip "no node"
rc_web_deps ||
  rc_skip "no tests/web/node_modules (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
RCOAPD=$(rc_tool rcoapd) || rc_done
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
. "$RC_SRC/tests/interop/lib/netns.sh"
rc_netns_up "rc-wrproto-$$" || rc_skip "cannot make a network namespace here (ip netns, veth)"

rcd_start_cmd dev 1 ' listening on ' ip netns exec "$RC_NETNS" "$RCOAPD" \
  -l coap://127.0.0.1:0 --state-dir "$RC_TMP/state-dev" || {
  rc_fail "the UDP device rcoapd starts in the namespace"
  rc_done
}
DEV=coap://127.0.0.1:$(rcd_port dev 127.0.0.1 coap)
devcoap() { ip netns exec "$RC_NETNS" "$(rc_tool rcoap)" -T 10 "$@"; }
devcoap put -d off "$DEV/store/lamp" >/dev/null 2>&1 &&
  rc_pass "the device's lamp starts off" || rc_fail "PUT off to the device's lamp"
rcd_start_cmd d 2 ' listening on ' ip netns exec "$RC_NETNS" "$RCOAPD" \
  -l "coaps+wr://$RC_NETNS_IP:0" -l coap+ws://127.0.0.1:0 --web-root "$RC_SRC/web" \
  --route "/devices/temp=$DEV/sensors/temp" --route "/devices/lamp=$DEV/store/lamp" \
  --state-dir "$RC_TMP/state-d" ||
  rc_skip "this rcoapd does not serve coaps+wr (-l coaps+wr://)"
URL=$(grep -o 'web demo: http://127\.0\.0\.1:[0-9]*/' "$RC_TMP/d.out" | sed 's/web demo: //')
[ -n "$URL" ] && rc_pass "rcoapd serves the page at $URL and coaps+wr on $RC_NETNS_IP" ||
  { rc_fail "no web demo URL in: $(cat "$RC_TMP/d.out")"; rc_done; }

for run in mdns nomdns media; do
  mdns=1 media=0 name="mdns=1" steps=full
  # The PUT/observe and Devices steps once: after set-up the runs are alike.
  [ $run = nomdns ] && mdns=0 name="mdns=0" steps=basic
  [ $run = media ] && media=1 name="audio+video+data, trickle" steps=basic
  shot="$RC_BUILD/web-demo-webrtc$([ $run != mdns ] && echo "-$run").png"
  rm -f "$shot"
  out=$(cd "$WEBT" && CHROMIUM="$CHROMIUM" RCOAP_WEB_EXPECT_DEVICES=1 ip netns exec "$RC_NETNS" \
    env RCOAP_WEB_MEDIA=$media RCOAP_WEB_STEPS=$steps timeout 120 node browser-webrtc-run.mjs "$URL" "$shot" $mdns 2>&1)
  st=$?
  printf '%s\n' "$out" | grep -v dbus | sed 's/^/    | /'
  rc_expect_status "$st" 0 "$name: the page runs to the end"
  rc_expect "$out" 'transport: coaps+wr: WebRTC data channel "coap"' "$name: the session moved onto the data channel"
  rc_expect "$out" "status: connected" "$name: the page is connected"
  rc_expect "$out" "discovered: " "$name: /.well-known/core answered over the channel"
  rc_expect "$out" "GET /hello: 2.05 Content" "$name: GET /hello answered 2.05"
  rc_expect "$out" "via coaps+wr (data channel)" "$name: the page says the data channel carried it"
  rc_expect "$out" "temperature: observing" "$name: /sensors/temp observed over the channel"
  if [ $steps = full ]; then
  rc_expect_re "$out" 'PUT store: 2\.01 Created .* via coaps\+wr' "$name: PUT /store/NAME over the channel: 2.01"
  rc_expect_re "$out" 'GET store back: 2\.05 Content "first value [0-9]*" .* via coaps\+wr.* equal: true' \
    "$name: GET reads the PUT value back over the channel"
  rc_expect_re "$out" 'OBSERVE store: 2\.05 Content "first value [0-9]*" .*notification 1' "$name: the form observes it"
  rc_expect_re "$out" 'after PUT 2\.04 Changed: 2\.05 Content "second value [0-9]*" .*notification 2.*notified: true' \
    "$name: the second PUT arrives as notification 2 in the page"
  rc_expect_re "$out" 'device /devices/temp -> -?[0-9.]+ \(read live' "$name: the UDP device's temperature through the proxy, over the channel"
  rc_expect_re "$out" 'device /devices/lamp toggled (on|off) -> (on|off)' "$name: the lamp toggled from the page"
  rc_expect_re "$out" 'log: /devices/lamp over the channel: [1-9][0-9]* .*PUT' "$name: the lamp's PUT went over the data channel"
  LAMP=$(printf '%s\n' "$out" | sed -n 's/.*device \/devices\/lamp toggled [a-z]* -> \([a-z]*\).*/\1/p')
  GOT=$(devcoap get "$DEV/store/lamp" 2>&1)
  [ -n "$LAMP" ] && rc_expect_eq "$GOT" "$LAMP" "$name: the UDP device itself has the lamp the page set: $LAMP"
  fi
  rc_expect "$out" "log: CSM over the channel: true" "$name: CSMs exchanged over the channel"
  rc_expect "$out" "dtls connected" "$name: Chromium's DTLS with rcoapd is up"
  rc_expect "$out" "sctp connected" "$name: SCTP association up"
  rc_expect "$out" "remote host $RC_NETNS_IP:" "$name: Chromium's selected pair is rcoapd's host candidate"
  [ -s "$shot" ] && rc_pass "$name: screenshot $shot" || rc_fail "$name: no screenshot"
  rc_expect "$out" "after the switch: coap+ws" "$name: switched back to coap+ws"
  rc_expect "$out" "2.05 Content via coap+ws" "$name: GET over coap+ws after the switch"
  if [ $media = 1 ]; then
    # RFC 3264 §6 / RFC 8843 §7.3.3: audio and video rejected in place,
    # the data channel alone in the BUNDLE group; the offer went out with
    # no candidate (rcoapd, ICE-lite, learns Chromium's address from its
    # checks: no trickled candidate is needed).
    rc_expect_re "$out" 'offer sections: a=group:BUNDLE 0 1 2 \| m=audio 9 .*\| m=video 9 .*\| m=application 9 UDP/DTLS/SCTP' \
      "$name: Chromium offered audio, video and data (port 9: no candidate yet)"
    rc_expect "$out" "WebRTC: offer ready (0 candidates)" "$name: the page sent its offer before any candidate"
    rc_expect_re "$out" 'answer sections: a=group:BUNDLE 2 \| m=audio 0 [^|]*\| m=video 0 [^|]*\| m=application [1-9][0-9]* UDP/DTLS/SCTP' \
      "$name: rcoapd's answer rejects audio and video (port 0) and keeps the data channel"
    # Chromium drops the transceivers of rejected sections.
    rc_expect_re "$out" 'transceivers: (none|0:audio:stopped 1:video:stopped)' \
      "$name: Chromium took the rejection (its audio and video transceivers are gone)"
  fi
done
rcd_alive d && rc_pass "rcoapd still running" || rc_fail "rcoapd died: $(cat "$RC_TMP/d.err")"
rcd_stop dev
rcd_stop d # exit 0 after SIGTERM (in the ASan build: no error, no leak)
grep -q -E 'AddressSanitizer|runtime error' "$RC_TMP/d.err" &&
  rc_fail "sanitizer report from rcoapd: $(grep -E -A5 'AddressSanitizer|runtime error' "$RC_TMP/d.err" | head -n 20)"
rc_done
