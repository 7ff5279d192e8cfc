#!/usr/bin/env bash
# rcoap-bench's command line agrees with rcoap's where a letter is shared
# (-T is the request timeout in seconds; -d and -t, rcoap's payload and
# Content-Format, are not rcoap-bench options), its exit statuses are
# documented, and the CPU figure of a 5-request run stays within one core;
# over coaps:// (DTLS, PSK) it sends requests and counts handshake cycles,
# and a wrong key opens no connection (exit 1). --bulk fetches a file
# from rcoapd --serve-dir with 1 and 4 Block2 requests in flight over
# coap+tcp and coap+ws and counts exactly its bytes; --observe notifies
# 3 x 2 observers in 2 rounds (rcoapd's POST /counter, coap+tcp and
# coap+ws) and counts a duplicate, stale, Observe-less or missing
# notification (tests/integration/lib/notifier.py) as an error; the modes
# exclude each other and --bulk refuses UDP (exit 2).
# Usage: bash test_cli_bench.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

mkdir -p "$RC_TMP/files"
head -c $((1024 * 1024 + 333)) /dev/urandom >"$RC_TMP/files/f.bin"
rcd_start d 2 -l coap+tcp://127.0.0.1:0 -l coap+ws://127.0.0.1:0 --serve-dir "$RC_TMP/files" || {
  rc_fail "rcoapd starts"
  rc_done
}
U="coap+tcp://127.0.0.1:$(rcd_port d 127.0.0.1)"
W="coap+ws://127.0.0.1:$(rcd_port d 127.0.0.1 coap+ws)"

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

# --bulk: the whole body, counted byte for byte, with 1 and 4 in flight
SZ=$((1024 * 1024 + 333)) # two BERT blocks from rcoapd (1 MiB each)
for uw in "$U 1" "$U 4" "$W 4"; do
  read -r base win <<<"$uw"
  ST=0
  OUT=$(rc_run rcoap-bench --bulk --window "$win" -T $RC_TMO "$base/files/f.bin" 2>&1) || ST=$?
  rc_expect_status "$ST" 0 "--bulk --window $win ${base%%:*}: exit 0"
  rc_expect_re "$OUT" "RESULT bulk transfers=1 bytes=$SZ seconds=[0-9.]+ mbps=[0-9.]+ window=$win peak_rss_kib=[1-9][0-9]* " \
    "--bulk --window $win ${base%%:*}: $SZ bytes, peak RSS reported"
done
ST=0
OUT=$(rc_run rcoap-bench --bulk -T $RC_TMO "$U/files/none.bin" 2>&1) || ST=$?
rc_expect_status "$ST" 1 "--bulk of a missing file (4.04): exit 1"
rc_expect "$OUT" "answered 4.04" "--bulk of a missing file: says 4.04"
# --observe: 3 connections x 2 observations, 2 rounds of POST /counter
ST=0
OUT=$(rc_run rcoap-bench --observe -c 3 --per 2 --rounds 2 -T $RC_TMO "$U/counter" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "--observe 3 x 2, 2 rounds: exit 0"
rc_expect_re "$OUT" "RESULT observe observers=6 connections=3 rounds=2 p50_ms=[0-9.]+ max_ms=[0-9.]+ notes_per_s=[1-9][0-9]* errors=0" \
  "--observe: every round complete, a RESULT line"
# --busy-poll: the same rounds with a loop that never sleeps while timed
ST=0
OUT=$(rc_run rcoap-bench --observe --busy-poll -c 3 --per 2 --rounds 2 -T $RC_TMO "$U/counter" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "--observe --busy-poll 3 x 2, 2 rounds: exit 0"
rc_expect_re "$OUT" "RESULT observe observers=6 connections=3 rounds=2 p50_ms=[0-9.]+ max_ms=[0-9.]+ notes_per_s=[1-9][0-9]* errors=0" \
  "--observe --busy-poll: every round complete, a RESULT line"
# coap+ws: the observers on the library's client (rc_observe)
ST=0
OUT=$(rc_run rcoap-bench --observe -c 2 --per 2 --rounds 2 -T $RC_TMO "$W/counter" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "--observe over coap+ws 2 x 2, 2 rounds: exit 0"
rc_expect_re "$OUT" "RESULT observe observers=4 connections=2 rounds=2 .* errors=0" \
  "--observe over coap+ws: every round complete"
# A notifier that spoils round 2 for one observer (notifier.py): the
# generator counts what is wrong as an error and exits 1; "ok" is the
# same notifier unspoilt (exit 0, no error).
for mode in ok dup stale noobs missing; do
  exec {NF}< <(exec python3 "$RC_SRC/tests/integration/lib/notifier.py" "$mode" $((20 * RC_SLOW)))
  NPID=$!
  NPORT=""
  read -r -t 10 _ NPORT <&$NF || true
  ST=0
  OUT=$(rc_run rcoap-bench --observe -c 2 --per 2 --rounds 3 -T $RC_SLOW "coap+tcp://127.0.0.1:$NPORT/x" 2>&1) || ST=$?
  kill "$NPID" 2>/dev/null
  exec {NF}<&-
  case $mode in
  ok)
    rc_expect_status "$ST" 0 "--observe, a good notifier: exit 0"
    rc_expect_re "$OUT" "rounds=3 .* errors=0" "--observe, a good notifier: 3 rounds, no error" ;;
  missing)
    rc_expect_status "$ST" 1 "--observe, one notification missing: exit 1"
    rc_expect "$OUT" "round 2: only 3 of 4 notifications" "--observe, one notification missing: the round says so" ;;
  *)
    rc_expect_status "$ST" 1 "--observe, notifier $mode: exit 1"
    rc_expect_re "$OUT" "rounds=3 .* errors=1 " "--observe, notifier $mode: counted as one error" ;;
  esac
done
for bad in "--bulk --observe $U/counter" "--bulk --window 17 coap://127.0.0.1:5683/x"; do
  ST=0
  # shellcheck disable=SC2086 # the arguments of each case
  OUT=$(rc_run rcoap-bench $bad 2>&1) || ST=$?
  rc_expect_status "$ST" 2 "rcoap-bench $bad: usage error, exit 2"
done
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
