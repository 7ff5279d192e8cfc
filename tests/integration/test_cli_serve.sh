#!/usr/bin/env bash
# rcoapd --serve-dir lists folders as link-format (RFC 6690: GET /files,
# /files/sub/, with ct and sz) that a parser reads back and whose targets
# are fetched with the size and format they claim; /.well-known/core
# agrees; an Accept a resource cannot produce gets 4.06 (RFC 7252
# §5.10.4); --access-log writes one line per request; the served folder
# is named at start; with the access log and -v on, a block still goes
# from the file by sendfile (the trace shows its length, not its bytes).
# Usage: bash test_cli_serve.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

D="$RC_TMP/pub"
mkdir -p "$D/sub/deeper"
printf 'hello\n' >"$D/a.txt"
printf '{"k":1}' >"$D/b.json"
printf 'x' >"$D/with space,comma.txt"
head -c 3000 /dev/urandom >"$D/sub/c.bin"
printf 'secret' >"$D/.hidden"
ln -s /etc/hostname "$D/link"

rcd_start d 1 -v -l coap+tcp://127.0.0.1:0 --serve-dir "$D" --access-log "$RC_TMP/access.log" || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1)
U="coap+tcp://127.0.0.1:$P"
rc_expect "$(cat "$RC_TMP/d.out")" "rcoapd: serving $(cd "$D" && pwd -P) read-only as /files/" \
  "the served folder is named at start"

# links FILE: "target ct sz" per link, parsed as RFC 6690 link-format.
links() {
  /usr/bin/python3 - "$1" <<'PY'
import re, sys
body = open(sys.argv[1], encoding="utf-8").read()
for link in re.findall(r'<([^>]*)>((?:;[^,;]+)*)', body):
    attrs = dict(a.split("=", 1) if "=" in a else (a, "") for a in link[1].split(";")[1:])
    print(link[0], attrs.get("ct", "-"), attrs.get("sz", "-"))
PY
}

for path in /files /files/; do
  coap -T $RC_TMO -i get "$U$path"
  rc_expect_status "$ST" 0 "GET $path: 2.05"
  rc_expect "$OUT" "Content-Format: application/link-format" "GET $path: link-format"
  "$(rc_tool rcoap)" get "$U$path" >"$RC_TMP/list"
  rc_expect_eq "$(links "$RC_TMP/list")" "/files/a.txt 0 6
/files/b.json 50 7
/files/sub/ 40 -
/files/with%20space%2Ccomma.txt 0 1" "GET $path: the entries, sorted, with ct and sz; no hidden file, no link"
done
"$(rc_tool rcoap)" get "$U/files/sub/" >"$RC_TMP/sub"
rc_expect_eq "$(links "$RC_TMP/sub")" "/files/sub/c.bin 42 3000
/files/sub/deeper/ 40 -" "GET /files/sub/: its entries"
"$(rc_tool rcoap)" get "$U/files/sub/deeper/" >"$RC_TMP/deeper"
rc_expect_eq "$(wc -c <"$RC_TMP/deeper")" 0 "an empty folder: an empty listing"

# Every file target fetches with the size and the format it was listed with.
while read -r target ct sz; do
  [ "$ct" = 40 ] && continue
  "$(rc_tool rcoap)" -o "$RC_TMP/got" -i get "$U$target" >"$RC_TMP/head"
  got_sz=$(wc -c <"$RC_TMP/got")
  got_ct=$(grep -o 'Content-Format: .*' "$RC_TMP/head")
  rc_expect_eq "$got_sz" "$sz" "$target: $sz bytes as listed"
  case $ct in
  0) want="text/plain; charset=utf-8" ;; 50) want=application/json ;;
  42) want=application/octet-stream ;; esac
  rc_expect_eq "$got_ct" "Content-Format: $want" "$target: ct=$ct as listed"
done < <(links "$RC_TMP/list"; links "$RC_TMP/sub")

coap -T $RC_TMO get "$U/.well-known/core?href=/files*"
rc_expect_eq "$OUT" '</files>;ct=40;title="files (read-only)"' \
  "/.well-known/core lists /files as link-format, as GET /files answers"

