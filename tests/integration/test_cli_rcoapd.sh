#!/usr/bin/env bash
# rcoapd's start-up: every listener is bound before any "listening on"
# line; a busy default port is skipped with a warning (and :0 suggested),
# a busy -l is an error that names the flag; an extra argument, a missing
# --serve-dir folder and an address given twice are one specific line;
# binding beyond the loopback says what that exposes and shows a real
# host. The default ports and the wildcard address are used inside a
# network namespace of the test's own (unshare), never on the shared
# machine's network.
# Usage: bash test_cli_rcoapd.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
RCOAPD=$(rc_tool rcoapd)

# rcoapd ARGS...: runs rcoapd to completion; OUT, ERR, ST.
rcoapd_run() {
  ST=0
  rc_run rcoapd "$@" --state-dir "$RC_TMP/state" >"$RC_TMP/d.out" \
    2>"$RC_TMP/d.err" || ST=$?
  OUT=$(cat "$RC_TMP/d.out")
  ERR=$(cat "$RC_TMP/d.err")
}

# ---- specific start-up errors -----------------------------------------------
rcoapd_run -l coap+tcp://127.0.0.1:0 extra
rc_expect_status "$ST" 1 "an extra argument: exit 1"
rc_expect_eq "$ERR" "rcoapd: unexpected argument 'extra' (listeners are given with -l SCHEME://ADDR:PORT; rcoapd --help)" \
  "an extra argument: one line"
rcoapd_run -l coap+tcp://127.0.0.1:0 --serve-dir "$RC_TMP/none"
rc_expect_status "$ST" 1 "a missing --serve-dir: exit 1"
rc_expect_eq "$ERR" "rcoapd: --serve-dir $RC_TMP/none: No such file or directory" \
  "a missing --serve-dir: the folder and the reason"
touch "$RC_TMP/file"
rcoapd_run -l coap+tcp://127.0.0.1:0 --serve-dir "$RC_TMP/file"
rc_expect_eq "$ERR" "rcoapd: --serve-dir $RC_TMP/file: not a directory" \
  "--serve-dir on a file: says so"
FP=$(rcd_free_port 127.0.0.1)
rcoapd_run -l "coap+tcp://127.0.0.1:$FP" -l "coap+tcp://127.0.0.1:$FP"
rc_expect_status "$ST" 1 "the same address twice: exit 1"
rc_expect_eq "$ERR" "rcoapd: -l coap+tcp://127.0.0.1:$FP is given twice" \
  "the same address twice: one line"
rcoapd_run --bogus
rc_expect_eq "$ERR" "rcoapd: unknown option '--bogus'
rcoapd: try 'rcoapd --help'" "an unknown option: two lines, not the usage"
# coaps+wr rendezvous options (docs/RENDEZVOUS.md): refused before any
# listener is announced.
rcoapd_run -l coap+tcp://127.0.0.1:0 --webrtc-peers-allow 'a/b=addr:10.0.0.1'
rc_expect_status "$ST" 1 "--webrtc-peers-allow with a bad name: exit 1"
rc_expect "$ERR" "--webrtc-peers-allow a/b=addr:10.0.0.1: want NAME=cn:CN" "a bad name: says what is wanted"
rc_expect_not "$OUT" "listening on" "a bad rule: nothing listens"
rcoapd_run -l coap+tcp://127.0.0.1:0 --webrtc-peers-allow "d=secret-file:$RC_TMP/none"
rc_expect_status "$ST" 1 "--webrtc-peers-allow with an unreadable secret file: exit 1"
rcoapd_run -l coap+tcp://127.0.0.1:0 --webrtc-register coap+ws://127.0.0.1:1/webrtc/peers/d
rc_expect_eq "$ERR" "rcoapd: --webrtc-register needs -l coaps+wr://ADDR:PORT (the data channels it offers)" \
  "--webrtc-register without a coaps+wr listener: one line"
printf 's3cr3t\n' >"$RC_TMP/psk"
rcoapd_run -l coaps+tcp://127.0.0.1:0 --psk-keys-file "$RC_TMP/psk" --psk-key-file "$RC_TMP/psk"
rc_expect_eq "$ERR" "rcoapd: --psk-keys-file replaces --psk-identity and --psk-key(-file): give one" \
  "--psk-keys-file with --psk-key-file: one line"
printf 'c1 k1\nc2\n' >"$RC_TMP/keys"
rcoapd_run -l coaps+tcp://127.0.0.1:0 --psk-keys-file "$RC_TMP/keys"
rc_expect "$ERR" "--psk-keys-file $RC_TMP/keys: line 2: want 'IDENTITY KEY'" \
  "--psk-keys-file: a line without a key is named"
rc_expect_not "$OUT" "listening on" "a bad --psk-keys-file: nothing listens"
rcd_start k 1 -l coaps+tcp://127.0.0.1:0 --psk-identity c1 \
  --psk-key-file "$RC_TMP/psk" || rc_fail "--psk-key-file starts"
