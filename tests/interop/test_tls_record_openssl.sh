#!/bin/bash
# rcoapd's own TLS 1.3 record layer (after the hand-over from OpenSSL,
# src/transport/tls_handoff.c) against openssl s_client on real sockets,
# for each TLS 1.3 cipher suite: CSM + GET /hello answered; s_client's
# KeyUpdate ("k": update_not_requested) and ("K": update_requested), each
# followed by another GET answered; "Q" (close_notify, then EOF) leaves
# rcoapd well; the session s_client saved (-sess_out) is resumed (-sess_in)
# and served. rcoapd's log must show no TLS error.
#
#   bash tests/interop/test_tls_record_openssl.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

command -v openssl >/dev/null || rc_skip "openssl (command line) not installed"
. "$RC_SRC/tests/integration/lib/tls.sh"

d_start S -l coaps+tcp://127.0.0.1:0 --cert "$PKI/server.crt" \
  --key "$PKI/server.key" --state-dir "$RC_TMP/stS" || rc_done
P=$(d_port S coaps+tcp://127.0.0.1)

# CSM (empty), then GET /hello with token 0x42 (no 0x0a byte: s_client
# reads its commands from the start of what it reads from stdin).
REQ_CSM='\x00\xe1'
REQ_GET='\x61\x01\x42\xb5hello'

# wait_count FILE TEXT N: until FILE holds TEXT N times (at most ~20 s).
wait_count() {
  local i
  for ((i = 0; i < 400 * SLOW; i++)); do
    [ "$(grep -a -o -F "$2" "$1" 2>/dev/null | wc -l)" -ge "$3" ] && return 0
    sleep 0.05
  done
  return 1
}

# text FILE: its contents without NUL bytes (s_client echoes binary CoAP).
text() { tr -d '\0' <"$1"; }

# session SUITE OUT [s_client args...]: one s_client session driven
# through a FIFO; sets SC_PID.
session_start() {
  local suite=$1 out=$2
  shift 2
  rm -f "$RC_TMP/in"
  mkfifo "$RC_TMP/in"
  timeout 60 openssl s_client -connect "127.0.0.1:$P" -tls1_3 \
    -ciphersuites "$suite" -alpn coap -CAfile "$PKI/ca.crt" \
    -servername localhost "$@" <"$RC_TMP/in" >"$out" 2>&1 &
  SC_PID=$!
  exec 3>"$RC_TMP/in"
}

for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 \
  TLS_CHACHA20_POLY1305_SHA256; do
  out=$RC_TMP/$suite.out
  session_start "$suite" "$out" -sess_out "$RC_TMP/$suite.sess"
  printf "$REQ_CSM$REQ_GET" >&3
  wait_count "$out" "Hello, world!" 1 &&
    rc_pass "$suite: GET /hello answered" ||
    rc_fail "$suite: no answer to GET /hello"
  rc_expect "$(text "$out")" "Cipher is $suite" "$suite negotiated"
  # a KeyUpdate without, then with update_requested; a GET after each
  n=1
  for cmd in k K; do
    printf '%s\n' "$cmd" >&3
    wait_count "$out" "KEYUPDATE" "$n" || rc_fail "$suite: s_client sent no KeyUpdate"
    printf "$REQ_GET" >&3
    n=$((n + 1))
    wait_count "$out" "Hello, world!" "$n" &&
      rc_pass "$suite: GET after KeyUpdate ($cmd) answered" ||
      rc_fail "$suite: no answer after KeyUpdate ($cmd)"
  done
  printf 'Q\n' >&3
  exec 3>&-
  wait "$SC_PID"
  rc_expect "$(text "$out")" "DONE" "$suite: s_client closed (close_notify)"
  rc_expect_not "$(text "$out")" "alert" "$suite: s_client saw no alert"
  # the saved session is resumed and served
  out2=$RC_TMP/$suite.resume.out
  session_start "$suite" "$out2" -sess_in "$RC_TMP/$suite.sess"
  printf "$REQ_CSM$REQ_GET" >&3
  wait_count "$out2" "Hello, world!" 1 &&
    rc_pass "$suite: resumed session answered" ||
    rc_fail "$suite: no answer on the resumed session"
  printf 'Q\n' >&3
  exec 3>&-
  wait "$SC_PID"
  rc_expect "$(text "$out2")" "Reused, TLSv1.3" "$suite: session resumed"
done

kill -0 "${DPID[S]}" 2>/dev/null && rc_pass "rcoapd still running" ||
  rc_fail "rcoapd died"
rc_expect_not "$(log_of S)" "TLS error" "rcoapd log: no TLS error"
d_stop S
rc_done
