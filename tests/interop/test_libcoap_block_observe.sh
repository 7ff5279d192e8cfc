#!/usr/bin/env bash
# Block-wise transfer and observe against libcoap 4.3.1 (Debian
# libcoap3-bin) over coap+tcp, both ways:
#  1. coap-client-notls -> rcoapd: /large (102400 bytes) whole and in
#     1024-byte Block2 blocks (-b 1024), a file from --serve-dir in Block2
#     (-b 1024) and cmp'ed, a 17 MiB one in 8 MiB BERT blocks (no -b),
#     a Block1 upload (-m put -b 1024 -f FILE) to /sink whose SHA-256
#     answer must match, and observe of /sensors/temp
#     (-s 4: at least 2 notifications, each a temperature); a 5128-byte
#     POST to /echo in Block1 (-m post -b 1024) over coap:// whose answer
#     (the body) comes back in Block2: libcoap repeats the last block with
#     the Echo of the amplification 4.01 and asks for the rest with the
#     upload's Request-Tag, rcoapd serves both from the answer it kept.
#  2. rcoap -> coap-server-notls: a 300 kB PUT to /example_data (BERT, and
#     --no-bert) read back with GET (BERT / 1024-byte Block2) and cmp'ed,
#     and rcoap observe --count 3 of /time (three timestamped lines).
# Usage: bash test_libcoap_block_observe.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

. "$RC_SRC/tests/interop/lib/libcoap.sh"
lc_need coap-client-notls coap-server-notls
T=$((20 * RC_SLOW))

echo "=== 1. coap-client-notls -> rcoapd"
mkdir -p "$RC_TMP/files"
head -c 300000 /dev/urandom >"$RC_TMP/files/f.bin"
rcd_start d 2 -l coap+tcp://127.0.0.1:0 -l coap://127.0.0.1:0 \
  --serve-dir "$RC_TMP/files" || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1)
U="coap+tcp://127.0.0.1:$P"
lcc() { timeout "$T" coap-client-notls -B $((5 * RC_SLOW)) "$@" 2>"$RC_TMP/lc.err"; }

lcc -o "$RC_TMP/large1" "$U/large"
[ "$(stat -c %s "$RC_TMP/large1" 2>/dev/null)" = 102400 ] &&
  rc_pass "libcoap GET /large: 102400 bytes" ||
  rc_fail "libcoap GET /large: $(stat -c %s "$RC_TMP/large1" 2>&1) $(cat "$RC_TMP/lc.err")"
lcc -b 1024 -o "$RC_TMP/large2" "$U/large"
cmp -s "$RC_TMP/large1" "$RC_TMP/large2" && rc_pass "libcoap GET /large in 1024-byte Block2 blocks" ||
  rc_fail "libcoap -b 1024 /large differs: $(cat "$RC_TMP/lc.err")"
lcc -b 1024 -o "$RC_TMP/f.got" "$U/files/f.bin"
cmp -s "$RC_TMP/files/f.bin" "$RC_TMP/f.got" && rc_pass "libcoap Block2 download of a served file" ||
  rc_fail "libcoap Block2 download differs: $(cat "$RC_TMP/lc.err")"
# A served file in BERT (no -b): rcoapd sends a file's blocks as large as
# the client's Max-Message-Size allows (RFC 8323 §6), libcoap announces
# 8388864, so 8 MiB blocks, the last short (seen with -v 7, which logs
# every 1472-byte read: seconds, too slow to keep here).
head -c $((17 * 1024 * 1024 + 123)) /dev/urandom >"$RC_TMP/files/big.bin"
lcc -o "$RC_TMP/big.got" "$U/files/big.bin"
cmp -s "$RC_TMP/files/big.bin" "$RC_TMP/big.got" &&
  rc_pass "libcoap BERT download of a 17 MiB served file (8 MiB blocks)" ||
  rc_fail "libcoap BERT download of big.bin: $(stat -c %s "$RC_TMP/big.got" 2>&1) bytes, $(cat "$RC_TMP/lc.err")"
rm -f "$RC_TMP/big.got"
want=$(sha256sum <"$RC_TMP/files/f.bin" | cut -d' ' -f1)
out=$(lcc -m put -b 1024 -f "$RC_TMP/files/f.bin" "$U/sink")
rc_expect "$out" "$want 300000" "libcoap Block1 upload (2.31 per block) arrives whole"
head -c 4000 /dev/urandom | base64 -w 0 | head -c 5128 >"$RC_TMP/post.bin"
rm -f "$RC_TMP/post.got"
lcc -m post -b 1024 -f "$RC_TMP/post.bin" -o "$RC_TMP/post.got" \
  "coap://127.0.0.1:$(rcd_port d 127.0.0.1 coap)/echo"
cmp -s "$RC_TMP/post.bin" "$RC_TMP/post.got" &&
  rc_pass "libcoap POST 5128 bytes to /echo over coap://: Block1 up, Block2 down, the body back" ||
  rc_fail "libcoap POST /echo: $(stat -c %s "$RC_TMP/post.got" 2>&1) bytes back, $(cat "$RC_TMP/lc.err")"
out=$(lcc -s 4 "$U/sensors/temp"; echo)
n=$(grep -oE '[0-9]+\.[0-9]{2}' <<<"$out" | wc -l)
[ "$n" -ge 2 ] && rc_pass "libcoap observes /sensors/temp ($n values in 4 s)" ||
  rc_fail "libcoap observe: '$out' $(cat "$RC_TMP/lc.err")"
rcd_stop d

echo "=== 2. rcoap -> coap-server-notls"
# A port free for UDP and TCP (a random one could be taken, and the
# server would then exit at once), and its TCP listener waited for.
port=$(lc_free_pair)
rcd_start_cmd ls 0 x coap-server-notls -A 127.0.0.1 -p "$port"
lc_wait_bound ls "$port" tcp ||
  rc_fail "coap-server-notls not listening on TCP $port: $(cat "$RC_TMP/ls.err" 2>/dev/null)"
S="coap+tcp://127.0.0.1:$port"
head -c 300000 /dev/urandom >"$RC_TMP/up.bin"
for mode in bert no-bert; do
  fl=(-T "$T")
  [ "$mode" = no-bert ] && fl+=(--no-bert)
  coap "${fl[@]}" -d @"$RC_TMP/up.bin" put "$S/example_data"
  rc_expect_status "$ST" 0 "rcoap $mode PUT 300 kB to libcoap /example_data"
  rm -f "$RC_TMP/back.bin"
  coap "${fl[@]}" -o "$RC_TMP/back.bin" "$S/example_data"
  cmp -s "$RC_TMP/up.bin" "$RC_TMP/back.bin" && rc_pass "rcoap $mode GET reads it back" ||
    rc_fail "rcoap $mode GET back: status $ST $ERR"
done
coap -T "$T" observe --count 3 "$S/time"
rc_expect_status "$ST" 0 "rcoap observe --count 3 of libcoap /time"
n=$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z 2\.05 ' <<<"$OUT")
[ "$n" -eq 3 ] && rc_pass "three timestamped notifications" || rc_fail "observe output: $OUT"
kill "$(rcd_pid ls)" 2>/dev/null
wait "$(rcd_pid ls)" 2>/dev/null
rc_done