# ---- 4.06 Not Acceptable ---------------------------------------------------
coap -T $RC_TMO -A json get "$U/hello"
rc_expect_status "$ST" 4 "GET /hello (ct=0) with Accept: json: exit 4"
rc_expect_eq "$ERR" "4.06 Not Acceptable" "GET /hello with Accept: json: 4.06"
coap -T $RC_TMO -A text/plain get "$U/hello"
rc_expect_status "$ST" 0 "GET /hello with Accept: text/plain: 2.05"
coap -T $RC_TMO -A json get "$U/files/a.txt"
rc_expect_eq "$ERR" "4.06 Not Acceptable" "a text file with Accept: json: 4.06"
coap -T $RC_TMO -A json get "$U/files/b.json"
rc_expect_eq "$OUT" '{"k":1}' "a JSON file with Accept: json: served"
coap -T $RC_TMO -A json get "$U/files/"
rc_expect_eq "$ERR" "4.06 Not Acceptable" "a folder with Accept: json: 4.06"
coap -T $RC_TMO -A json get "$U/.well-known/core"
rc_expect_eq "$ERR" "4.06 Not Acceptable" "/.well-known/core with Accept: json: 4.06"
coap -T $RC_TMO -A json post "$U/echo" -d x
rc_expect_status "$ST" 0 "a resource that declares no format is not refused"

# ---- windowed Block2 (rcoap --window) ---------------------------------------
head -c $((5 * 1024 * 1024 + 333)) /dev/urandom >"$D/w.bin"
head -c 40000 /dev/urandom >"$D/w40k.bin"
coap -T $RC_TMO --window 4 -o "$RC_TMP/w.out" get "$U/files/w.bin"
rc_expect_status "$ST" 0 "GET with --window 4: 2.05"
cmp -s "$D/w.bin" "$RC_TMP/w.out" && rc_pass "--window 4, BERT: the 5 MiB body arrives whole and in order" ||
  rc_fail "--window 4, BERT: the body differs"
coap -T $RC_TMO --window 3 --no-bert -O 23,6 -o "$RC_TMP/w40k.out" get "$U/files/w40k.bin"
cmp -s "$D/w40k.bin" "$RC_TMP/w40k.out" && rc_pass "--window 3, 1024-byte blocks: the body arrives whole and in order" ||
  rc_fail "--window 3, 1024-byte blocks: the body differs (exit $ST: $ERR)"
for w in 0 17; do
  coap -T $RC_TMO --window $w get "$U/files/w.bin"
  rc_expect_status "$ST" 1 "--window $w is a usage error (1 to 16)"
  rc_expect_re "$ERR" "^rcoap: --window " "--window $w: the message names the option"
done

# ---- the access log --------------------------------------------------------
coap -T $RC_TMO get "$U/hello?x=1"
coap -T $RC_TMO -O 23,6 -o "$RC_TMP/c.out" get "$U/files/sub/c.bin"
for i in $(seq 50); do grep -q 'GET /hello?x=1 ' "$RC_TMP/access.log" && break; sleep 0.1; done
line=$(grep 'GET /hello?x=1 ' "$RC_TMP/access.log")
rc_expect_re "$line" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z 127\.0\.0\.1:[0-9]+ coap\+tcp GET /hello\?x=1 2\.05 27 [0-9]+\.[0-9]ms$' \
  "access log: time, peer, transport, method, URI, code, bytes, duration"
rc_expect_re "$(cat "$RC_TMP/access.log")" ' coap\+tcp GET /hello 4\.06 ' "access log: the 4.06 too"
cmp -s "$D/sub/c.bin" "$RC_TMP/c.out" && rc_pass "the 3000-byte file arrives whole in 1024-byte blocks" ||
  rc_fail "the 3000-byte file differs"
# The blocks went as file runs (sendfile) although -v and the access log
# trace every message: the trace has each one's length, not its bytes.
n=$(grep -c '> 2\.05 Content .*(952 bytes from a file)' "$RC_TMP/d.err")
[ "$n" -eq 1 ] && rc_pass "-v: c.bin's last block is shown as 952 bytes from a file (sendfile kept)" ||
  rc_fail "-v: c.bin's last block shown $n times as sent from a file (want 1)"
n=$(grep -c ' GET /files/sub/c.bin 2\.05 1024 ' "$RC_TMP/access.log")
[ "$n" -eq 2 ] && rc_pass "access log: a block-wise GET is one line per block (2 of 1024 bytes)" ||
  rc_fail "access log: $n lines for the 3000-byte block-wise GET"
# one request per block, none past the end: 40000 bytes are 40 blocks
n=$(grep -c ' GET /files/w40k.bin 2\.05 ' "$RC_TMP/access.log")
[ "$n" -eq 40 ] && rc_pass "access log: --window 3 asked for each of the 40 blocks once" ||
  rc_fail "access log: $n requests for the 40 blocks of w40k.bin"
rc_expect_not "$(cat "$RC_TMP/d.err")" "RC_" "the log names no internal error code"
rcd_stop d
rc_done