PK=$(rcd_port k 127.0.0.1 coaps+tcp)
coap -T $RC_TMO --psk-identity c1 --psk-key s3cr3t get "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect_status "$ST" 0 "--psk-key-file: the key from the file works"
coap -T $RC_TMO --psk-identity c1 --psk-key-file "$RC_TMP/psk" get "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect_status "$ST" 0 "rcoap --psk-key-file: the key from a file too"
coap -T $RC_TMO --psk-identity c1 --psk-key-file "$RC_TMP/none" get "coaps+tcp://127.0.0.1:$PK/hello"
rc_expect_status "$ST" 8 "rcoap --psk-key-file that is missing: exit 8"
rcd_stop k

# ---- a busy port given with -l: an error naming the flag, nothing listening --
python3 "$RC_SRC/tests/integration/lib/silent.py" "$RC_TMP/busy.port" 30 &
BUSY=$!
for i in $(seq 50); do [ -s "$RC_TMP/busy.port" ] && break; sleep 0.1; done
BP=$(cat "$RC_TMP/busy.port")
rcoapd_run -l coap+tcp://127.0.0.1:0 -l "coap+tcp://127.0.0.1:$BP"
rc_expect_status "$ST" 1 "-l on a busy port: exit 1"
rc_expect_eq "$ERR" "rcoapd: -l coap+tcp://127.0.0.1:$BP: cannot listen on 127.0.0.1:$BP: address already in use (another server is running there?)" \
  "-l on a busy port: names the flag and the address"
rc_expect_not "$OUT" "listening on" "-l on a busy port: no 'listening on' for the others"
kill $BUSY 2>/dev/null
wait $BUSY 2>/dev/null

# ---- the default ports and 0.0.0.0, in a network namespace of our own -------
NS=(unshare -n)
[ "$(id -u)" = 0 ] || NS=(unshare -rn)
if ! "${NS[@]}" ip link set lo up 2>/dev/null; then
  echo "SKIP: no network namespace (unshare -n) here: default-port checks skipped"
  rc_done
fi
# In the namespace: a server on 127.0.0.1:5683, then rcoapd with no -l for
# 2 s; prints rcoapd's stdout, then "--", then its stderr.
RCOAPD="$RCOAPD" DIR="$RC_TMP/ns" "${NS[@]}" bash -c '
  ip link set lo up
  python3 -c "import socket,time
s = socket.socket(); s.bind((\"127.0.0.1\", 5683)); s.listen(); time.sleep(60)" &
  BUSY=$!
  for i in $(seq 100); do
    python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 5683))" 2>/dev/null && break
    sleep 0.1
  done
  # run NAME ARGS...: rcoapd until it listens (or exits), then SIGTERM.
  run() {
    local name=$1 i
    shift
    "$RCOAPD" "$@" --state-dir "$DIR" >"$DIR.$name.out" 2>"$DIR.$name.err" &
    local pid=$!
    for i in $(seq 300); do
      grep -q "listening on" "$DIR.$name.out" 2>/dev/null && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM $pid 2>/dev/null
    wait $pid
    echo $? >"$DIR.$name.st"
  }
  run default
  run open -l coap+ws://0.0.0.0:0 -l coaps+tcp://0.0.0.0:0
  kill $BUSY
' _

OUT=$(cat "$RC_TMP/ns.default.out")
ERR=$(cat "$RC_TMP/ns.default.err")
rc_expect_eq "$(grep -c 'listening on' <<<"$OUT")" 11 "busy default: the 11 others listen (UDP 5683 and 5684 are other sockets)"
rc_expect_not "$OUT" "coap+tcp://127.0.0.1:5683" "busy default: 127.0.0.1:5683 is not announced"
rc_expect "$ERR" "rcoapd: warning: default listener coap+tcp://127.0.0.1:5683 skipped: cannot listen on 127.0.0.1:5683: address already in use (another server is running there?); -l coap+tcp://127.0.0.1:0 picks a free port" \
  "busy default: skipped with a warning that suggests :0"
rc_expect_eq "$(cat "$RC_TMP/ns.default.st")" 0 "busy default: rcoapd ran and stopped cleanly on SIGTERM"
OUT=$(cat "$RC_TMP/ns.open.out")
ERR=$(cat "$RC_TMP/ns.open.err")
H=$(hostname)
rc_expect_re "$OUT" "listening on coap\\+ws://$H:[0-9]+  \\(web demo: http://$H:[0-9]+/\\)" \
  "0.0.0.0: the demo URL shows this host's name"
rc_expect_not "$OUT" "0.0.0.0" "0.0.0.0: not shown as an address to open"
rc_expect "$ERR" "rcoapd: warning: listening beyond the loopback: anyone who can reach this host can use the demo resources, which accept uploads (/store, /echo)" \
  "0.0.0.0: warns about the demo resources"
rc_expect "$ERR" "rcoapd: warning: any web page may open a WebSocket here (no --origin given)" \
  "0.0.0.0: warns about browser origins"
rc_expect "$ERR" "rcoapd: warning: the TLS certificate is the self-signed demo one for localhost (--cert FILE --key FILE)" \
  "0.0.0.0: warns about the demo certificate"
rc_done
