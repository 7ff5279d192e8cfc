# shellcheck shell=bash
# libcoap's command-line tools (Debian libcoap3-bin, 4.3.1, INTEROP-NOTES
# §6) as peers of the interop tests: the check that they are installed,
# coap-server-* started and waited for, coap-client-* run bounded with
# their output kept. Source after scripts/testlib.sh, rc_init and
# tests/integration/lib/rcoapd.sh.
#
#   . "$RC_SRC/tests/interop/lib/libcoap.sh"
#   lc_need coap-client-notls coap-server-notls     # else exit 77
#   LP=$(rcd_free_port_udp_tcp); lc_server ls "$LP" -v 7
#   lc -m put -e hi "coap://127.0.0.1:$P/store/x"   # LOUT LLOG LERR
#   lcs -u id -k key "coaps://127.0.0.1:$P/hello"   # OUT

# lc_need TOOL...: skips the test (exit 77; a failure under CI=true)
# unless every TOOL is installed.
lc_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null ||
      rc_skip "$t not installed (apt-get install libcoap3-bin tshark)"
  done
}

# lc_wait_bound NAME PORT [udp|tcp]: waits (bounded) until PORT is bound
# on the loopback (UDP, or a TCP listener), or NAME has exited.
lc_wait_bound() {
  local name=$1 port=$2 proto=${3:-udp} _
  for _ in $(seq 1 $((100 * RC_SLOW))); do
    if [ "$proto" = tcp ]; then
      ss -Hltn "sport = :$port" 2>/dev/null | grep -q LISTEN && return 0
    else
      ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && return 0
    fi
    rcd_alive "$name" || return 1
    sleep 0.1
  done
  return 1
}

# lc_server NAME PORT ARGS...: coap-server-notls -A 127.0.0.1 -p PORT ARGS
# as NAME (its output in $RC_TMP/NAME.out/.err; rcd_stop NAME ends it),
# once its UDP port is bound.
lc_server() {
  local name=$1 port=$2
  shift 2
  rcd_start_cmd "$name" 0 '' coap-server-notls -A 127.0.0.1 -p "$port" "$@"
  lc_wait_bound "$name" "$port"
}

# lc_free_pair: a port N with N + 1 free too, UDP and TCP (coap-server-
# openssl serves DTLS / TLS on N + 1); bounded.
lc_free_pair() {
  python3 - <<'PY'
import random, socket
for _ in range(50):
    n = random.randint(20000, 60000)
    socks = []
    try:
        for p in (n, n + 1):
            for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, t)
                s.bind(("127.0.0.1", p))
                socks.append(s)
        print(n)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}

# lcs_server NAME ARGS...: coap-server-openssl on a free pair (N, N + 1)
# with ARGS, once its DTLS port N + 1 is bound; sets N.
lcs_server() {
  local name=$1
  shift
  N=$(lc_free_pair)
  rcd_start_cmd "$name" 0 '' coap-server-openssl -A 127.0.0.1 -p "$N" "$@"
  lc_wait_bound "$name" $((N + 1))
}

# lc ARGS...: coap-client-notls -v 7 -o FILE ARGS, bounded by LC_T seconds
# (default 30 * RC_SLOW) and -B LC_B (10 * RC_SLOW). LOUT: the body it
# wrote; LLOG: its whole log (stdout and stderr); LERR: the PDU lines of
# the log ("v:1 t:TYPE c:CODE i:MID ..."). A non-zero exit is a failure.
lc() {
  local st=0
  rm -f "$RC_TMP/lc.body"
  timeout "${LC_T:-$((30 * RC_SLOW))}" coap-client-notls \
    -B "${LC_B:-$((10 * RC_SLOW))}" -v 7 -o "$RC_TMP/lc.body" "$@" \
    >"$RC_TMP/lc.log" 2>&1 || st=$?
  LOUT=$(cat "$RC_TMP/lc.body" 2>/dev/null)
  LLOG=$(cat "$RC_TMP/lc.log")
  LERR=$(grep '^v:1' "$RC_TMP/lc.log")
  [ "$st" -eq 0 ] || rc_fail "coap-client-notls $* exited $st"
}

# lcs ARGS...: coap-client-openssl ARGS, bounded (-B 5 and 20 s); OUT: its
# output (it always exits 0: assertions read OUT).
lcs() { OUT=$(timeout 20 coap-client-openssl -B 5 "$@" 2>&1); }

# ---- tshark beside the libcoap UDP tests -----------------------------------

# ts_start P LP: tshark capturing UDP ports P and LP on lo into
# $RC_TMP/cap.pcapng (CAP), as "ts". Skips the test (after stopping rcoapd
# "d") when tshark cannot capture here.
ts_start() {
  TS_P=$1
  TS_LP=$2
  CAP=$RC_TMP/cap.pcapng
  rcd_start_cmd ts 1 "Capture started" \
    tshark -i lo -f "udp port $1 or udp port $2" -a duration:$((120 * RC_SLOW)) -w "$CAP" -q
  if ! rcd_alive ts || ! grep -q "Capture started" "$RC_TMP/ts.err"; then
    local why
    why=$(head -n 3 "$RC_TMP/ts.err" | tr '\n' ' ')
    kill -TERM "$(rcd_pid ts)" 2>/dev/null
    rcd_stop d
    rc_skip "tshark cannot capture on lo here: $why"
  fi
}

# ts ARGS...: tshark reading CAP, both ports decoded as CoAP.
ts() { tshark -r "$CAP" -d "udp.port==$TS_P,coap" -d "udp.port==$TS_LP,coap" "$@" 2>/dev/null; }

# ts_stop: ends the capture once the last datagrams are written out. Call
# it while the servers still hold ports P and LP: once they exit, a test
# running beside this one may get either port as its ephemeral source
# port, and its datagrams (DTLS, say) would be captured as ours.
ts_stop() {
  rcd_alive ts || return 0
  sleep $((1 * RC_SLOW)) # the last datagrams written out
  kill -TERM "$(rcd_pid ts)" 2>/dev/null
  rcd_wait_exit ts 10
}

# ts_check NUMS WHAT: stops the capture (ts_stop), then: a few hundred datagrams or
# more, every one CoAP, no malformed or error reports except "Invalid
# Option Number N" for N in NUMS ("292 252": options Wireshark 4.0 does
# not know), and at least one report for the first of NUMS (the filter
# is not blind). WHAT names them in the messages.
ts_check() {
  local nums=$1 what=$2 nudp ncoap bad
  ts_stop
  nudp=$(ts -Y udp | wc -l)
  ncoap=$(ts -Y 'udp && coap' | wc -l)
  rc_expect_re "$nudp" '^[1-9][0-9]{2,}$' "tshark captured $nudp datagrams"
  rc_expect_eq "$ncoap" "$nudp" "every datagram decodes as CoAP"
  bad=$(ts -Y '_ws.malformed || _ws.expert.severity >= error || _ws.expert.group == "Malformed"' \
    -T fields -e frame.number -e _ws.expert.message |
    awk -F'\t' -v ok="^Invalid Option Number (${nums// /|})\$" \
      '{n=split($2,m,","); for(i=1;i<=n;i++) if (m[i] !~ ok) {print; break}}' | head)
  rc_expect_eq "$bad" "" "no malformed or error reports ($what aside)"
  rc_expect_re "$(ts -Y coap -T fields -e _ws.expert.message | grep -c "Option Number ${nums%% *}")" '^[1-9]' \
    "(the reports of option ${nums%% *} are there: the filter above is not blind)"
}
