#!/usr/bin/env bash
# bench/raw_gen, the library-free load generator bench/load.sh uses with
# GEN=raw, is itself a parser of bytes off the network: its counts are
# only worth something if it counts right and stops on what is wrong.
# With real servers: against bench/floor_responder and rcoapd, -n N gives
# exactly N answers, N sent, errors 0. Against a scripted server
# (tests/integration/lib/raw_gen_peer.py): answers in any order, cut at
# odd places, with RFC 8323 Extended Lengths of 8, 16 and 32 bits, an
# Empty message and Pings between them are all counted (and every Ping
# gets its Pong, §5.4); a wrong code, a token no request has, an answer
# given twice, a missing CSM (§5.3), TKL 9 and a Release each end the run
# with exit status 1 and a sentence naming it; a silent server is a
# failure after -t seconds, not a hang.
set -u
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

[ -x "$RC_BUILD/bench/raw_gen" ] && [ -x "$RC_BUILD/bench/floor_responder" ] ||
  rc_skip "bench/raw_gen or bench/floor_responder not built (RCOAP_BENCH=OFF)"
PEER=(/usr/bin/python3 "$RC_SRC/tests/integration/lib/raw_gen_peer.py")
STALL=$((5 * RC_SLOW))
# -t against the scripted server, which answers at once when it answers
# (valgrind slows raw_gen, not the peer): how long "silent" takes.
BAD_T=2
[ "$RC_SLOW" = 1 ] || BAD_T=4

# gen N CONNS DEPTH URI [ARG...]: runs raw_gen -q -n N (-d 600: only -n,
# -t or an error ends it); sets OUT, ST.
gen() {
  local n=$1 c=$2 d=$3 u=$4
  shift 4
  OUT=$(rc_run bench/raw_gen -q -t "$STALL" -d 600 -n "$n" -c "$c" -p "$d" "$@" "$u" 2>&1)
  ST=$?
}

# counted WHAT N: the last run exited 0 with answered=N sent=N errors=0.
counted() {
  if [ "$ST" -eq 0 ] && [[ "$OUT" == *" errors=0 "* ]] &&
     [[ "$OUT" == *" answered=$2 sent=$2"* ]]; then
    rc_pass "$1: $2 answers counted, errors 0"
  else
    rc_fail "$1: exit $ST, expected answered=$2 sent=$2 errors=0 in: $OUT"
  fi
}

# ---- real servers ----------------------------------------------------------
"$RC_BUILD/bench/floor_responder" 0 >"$RC_TMP/floor.out" 2>&1 &
FL=$!
trap 'kill $FL 2>/dev/null; rcd_cleanup; rm -rf "$RC_TMP"' EXIT
for _ in $(seq 1 100); do grep -qs '^listening' "$RC_TMP/floor.out" && break; sleep 0.05; done
FP=$(awk '/^listening/ { print $2 }' "$RC_TMP/floor.out")
[ -n "$FP" ] || { rc_fail "floor_responder starts"; rc_done; }
N=$((3000 / RC_SLOW))
gen "$N" 10 16 "coap+tcp://127.0.0.1:$FP"
counted "floor_responder, 10 connections x 16" "$N"
gen 7 3 4 "coap+tcp://127.0.0.1:$FP"
counted "floor_responder, N (7) below connections x depth (12)" 7

if rcd_start d 1 -l coap+tcp://127.0.0.1:0; then
  RP=$(rcd_port d 127.0.0.1)
  gen "$N" 10 16 "coap+tcp://127.0.0.1:$RP"
  counted "rcoapd GET /hello, 10 connections x 16" "$N"
  gen 20 2 4 "coap+tcp://127.0.0.1:$RP/nothere"
  rc_expect_status "$ST" 1 "rcoapd GET /nothere: a 4.04 ends the run"
  rc_expect "$OUT" "is 4.04, not 2.05" "...with a sentence naming the code"
  gen 20 2 4 "coap+tcp://127.0.0.1:$RP/nothere" -e 4.04
  counted "rcoapd GET /nothere with -e 4.04" 20
  rcd_stop d
else
  rc_fail "rcoapd starts"
fi

gen 5 1 1 "coap+tcp://127.0.0.1:$FP" -m "PUT /x"
rc_expect "$OUT" 'takes one "GET /path"' "a method other than GET is refused"

# ---- the scripted server ---------------------------------------------------
# peer MODE [ARG...]: starts raw_gen_peer.py MODE in the background; sets
# PP (its port) and PPID_ (its pid), output in PEER_OUT (a file of its own
# per peer: one reused could still hold the last peer's port when read).
peer() {
  PEER_OUT=$RC_TMP/peer-$1.out
  "${PEER[@]}" "$@" --life $((20 * RC_SLOW)) >"$PEER_OUT" 2>&1 &
  PPID_=$!
  PP=
  for _ in $(seq 1 100); do
    PP=$(awk '/^port/ { print $2 }' "$PEER_OUT" 2>/dev/null)
    [ -n "$PP" ] && return 0
    sleep 0.05
  done
  rc_fail "raw_gen_peer.py $* starts: $(cat "$PEER_OUT")"
  return 1
}

# peer_end: waits for the scripted server (it ends when raw_gen closed).
peer_end() {
  for _ in $(seq 1 $((100 * RC_SLOW))); do kill -0 "$PPID_" 2>/dev/null || break; sleep 0.1; done
  kill "$PPID_" 2>/dev/null
  wait "$PPID_" 2>/dev/null
}

if peer ok; then
  gen 200 3 8 "coap+tcp://127.0.0.1:$PP"
  peer_end
  counted "answers out of order, cut up, Len 0-12/13/14/15, Empty and Ping between" 200
  PONGS=$(awk '/^requests/ { print $4 }' "$PEER_OUT")
  if [ "${PONGS:-0}" -gt 0 ]; then
    rc_pass "every Ping got its Pong (RFC 8323 §5.4): $PONGS"
  else
    rc_fail "no Pong came back: $(cat "$PEER_OUT")"
  fi
fi

# bad MODE NEEDLE WHAT: the scripted server in MODE ends raw_gen with exit
# status 1 and a sentence holding NEEDLE.
bad() {
  peer "$1" --at 30 || return
  gen 200 2 8 "coap+tcp://127.0.0.1:$PP" -t "$BAD_T"
  peer_end
  rc_expect_status "$ST" 1 "$3: exit status 1"
  rc_expect "$OUT" "$2" "$3: says so"
  rc_expect_not "$OUT" "RESULT" "$3: no RESULT line"
}
bad wrongcode "is 4.04, not 2.05" "a wrong code"
bad badtoken "which no request in flight has" "an unknown token"
bad repeat "which no request in flight has" "an answer given twice"
bad nocsm "not a CSM (RFC 8323 §5.3)" "a missing CSM"
bad badtkl "TKL 9" "TKL 9"
bad release "7.04 (Release)" "a Release"
bad silent "no answer for" "a silent server"

gen 5 1 1 "coap+tcp://127.0.0.1:1"
rc_expect_status "$ST" 1 "nothing listening: exit status 1"
rc_expect "$OUT" "Connection refused" "nothing listening: says so"

rc_done
