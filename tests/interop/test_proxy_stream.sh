#!/usr/bin/env bash
# The proxy relays Block2 block by block (proxy.c relay_block): a large
# body from a coap+tcp origin reaches a coap:// (UDP) client through
# rcoapd --proxy byte for byte, while the proxy's peak RSS grows by far
# less than the body (it holds one block, not the body). RC_STREAM_MIB
# sets the size (default 16; docs/BENCHMARKS.md has a 100 MiB run).
# Interop, not integration: tens of thousands of round trips.
# Usage: bash test_proxy_stream.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
MIB=${RC_STREAM_MIB:-16}

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
rcd_start px 1 --proxy --proxy-allow 'coap+tcp://127.0.0.1:*' \
  -l coap://127.0.0.1:0 || {
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
rcd_stop px
rcd_stop up
rc_done
