#!/usr/bin/env bash
# The proxy streams bodies block by block both ways.
# Download (proxy.c relay_block): a large body from a coap+tcp origin
# reaches a coap:// (UDP) client through rcoapd --proxy byte for byte,
# while the proxy's peak RSS grows by far less than the body (it holds one
# block, not the body). RC_STREAM_MIB sets the size (default 16;
# docs/BENCHMARKS.md has a 100 MiB run).
# Upload (proxy_upload.c): a coap+ws client PUTs RC_UPLOAD_MIB MiB
# (default 40, for CI time; docs/BENCHMARKS.md has a 100 MiB run) in BERT
# blocks through the proxy to a coap:// origin's /sink (1024-byte blocks
# upstream), which answers the body's SHA-256: equal to
# the file's; the proxy's peak RSS grows by a bound set by the client's
# BERT block (4 MiB: held once by the proxy and once in its receive
# buffer), not by the body. Then an origin killed mid-upload: the client
# gets 5.02 or 5.04 from the proxy. A streamed PUT's 2.04 makes the
# proxy's cached answer for its target stale; an origin's answer in
# Block2 to a streamed POST is fetched whole and relayed.
# Interop, not integration: tens of thousands of round trips.
# Usage: bash test_proxy_stream.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
MIB=${RC_STREAM_MIB:-16}
UMIB=${RC_UPLOAD_MIB:-40}

mkdir -p "$RC_TMP/files"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$RC_TMP/files/big.bin"
rcd_start up 1 -l coap+tcp://127.0.0.1:0 --serve-dir "$RC_TMP/files" || {
  rc_fail "origin rcoapd starts"
  rc_done
}
# No ASan quarantine for the proxy (the ASan build): freed blocks are
# reused at once instead of being kept as if they were live; no fake
# stacks either (scripts/test.sh turns on detect_stack_use_after_return,
# whose frames on the heap grew the proxy's RSS by 9 MiB here).
SAVED_ASAN=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0:detect_stack_use_after_return=0"
rcd_start px 2 --proxy --proxy-allow 'coap+tcp://127.0.0.1:*' \
  --proxy-allow 'coap://127.0.0.1:*' --proxy-timeout $((4000 * RC_SLOW)) \
  -l coap://127.0.0.1:0 -l coap+ws://127.0.0.1:0 || {
  rc_fail "proxy rcoapd starts"
  rc_done
}
export ASAN_OPTIONS=$SAVED_ASAN
UPT=coap+tcp://127.0.0.1:$(rcd_port up 127.0.0.1)
PXU=coap://127.0.0.1:$(rcd_port px 127.0.0.1 coap)
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$(rcd_pid px)/status"; }

coap -T 5 get -O "35,$UPT/files/missing" "$PXU/" # warm up: connections made
BEFORE=$(hwm)
rc_timed MS coap -T $((300 * RC_SLOW)) get -o "$RC_TMP/got" -O "35,$UPT/files/big.bin" "$PXU/"
AFTER=$(hwm)
rc_expect_status "$ST" 0 "GET $MIB MiB from a coap+tcp origin through the proxy to a UDP client"
if cmp -s "$RC_TMP/got" "$RC_TMP/files/big.bin"; then
  rc_pass "the $MIB MiB body arrives byte for byte ($MS ms)"
else
  rc_fail "the body differs: $(wc -c <"$RC_TMP/got" 2>/dev/null) bytes"
fi
GROW=$(((AFTER - BEFORE) / 1024))
echo "proxy peak RSS ${BEFORE} kB before, ${AFTER} kB after: +${GROW} MiB for a ${MIB} MiB body"
if [ -n "$AFTER" ] && [ "$GROW" -lt $((MIB / 4)) ]; then
  rc_pass "the proxy's peak RSS grew by ${GROW} MiB, under a quarter of the body"
else
  rc_fail "the proxy's peak RSS grew by ${GROW} MiB for a ${MIB} MiB body"
fi

