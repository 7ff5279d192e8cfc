# shellcheck shell=bash
# Helpers shared by the coaps+tcp tests (test_tls_certs.sh,
# test_tls_mtls_psk.sh, interop/test_libcoap_tls.sh): a test PKI made by
# tests/certs/gen.sh in $PKI, rcoapd daemons by name (d_start / d_port /
# d_stop, under valgrind when RCOAP_VALGRIND=1, exit status checked), rcoap
# runs (client: OUT, RC, MS) and openssl s_client runs (sclient: OUT, RC).
# Source after scripts/testlib.sh and rc_init.

# Time limits are multiplied by this under valgrind (everything is slower).
SLOW=1
[ "${RCOAP_VALGRIND:-0}" = 1 ] && SLOW=8
# A refusal must not wait out a timeout: the client's -T (10 s, x SLOW;
# it would also exit 6, not 10) or rcoapd's 10 s handshake limit. client's MS counts
# from before the process starts, which in the ASan build at load 15-20
# took 3.6-4.2 s for a wrong-key refusal that takes 0.4 s on a quiet
# machine; so the bound sits between that and the 10 s it is about.
PROMPT_MS=$((7000 * SLOW))

PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null ||
  { rc_fail "tests/certs/gen.sh failed"; rc_done; }

declare -A DPID

# d_start NAME ARGS...: rcoapd in the background (under valgrind when
# RCOAP_VALGRIND=1), stdout in $RC_TMP/NAME.out, stderr in NAME.err; waits
# until every listener line is printed.
d_start() {
  local name=$1 bin
  shift
  bin=$(rc_tool rcoapd) || exit 1
  if [ "${RCOAP_VALGRIND:-0}" = 1 ]; then
    # the handshake limit scaled too, unless the test sets it (see
    # rcd_start in rcoapd.sh; here test_tls_certs: "connection reset by
    # peer" for the first clients)
    local hs=(--handshake-timeout $((10000 * SLOW))) a
    for a in "$@"; do [ "$a" = --handshake-timeout ] && hs=(); done
    "${RC_VALGRIND_CMD[@]}" "$bin" "${hs[@]}" "$@" >"$RC_TMP/$name.out" 2>"$RC_TMP/$name.err" &
  else
    "$bin" "$@" >"$RC_TMP/$name.out" 2>"$RC_TMP/$name.err" &
  fi
  DPID[$name]=$!
  local want=0 a
  for a in "$@"; do [ "$a" = -l ] && want=$((want + 1)); done
  local i
  for ((i = 0; i < 100 * SLOW; i++)); do
    [ "$(grep -c 'listening on' "$RC_TMP/$name.out" 2>/dev/null)" -ge "$want" ] 2>/dev/null && return 0
    kill -0 "${DPID[$name]}" 2>/dev/null || break
    sleep 0.05
  done
  rc_fail "rcoapd $name did not start:"
  sed 's/^/    | /' "$RC_TMP/$name.err"
  return 1
}

# d_port NAME SCHEME://HOST: the port rcoapd printed for that listener.
d_port() {
  grep -F "listening on $2:" "$RC_TMP/$1.out" | head -1 | sed 's/.*://; s/ .*//'
}

# d_stop NAME: SIGTERM, a bounded wait, then the exit status is checked
# (valgrind findings count as a failure).
d_stop() {
  local pid=${DPID[$1]} i rc=0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100 * SLOW; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    rc_fail "rcoapd $1 did not stop after SIGTERM"
  fi
  wait "$pid" || rc=$?
  if [ "$rc" -eq "$RC_VALGRIND_EXIT" ]; then
    rc_fail "valgrind found errors in rcoapd $1:"
    sed 's/^/    | /' "$RC_TMP/$1.err"
  elif [ "$rc" -ne 0 ]; then
    rc_fail "rcoapd $1 exit status $rc"
  fi
  unset "DPID[$1]"
}

cleanup() {
  local n
  for n in "${!DPID[@]}"; do kill -KILL "${DPID[$n]}" 2>/dev/null; done
  rm -rf "$RC_TMP"
}
trap cleanup EXIT

# client ARGS...: runs rcoap; sets OUT (stdout+stderr), RC and MS (wall
# time in milliseconds). -T 10 s, x SLOW under valgrind: at load 10 three
# valgrind jobs at once took over 10 s for one TLS handshake (exit 6).
client() {
  local t0=$EPOCHREALTIME
  RC=0
  OUT=$(rc_run rcoap -T $((10 * SLOW)) "$@" 2>&1) || RC=$?
  MS=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
}

# sclient ARGS...: openssl s_client with empty stdin (it sends nothing and
# quits after the handshake); sets OUT and RC.
sclient() {
  OUT=$({
    timeout 10 openssl s_client "$@" </dev/null
    echo "rc=$?"
  } 2>&1 | tr -d '\0')
  RC=${OUT##*rc=}
  OUT=${OUT%rc=*}
}

log_of() { cat "$RC_TMP/$1.err"; }
# log_wait NAME TEXT: NAME's log once it holds TEXT, or as it is after 10 s
# (x SLOW under valgrind). The client that provoked the line may exit before
# rcoapd has read the alert or reset and written it (seen in the ASan
# build at load 20: an empty log read right after coap-client exited).
log_wait() {
  local i
  for ((i = 0; i < 100 * SLOW; i++)); do
    grep -qF -- "$2" "$RC_TMP/$1.err" 2>/dev/null && break
    sleep 0.1
  done
  log_of "$1"
}
# expect_log NAME TEXT WHAT: rc_expect on NAME's log, waited for TEXT.
expect_log() { rc_expect "$(log_wait "$1" "$2")" "$2" "$3"; }
