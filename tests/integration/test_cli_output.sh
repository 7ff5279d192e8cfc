#!/usr/bin/env bash
# rcoap's output fits where it goes. On a terminal (script(1) gives it
# one): JSON indented, CBOR in diagnostic notation, link-format one link
# per line, binary refused with a hint, a progress line that ends before
# the next output and shows a real rate; into a pipe the same commands
# give the body byte for byte, link-format included. -i prints the code
# and one option per line, the token only with -v.
# Usage: bash test_cli_output.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

command -v script >/dev/null ||
  rc_skip "script(1) (bsdutils) is not installed"

rcd_start d 1 -l coap+tcp://127.0.0.1:0 || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1)
U="coap+tcp://127.0.0.1:$P"
RCOAP=$(rc_tool rcoap)

# tty CMD...: runs rcoap CMD on a terminal; TTY_OUT (stdout and stderr as
# the terminal showed them, \r\n made \n, a lone \r kept) and TTY_ST.
tty() {
  local q="" a
  for a in "$@"; do q+=" $(printf '%q' "$a")"; done
  script -qec "$RCOAP$q; echo \$? >$RC_TMP/tty.st" /dev/null </dev/null \
    >"$RC_TMP/tty.raw" 2>&1
  TTY_OUT=$(sed 's/\r$//' "$RC_TMP/tty.raw")
  TTY_ST=$(cat "$RC_TMP/tty.st")
}

JSON='{"name":"a, b","list":[1,2,{"x":true}],"empty":{},"none":[]}'
coap -T $RC_TMO -t json put "$U/store/j" -d "$JSON"
rc_expect_status "$ST" 0 "PUT a JSON item"
# {"a": 1, "b": [2, 3]} in CBOR (RFC 8949 Appendix A)
printf '\xa2\x61\x61\x01\x61\x62\x82\x02\x03' >"$RC_TMP/c.cbor"
coap -T $RC_TMO -t cbor put "$U/store/c" -d @"$RC_TMP/c.cbor"
rc_expect_status "$ST" 0 "PUT a CBOR item"
printf 'bin\000\001\002\377\376' >"$RC_TMP/b.bin"
head -c 200 /dev/urandom >>"$RC_TMP/b.bin"
coap -T $RC_TMO -t octet-stream put "$U/store/b" -d @"$RC_TMP/b.bin"
rc_expect_status "$ST" 0 "PUT a binary item"

# ---- on a terminal ---------------------------------------------------------
tty get "$U/store/j"
rc_expect_eq "$TTY_OUT" '{
  "name": "a, b",
  "list": [
    1,
    2,
    {
      "x": true
    }
  ],
  "empty": {},
  "none": []
}' "terminal: JSON indented"
rc_expect_eq "$TTY_ST" 0 "terminal: JSON exits 0"
tty get "$U/store/c"
rc_expect_eq "$TTY_OUT" '{"a": 1, "b": [2, 3]}' "terminal: CBOR in diagnostic notation"
tty get "$U/store/b"
rc_expect_eq "$TTY_OUT" "rcoap: not shown on a terminal: $(wc -c <"$RC_TMP/b.bin") bytes of application/octet-stream; -o FILE keeps them, --raw shows them anyway" \
  "terminal: binary refused with a hint"
rc_expect_eq "$TTY_ST" 8 "terminal: refused binary exits 8"
tty --raw get "$U/store/j"
rc_expect_eq "$TTY_OUT" "$JSON" "terminal, --raw: JSON as sent"
tty get "$U/.well-known/core?href=/s*"
n=$(grep -c '^</s[^,]*$' <<<"$TTY_OUT")
rc_expect_eq "$n" "$(wc -l <<<"$TTY_OUT")" "terminal: link-format one link per line ($n)"
[ "$n" -ge 3 ] && rc_pass "terminal: 3 or more links" || rc_fail "terminal: $n links"

# -i: code, one option per line, an empty line, the body.
tty -i get "$U/store/j"
rc_expect_re "$(head -n 4 <<<"$TTY_OUT" | tr '\n' '|')" \
  '^2\.05 Content\|ETag: [0-9a-f]{8}\|Content-Format: application/json\|\|$' \
  "-i: the code, then one option per line, then an empty line"