# ---- upload: coap+ws (BERT) -> proxy -> coap:// origin, block by block ----
head -c $((UMIB * 1024 * 1024)) /dev/urandom >"$RC_TMP/up.bin"
WANT=$(sha256sum "$RC_TMP/up.bin" | cut -c1-64)
rcd_start udp 1 -l coap://127.0.0.1:0 || {
  rc_fail "UDP origin rcoapd starts"
  rc_done
}
UDP=coap://127.0.0.1:$(rcd_port udp 127.0.0.1 coap)
PXW=coap+ws://127.0.0.1:$(rcd_port px 127.0.0.1 coap+ws)
coap -T 5 put -d warm -O "35,$UDP/sink" "$PXW/" # warm up: connections made
rc_expect_re "$OUT" "^[0-9a-f]{64} 4$" "a small PUT through the proxy reaches the origin's /sink"
BEFORE=$(hwm)
rc_timed MS coap -T $((60 * RC_SLOW)) put -d "@$RC_TMP/up.bin" -O "35,$UDP/sink" "$PXW/"
AFTER=$(hwm)
rc_expect_status "$ST" 0 "PUT $UMIB MiB from a coap+ws client through the proxy to a UDP origin"
rc_expect "$OUT" "$WANT $((UMIB * 1024 * 1024))" "the origin got the $UMIB MiB body, SHA-256 equal ($MS ms)"
GROW=$(((AFTER - BEFORE) / 1024))
echo "proxy peak RSS ${BEFORE} kB before, ${AFTER} kB after: +${GROW} MiB for a ${UMIB} MiB upload"
if [ -n "$AFTER" ] && [ "$GROW" -lt 16 ]; then
  rc_pass "the proxy's peak RSS grew by ${GROW} MiB (< 16: two 4 MiB BERT blocks and slack) for a ${UMIB} MiB upload"
else
  rc_fail "the proxy's peak RSS grew by ${GROW} MiB for a ${UMIB} MiB upload"
fi

# ---- a streamed upload makes the cached entry of its target stale ----
coap -T 5 put -d old -O "35,$UDP/store/inv" "$PXW/"
coap -T 5 get -O "35,$UDP/store/inv" "$PXW/"
rc_expect_eq "$OUT" old "GET /store/inv through the proxy (now in its cache)"
head -c 3000 /dev/zero | tr '\0' n >"$RC_TMP/inv.bin"
coap -T 10 -v put -d "@$RC_TMP/inv.bin" -O "35,$UDP/store/inv" "$PXU/"
rc_expect_status "$ST" 0 "PUT 3000 bytes from a UDP client through the proxy"
rc_expect "$ERR" "Block1:2/0/1024" "in 1024-byte Block1 blocks (streamed)"
coap -T 5 get -O "35,$UDP/store/inv" "$PXW/"
rc_expect_eq "${#OUT}" 3000 "the next GET is not the stale cached entry: the new 3000 bytes"

# ---- an answer in Block2 to a streamed upload (RFC 7959 §2.6) ----
# The proxy fetches the rest of the origin's answer (Block2 requests with
# its upload's Request-Tag) and the client gets it whole, from a UDP
# client and from a coap+ws one asking for 64-byte blocks. Regression:
# 5.02 "its answer comes in Block2, not relayed" (the origin did not
# serve the continuation of a POST).
head -c 5000 /dev/zero | tr '\0' e >"$RC_TMP/echo.bin"
coap -T 10 -v post -d "@$RC_TMP/echo.bin" -O "35,$UDP/echo" "$PXU/"
rc_expect "$ERR" "Block1:4/0/1024" "POST 5000 bytes to /echo from a UDP client: Block1, streamed"
rc_expect "$ERR" "Block2:4/0/1024" "the answer in Block2 to the client"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/echo.bin")" "the origin's 5000-byte answer in Block2 relayed whole"
coap -T 10 --no-bert -O 23,2 post -d "@$RC_TMP/echo.bin" -O "35,$UDP/echo" "$PXW/"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/echo.bin")" "the same from a coap+ws client in 64-byte blocks"

# ---- the origin killed mid-upload: 5.02 / 5.04 downstream ----
rc_run rcoap -T $((60 * RC_SLOW)) put -d "@$RC_TMP/up.bin" -O "35,$UDP/sink" \
  "$PXW/" >"$RC_TMP/cut.out" 2>"$RC_TMP/cut.err" &
CUT=$!
# The upload is under way once the origin's /sink has taken a block: its
# CPU time moves. Bounded wait (10 s * RC_SLOW).
T0=$(awk '{print $14}' "/proc/$(rcd_pid udp)/stat")
for _ in $(seq 1 $((200 * RC_SLOW))); do
  [ "$(awk '{print $14}' "/proc/$(rcd_pid udp)/stat")" != "$T0" ] && break
  sleep 0.05
done
kill -KILL "$(rcd_pid udp)"
wait "$(rcd_pid udp)" 2>/dev/null
unset "RCD_PID[udp]"
CST=0
wait $CUT || CST=$?
echo "interrupted upload: $(head -c 300 "$RC_TMP/cut.out" "$RC_TMP/cut.err" | tr '\n' ' ')"
rc_expect_re "$CST" "^[1-9][0-9]*$" "the interrupted upload fails at the client"
rc_expect_re "$(cat "$RC_TMP/cut.out" "$RC_TMP/cut.err")" "5\.0[24]" \
  "the proxy answers 5.02 or 5.04 when the origin dies mid-upload"
coap -T 5 get "$PXW/.well-known/core"
rc_expect_status "$ST" 0 "the proxy still serves after the broken upload"

rcd_stop px
rcd_stop up
rc_done
