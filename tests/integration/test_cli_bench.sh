#!/usr/bin/env bash
# rcoap-bench's command line agrees with rcoap's where a letter is shared
# (-T is the request timeout in seconds; -d and -t, rcoap's payload and
# Content-Format, are not rcoap-bench options), its exit statuses are
# documented, and the CPU figure of a 5-request run stays within one core;
# over coaps:// (DTLS, PSK) it sends requests and counts handshake cycles,
# and a wrong key opens no connection (exit 1).
# Usage: bash test_cli_bench.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

rcd_start d 1 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
U="coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)"

ST=0
OUT=$(rc_run rcoap-bench -c 1 -p 1 -n 5 -w 0 -T 5 "$U/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "rcoap-bench -n 5 -T 5: exit 0"
rc_expect "$OUT" "RESULT rps=" "rcoap-bench -n 5: a RESULT line"
pct=$(grep -o '([0-9]* % of one core' <<<"$OUT" | tr -dc 0-9)
[ -n "$pct" ] && [ "$pct" -le 100 ] && rc_pass "5 requests, 1 thread: $pct % of one core (at most 100)" ||
  rc_fail "CPU figure of a 5-request run: '$(grep generator <<<"$OUT")'"

for f in -d -t; do
  ST=0
  OUT=$(rc_run rcoap-bench $f 1 -n 5 "$U/hello" 2>&1) || ST=$?
  rc_expect_status "$ST" 2 "rcoap-bench $f: not an option (rcoap's $f means something else): exit 2"
done
ST=0
OUT=$(rc_run rcoap-bench --duration 0.5 --threads 1 -c 1 -w 0 "$U/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "--duration and --threads (long forms): exit 0"

H=$(rc_run rcoap-bench --help)
rc_expect "$H" "exit status: 0 every request answered 2.xx, 1 errors" "--help documents the exit statuses"
rc_expect "$H" "-T, --timeout S" "--help: -T is the timeout in seconds, as in rcoap"

ST=0
OUT=$(rc_run rcoap-bench -c 1 -n 3 -w 0 "$U/no-such-resource" 2>&1) || ST=$?
rc_expect_status "$ST" 1 "requests answered 4.04: exit 1"
rcd_stop d

# coaps:// (DTLS 1.2) with a PSK: requests, handshake cycles, a wrong key
rcd_start s 1 -l coaps://127.0.0.1:0 --psk-identity bench --psk-key bench-key || {
  rc_fail "rcoapd starts on coaps://"
  rc_done
}
S=coaps://127.0.0.1:$(rcd_port s 127.0.0.1 coaps)
PSK=(--psk-identity bench --psk-key bench-key)
ST=0
OUT=$(rc_run rcoap-bench -c 2 -p 2 -n 40 -w 0 -T $RC_TMO --connect-timeout $RC_TMO "${PSK[@]}" "$S/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "rcoap-bench over coaps:// (PSK): exit 0"
rc_expect "$OUT" "requests=40 " "rcoap-bench over coaps://: 40 requests answered"
ST=0
OUT=$(rc_run rcoap-bench --handshakes -c 2 -p 1 --duration $RC_SLOW -w 0 -T $RC_TMO "${PSK[@]}" "$S/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "rcoap-bench --handshakes over coaps://: exit 0"
rc_expect_re "$OUT" "cycles: +[1-9][0-9]* in" "rcoap-bench --handshakes over coaps://: DTLS handshake cycles counted"
ST=0
OUT=$(rc_run rcoap-bench -c 1 -n 1 -w 0 --connect-timeout 2 --psk-identity bench --psk-key wrong "$S/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 1 "rcoap-bench with a wrong PSK: exit 1 (no connection opened)"
rcd_stop s
rc_done