rc_expect_not "$TTY_OUT" "tok=" "-i: no token"
coap -i -v get "$U/hello"
rc_expect_re "$OUT" $'^2\\.05 Content\nToken: [0-9a-f]+\nContent-Format: text/plain' \
  "-i -v: the token after the code"

# The progress line: a real rate at once, ended before the next output.
tty -i -o "$RC_TMP/large.out" get "$U/large"
rc_expect_eq "$TTY_ST" 0 "terminal: -o FILE download exits 0"
last=$(grep -a $'\r' <<<"$TTY_OUT" | tr '\r' '\n' | grep -a 'down' | tail -n 1)
rc_expect_re "$last" '^down [0-9.]+ [KM]iB / [0-9.]+ [KM]iB  100%  [0-9.]+ [KMG]?i?B/s +$' \
  "progress: the last sample says 100% and a rate"
rc_expect_not "$(tr '\r' '\n' <<<"$TTY_OUT")" " 0 B/s" "progress: no 0 B/s sample"
rc_expect_re "$TTY_OUT" $'100%[^\n]*\n2\\.05 Content\n' \
  "progress: the line ends before -i's head"

# ---- into a pipe: the bytes as they came ------------------------------------
"$RCOAP" get "$U/store/j" >"$RC_TMP/j.out"
rc_expect_eq "$(cat "$RC_TMP/j.out")" "$JSON" "pipe: JSON as sent"
rc_expect_eq "$(wc -c <"$RC_TMP/j.out")" "${#JSON}" "pipe: no newline added"
"$RCOAP" get "$U/store/c" >"$RC_TMP/c.out"
cmp -s "$RC_TMP/c.out" "$RC_TMP/c.cbor" && rc_pass "pipe: CBOR bytes unchanged" ||
  rc_fail "pipe: CBOR bytes differ"
"$RCOAP" get "$U/store/b" >"$RC_TMP/b.out"
cmp -s "$RC_TMP/b.out" "$RC_TMP/b.bin" && rc_pass "pipe: binary bytes unchanged" ||
  rc_fail "pipe: binary bytes differ"
coap get "$U/.well-known/core?href=/s*"
rc_expect_eq "$(wc -l <"$RC_TMP/coap.out")" 0 "pipe: link-format as sent (one line, no newline)"
rc_expect_re "$OUT" '^</s[^>]*>;[^"]*("[^"]*"[^"]*)*,</s' "pipe: links joined by commas"
"$RCOAP" -o - get "$U/store/c" >"$RC_TMP/c2.out"
cmp -s "$RC_TMP/c2.out" "$RC_TMP/c.cbor" && rc_pass "-o -: stdout, bytes unchanged" ||
  rc_fail "-o -: bytes differ"

# -O 23,SZX (Block2 by hand, block 0): the whole body in blocks of that
# size, not the first block alone.
"$RCOAP" get "$U/large" >"$RC_TMP/large.all"
coap -v -O 23,2 get "$U/large"
printf '%s' "$OUT" | cmp -s - "$RC_TMP/large.all" &&
  rc_pass "-O 23,2: the whole body ($(wc -c <"$RC_TMP/large.all") bytes)" ||
  rc_fail "-O 23,2: $(printf '%s' "$OUT" | wc -c) bytes, not the whole body"
rc_expect_status "$ST" 0 "-O 23,2: exit 0"
n=$(grep -c '^< 2\.05 Content .*Block2:[0-9]*/[01]/64' <<<"$ERR")
rc_expect_eq "$n" $((($(wc -c <"$RC_TMP/large.all") + 63) / 64)) "-O 23,2: in 64-byte blocks"
coap -O 23,0x12 get "$U/large"
rc_expect_eq "$(printf '%s' "$OUT" | wc -c)" 64 "-O 23 with block 1: that block only"
rc_expect "$ERR" "rcoap: note: -O 23 asks for block 1 only" "-O 23 with block 1: says so"

rcd_stop d
rc_done
