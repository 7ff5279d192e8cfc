#!/usr/bin/env bash
# The demo page (web/) in headless Chromium against the real rcoapd: rcoapd
# serves web/ and CoAP over WebSockets on one coap+ws port (127.0.0.1, a
# second run over [::1], and a third over coaps+ws: https and wss:// with
# the self-signed demo certificate, Chromium offering ALPN h2,http/1.1 and
# --ignore-certificate-errors); tests/web/browser-test.mjs (Playwright) loads
# the page, waits for "connected", checks the resource list, does GET
# /hello, PUT then GET /store/browser-test, a discovery, reads the live
# temperature (observing) and the message log, and saves a screenshot to
# BUILD_DIR/web-demo.png (web-demo-v6.png, web-demo-https.png). A second
# rcoapd on UDP only plays a device: the first proxies /devices/temp and
# /devices/lamp to it (--route), and the page must show the device's
# temperature read live and toggle its lamp, which rcoap then reads from
# the device itself.
#
# Without /usr/bin/chromium, node or the node modules (tests/web: `npm ci`
# with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, tried here when npm is there)
# the test is skipped (rc_skip: exit 77), except in CI (CI=true), where
# all of them must be there and their absence fails.
# Usage: bash test_browser.sh BUILD_DIR  (RCOAP_VALGRIND=1: rcoapd under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
WEBT="$RC_SRC/tests/web"

[ -x "$CHROMIUM" ] || rc_skip "no chromium at $CHROMIUM (apt-get install chromium)"
command -v node >/dev/null || rc_skip "no node (apt-get install nodejs npm)"
rc_web_deps ||
  rc_skip "no tests/web/node_modules (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"

# --- the server: lib/rcoapd.sh (rcd_start, rcd_port, rcd_stop) -----------
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

# The page of this source tree (rcoapd's compiled-in default points at the
# tree it was built from).
rcd_start dev 1 -l coap://127.0.0.1:0 || {
  rc_fail "the UDP device rcoapd starts"
  rc_done
}
DEV=coap://127.0.0.1:$(rcd_port dev 127.0.0.1 coap)
ST=0
rc_run rcoap -T 10 put -d off "$DEV/store/lamp" >/dev/null 2>&1 || ST=$?
rc_expect_status "$ST" 0 "the device's lamp starts off"
rcd_start rcoapd 3 -l coap+ws://127.0.0.1:0 -l 'coap+ws://[::1]:0' \
  -l coaps+ws://127.0.0.1:0 \
  --route "/devices/temp=$DEV/sensors/temp" --route "/devices/lamp=$DEV/store/lamp" \
  --web-root "$RC_SRC/web" || {
  rc_fail "rcoapd starts"
  rc_done
}
URL4=$(grep -o 'web demo: http://127\.0\.0\.1:[0-9]*/' "$RC_TMP/rcoapd.out" | sed 's/web demo: //')
URL6=$(grep -o 'web demo: http://\[::1\]:[0-9]*/' "$RC_TMP/rcoapd.out" | sed 's/web demo: //')
URLS=$(grep -o 'web demo: https://127\.0\.0\.1:[0-9]*/' "$RC_TMP/rcoapd.out" | sed 's/web demo: //')
[ -n "$URL4" ] && [ -n "$URL6" ] && [ -n "$URLS" ] && rc_pass "web demo at $URL4, $URL6 and $URLS" ||
  rc_fail "no web demo URLs in: $(cat "$RC_TMP/rcoapd.out")"

# browser URL SHOT NAME: runs browser-test.mjs, checks its steps.
browser() {
  local url=$1 shot=$2 name=$3 st=0 out
  rm -f "$shot"
  out=$(cd "$WEBT" && CHROMIUM="$CHROMIUM" RCOAP_WEB_EXPECT_MODE=observing \
    RCOAP_WEB_EXPECT_DEVICES=1 \
    timeout 180 node browser-test.mjs "$url" "$shot" 2>&1) || st=$?
  printf '%s\n' "$out" | sed 's/^/    | /'
  rc_expect_status "$st" 0 "$name: browser-test.mjs passes against rcoapd"
  rc_expect "$out" "browser-test: loaded $url" "$name: page loaded from rcoapd"
  rc_expect "$out" "connected; server CSM Max-Message-Size" "$name: page connected and shows rcoapd's CSM"
  rc_expect "$out" "GET /hello -> 2.05 Content \"Hello, world!" "$name: GET /hello from the page"
  rc_expect "$out" "PUT /store/browser-test -> 2.0" "$name: PUT /store/browser-test from the page"
  rc_expect "$out" "GET /store/browser-test -> 2.05" "$name: GET of what the page stored"
  rc_expect "$out" "discovery -> " "$name: discovery from the page"
  rc_expect "$out" "Ping -> Pong in " "$name: Ping button gets rcoapd's Pong"
  rc_expect "$out" "(observing)" "$name: live temperature observed (RFC 7641)"
  rc_expect_re "$out" "device /devices/temp -> [0-9.-]+ \\(read live" "$name: the UDP device's temperature shown live through the proxy"
  rc_expect_re "$out" "device /devices/lamp toggled (on|off) -> (on|off)" "$name: the lamp toggled from the page"
  LAMP=$(printf '%s\n' "$out" | sed -n 's/.*device \/devices\/lamp toggled [a-z]* -> \([a-z]*\).*/\1/p')
  if [ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    rc_pass "$name: screenshot saved to $shot"
  else
    rc_fail "$name: no PNG screenshot at $shot"
  fi
}

browser "$URL4" "$RC_BUILD/web-demo.png" "coap+ws 127.0.0.1"
browser "$URL6" "$RC_BUILD/web-demo-v6.png" "coap+ws [::1]"
# coaps+ws: Chromium offers ALPN h2,http/1.1 and gets http/1.1; the page
# comes over https and its CoAP over wss:// on the same port. The demo
# certificate is self-signed: --ignore-certificate-errors (test only).
browser "$URLS" "$RC_BUILD/web-demo-https.png" "coaps+ws 127.0.0.1"

# The lamp the page toggled last, read from the UDP device itself.
ST=0
OUT=$(rc_run rcoap -T 10 get "$DEV/store/lamp" 2>&1) || ST=$?
rc_expect_eq "$OUT" "$LAMP" "rcoap reads the lamp the page set from the UDP device: $LAMP"

# What the page stored is there for rcoap too.
ST=0
OUT=$(rc_run rcoap -T 30 "${URL4/http:/coap+ws:}store/browser-test" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "rcoap reads /store/browser-test after the browser"
rc_expect "$OUT" "browser test " "rcoap sees the value the page PUT"

rcd_stop rcoapd
rcd_stop dev
rc_done
