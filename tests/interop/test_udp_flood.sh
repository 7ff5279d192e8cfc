#!/usr/bin/env bash
# rcoapd under a flood from thousands of distinct source addresses
# (127.1.0.0 onwards: all of 127/8 is local on Linux), udp_flood.py:
#  - well-formed CON GETs from 7000 addresses, every one answered; the
#    peer table stops at its bound (RC_CONN_UDP_PEERS_MAX, 4096): every
#    peer beyond it evicts the least recently active one (one "peer table
#    full" line each, exactly), and rcoapd's RSS grows no more once the
#    table is full (the last 2000 peers cost under 2 MiB, the first 4096
#    several MiB);
#  - malformed datagrams from 600 addresses each get the RFC 7252 answer
#    and no peer: a CON with a format error (option delta 15) and a CON
#    with TKL 9 (§3: "MUST be processed as a message format error") get
#    exactly RST with their Message ID (§4.2); 2 bytes (no header),
#    version 2 (§3: "silently ignored") and a NON with TKL 9 (§4.3) get
#    silence; no eviction happens meanwhile (no peer was made);
#  - rcoap gets /hello answered while 3000 more addresses flood;
#  - coaps:// (DTLS): ClientHellos without cookie from 3000 addresses get
#    exactly one 60-byte HelloVerifyRequest each and leave no peer (the
#    last 2000 add under 512 KiB of RSS), and an rcoap PSK client still
#    gets in.
# Usage: bash test_udp_flood.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PY=/usr/bin/python3
FL="$RC_SRC/tests/interop/udp_flood.py"
$PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.1.2.3", 0))' 2>/dev/null ||
  rc_skip "cannot bind 127.1.2.3 (127/8 not all local here)"

# RSS is the measure: in the ASan build, freed memory must be reused at
# once rather than held in quarantine (ignored by other builds).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
rcd_start d 2 -l coap://127.0.0.1:0 -l coaps://127.0.0.1:0 \
  --psk-identity u --psk-key secretkey || {
  rc_fail "rcoapd starts"
  rc_done
}
P=$(rcd_port d 127.0.0.1 coap)
PS=$(rcd_port d 127.0.0.1 coaps)
PID=$(rcd_pid d)
W=$(awk "BEGIN{print 3 * $RC_SLOW}")
QW=$(awk "BEGIN{print 0.4 * $RC_SLOW}")
rss() { awk '/^VmRSS/{print $2}' "/proc/$PID/status"; }
evicted() { grep -c 'UDP peer table full' "$RC_TMP/d.err"; }
# flood KIND FIRST COUNT WAIT: runs udp_flood.py, FLOOD its summary line
flood() {
  FLOOD=$(timeout $((120 * RC_SLOW)) $PY "$FL" "$1" "$P" "$2" "$3" "$4" 2>&1)
  echo "$FLOOD"
}
made=0 # peers rcoapd made: answered well-formed requests from new addresses

echo "=== well-formed requests from 7000 addresses"
rss0=$(rss)
flood good 0 3000 "$W"
rc_expect_eq "$FLOOD" "good sent=3000 right=3000 wrong=0 silent=0" "3000 addresses: every request answered"
made=$((made + 3000))
rss1=$(rss)
flood good 3000 2000 "$W"
rc_expect_eq "$FLOOD" "good sent=2000 right=2000 wrong=0 silent=0" "2000 more: every request answered"
made=$((made + 2000))
rss2=$(rss)
flood good 5000 2000 "$W"
rc_expect_eq "$FLOOD" "good sent=2000 right=2000 wrong=0 silent=0" "2000 more: every request answered"
made=$((made + 2000))
rss3=$(rss)
rc_expect_eq "$(evicted)" $((made - 4096)) "the table stays at 4096: $((made - 4096)) least recently active peers evicted"
echo "RSS (KiB): start $rss0, 3000 peers $rss1, 5000 $rss2, 7000 $rss3"
rc_expect_re "$((rss1 - rss0))" '^[0-9]{4,}$' "3000 peers cost memory ($((rss1 - rss0)) KiB)"
[ $((rss3 - rss2)) -lt 2048 ] &&
  rc_pass "at the bound, 2000 more peers add under 2 MiB ($((rss3 - rss2)) KiB)" ||
  rc_fail "at the bound, 2000 more peers added $((rss3 - rss2)) KiB"

echo "=== malformed datagrams from 600 addresses each"
ev=$(evicted)
n=7000
for k in badopt tkl9; do
  flood $k $n 600 "$W"
  rc_expect_eq "$FLOOD" "$k sent=600 right=600 wrong=0 silent=0" "$k: exactly RST 70 00 MID to each"
  n=$((n + 600))
done
for k in short ver2 nontkl; do
  flood $k $n 600 "$QW"
  rc_expect_eq "$FLOOD" "$k sent=600 right=600 wrong=0 silent=600" "$k: silence"
  n=$((n + 600))
done
rc_expect_eq "$(evicted)" "$ev" "no peer made for them (no eviction)"

echo "=== a client during a flood"
$PY "$FL" good "$P" 20000 3000 "$W" >"$RC_TMP/bg.out" 2>&1 &
BG=$!
ok=0
for i in 1 2 3 4 5; do
  coap -T $RC_TMO get "coap://127.0.0.1:$P/hello"
  [ "$ST" = 0 ] && [[ "$OUT" == "Hello, world!"* ]] && ok=$((ok + 1))
done
wait $BG
rc_expect_eq "$ok" 5 "rcoap GET /hello during the flood: 5 of 5 answered"
rc_expect_re "$(cat "$RC_TMP/bg.out")" '^good sent=3000 right=3000 ' "and the flood was served too"
made=$((made + 3000 + 5))
rc_expect_eq "$(evicted)" $((made - 4096)) "still at the bound ($((made - 4096)) evicted in all)"

echo "=== DTLS ClientHellos from 3000 addresses"
FLOOD=$(timeout $((120 * RC_SLOW)) $PY "$FL" hello "$PS" 30000 1000 "$W" 2>&1)
rc_expect_eq "$FLOOD" "hello sent=1000 right=1000 wrong=0 silent=0" "each gets exactly one HelloVerifyRequest"
rss4=$(rss)
FLOOD=$(timeout $((120 * RC_SLOW)) $PY "$FL" hello "$PS" 31000 2000 "$W" 2>&1)
rc_expect_eq "$FLOOD" "hello sent=2000 right=2000 wrong=0 silent=0" "2000 more: the same"
rss5=$(rss)
[ $((rss5 - rss4)) -lt 512 ] &&
  rc_pass "and no peer state: the last 2000 add $((rss5 - rss4)) KiB of RSS" ||
  rc_fail "2000 ClientHellos grew RSS by $((rss5 - rss4)) KiB"
coap -T $RC_TMO --psk-identity u --psk-key secretkey get "coaps://127.0.0.1:$PS/hello"
rc_expect "$OUT" "Hello, world!" "a DTLS client gets in after it"
rcd_stop d
rc_done
