# shellcheck shell=bash
# Helpers for the coap+tcp integration and interop tests: start rcoapd (or
# any long-running server) in the background, under valgrind when
# RCOAP_VALGRIND=1, wait for its listener lines, stop it with SIGTERM and
# check its exit status; run rcoap and keep its stdout, stderr and status
# apart. Source after scripts/testlib.sh and rc_init.
#
#   . "$RC_SRC/tests/integration/lib/rcoapd.sh"
#   rcd_start d 2 -l coap+tcp://127.0.0.1:0 -l 'coap+tcp://[::1]:0' || ...
#   P4=$(rcd_port d 127.0.0.1)
#   coap get "coap+tcp://127.0.0.1:$P4/hello"   # sets OUT ERR ST
#   rcd_stop d                                   # SIGTERM, expects exit 0
#
# Every wait is a poll with a deadline; RC_SLOW scales deadlines (10 under
# valgrind, which runs the tools ~20-50 times slower).

RC_SLOW=1
[ "${RCOAP_VALGRIND:-0}" = 1 ] && RC_SLOW=10
# rcoap's -T for requests that should be answered at once.
RC_TMO=$((5 * RC_SLOW))
# rcoapd's handshake limit (default 10 s) scaled like the other deadlines,
# for daemons whose tests are not about it: under valgrind on a loaded
# machine a coaps+wr DTLS + SCTP handshake alone took 7.4 s of the 10.
RCD_HS=(--handshake-timeout $((10000 * RC_SLOW)))
RC_RAWPEER=(/usr/bin/python3 "$RC_SRC/tests/integration/lib/rawpeer.py")
declare -A RCD_PID=()

# rcd_start NAME NLISTEN ARGS...: starts rcoapd ARGS --state-dir, stdout in
# $RC_TMP/NAME.out, stderr in $RC_TMP/NAME.err; waits until it printed
# NLISTEN "listening on" lines. Returns 1 (and shows its output) if it
# exits or does not get there in time.
rcd_start() {
  local name=$1 want=$2 bin a hs=()
  shift 2
  bin=$(rc_tool rcoapd) || return 1
  # Under valgrind RCD_HS, unless the test sets the limit itself: a fresh
  # rcoap's first TLS handshake there (its crypto translated for the first
  # time) can pass the default 10 s on a loaded machine, and rcoapd drops
  # the connection mid-handshake (test_block_transfer: "connection closed
  # without close_notify").
  [ "$RC_SLOW" -gt 1 ] && hs=("${RCD_HS[@]}")
  for a in "$@"; do [ "$a" = --handshake-timeout ] && hs=(); done
  rcd_start_cmd "$name" "$want" ' listening on ' \
    "$bin" "${hs[@]}" "$@" --state-dir "$RC_TMP/state-$name"
}

# rcd_start_cmd NAME N PATTERN CMD...: starts CMD (under valgrind when it
# is one of ours and RCOAP_VALGRIND=1, unless RC_NATIVE=1: see rc_run) and
# waits until N lines of its stdout+stderr contain PATTERN (N=0: no wait).
rcd_start_cmd() {
  local name=$1 want=$2 pat=$3 i
  shift 3
  local pre=()
  if [ "${RCOAP_VALGRIND:-0}" = 1 ] && [ "${RC_NATIVE:-0}" != 1 ] &&
    [[ "$1" == "$RC_BUILD"/* ]]; then
    pre=("${RC_VALGRIND_CMD[@]}")
  fi
  : >"$RC_TMP/$name.out"
  : >"$RC_TMP/$name.err"
  "${pre[@]}" "$@" >"$RC_TMP/$name.out" 2>"$RC_TMP/$name.err" &
  RCD_PID[$name]=$!
  [ "$want" -eq 0 ] && return 0
  for i in $(seq 1 $((100 * RC_SLOW))); do
    if [ "$(cat "$RC_TMP/$name.out" "$RC_TMP/$name.err" | grep -c -- "$pat")" -ge "$want" ]; then
      return 0
    fi
    kill -0 "${RCD_PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start ($*):"
  sed 's/^/    | /' "$RC_TMP/$name.out" "$RC_TMP/$name.err"
  return 1
}

# rcd_port NAME ADDR [SCHEME]: the port of NAME's listener on ADDR
# (127.0.0.1 or ::1) from its "listening on" line.
rcd_port() {
  local host=$2 scheme=${3:-coap+tcp}
  [ "$host" = ::1 ] && host='\[::1\]'
  grep -o "$scheme://$host:[0-9]*" "$RC_TMP/$1.out" | head -n 1 |
    sed 's/.*://'
}

# rcd_pid NAME: the process id (valgrind runs the program in this process).
rcd_pid() { echo "${RCD_PID[$1]:-}"; }

rcd_alive() { [ -n "${RCD_PID[$1]:-}" ] && kill -0 "${RCD_PID[$1]}" 2>/dev/null; }

# rcd_wait_exit NAME SECONDS: waits for NAME to exit; its status in RCD_RC
# (-1 if it is still running after SECONDS * RC_SLOW).
rcd_wait_exit() {
  local pid=${RCD_PID[$1]:-} i
  RCD_RC=-1
  [ -z "$pid" ] && return 1
  for i in $(seq 1 $((10 * $2 * RC_SLOW))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && return 1
  RCD_RC=0
  wait "$pid" || RCD_RC=$?
  unset "RCD_PID[$1]"
  return 0
}

# rcd_stop NAME [WANT_STATUS]: SIGTERM, waits, checks the exit status
# (default 0; valgrind findings give 99); SIGKILL if it hangs.
rcd_stop() {
  local name=$1 want=${2:-0} pid=${RCD_PID[$1]:-}
  [ -z "$pid" ] && return 0
  kill -TERM "$pid" 2>/dev/null
  if ! rcd_wait_exit "$name" 10; then
    rc_fail "$name did not exit within $((10 * RC_SLOW)) s of SIGTERM"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "RCD_PID[$name]"
    return
  fi
  if [ "$RCD_RC" -eq "$RC_VALGRIND_EXIT" ] && [ "${RCOAP_VALGRIND:-0}" = 1 ]; then
    rc_fail "valgrind found errors in $name:"
    sed 's/^/    | /' "$RC_TMP/$name.err" | grep -E '==[0-9]+==' | head -n 40
    return
  fi
  rc_expect_status "$RCD_RC" "$want" "$name exits $want after SIGTERM"
}

# rcd_kill NAME: SIGKILL (a crash, for the test), reaped. Under valgrind
# what memcheck reported until then (its errors go to stderr as they are
# found; a killed process gets no leak check and no exit status) fails the
# test.
rcd_kill() {
  local pid=${RCD_PID[$1]:-}
  [ -z "$pid" ] && return 0
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "RCD_PID[$1]"
  if [ "${RCOAP_VALGRIND:-0}" = 1 ] &&
    grep -E '^==[0-9]+== [A-Z]' "$RC_TMP/$1.err" 2>/dev/null |
    grep -qv '== Warning'; then
    rc_fail "valgrind found errors in $1 before it was killed:"
    grep -E '^==[0-9]+==' "$RC_TMP/$1.err" | head -n 40 | sed 's/^/    | /'
  fi
}

# Kills whatever is still running (EXIT trap).
rcd_cleanup() {
  local n
  for n in "${!RCD_PID[@]}"; do
    kill -KILL "${RCD_PID[$n]}" 2>/dev/null
    wait "${RCD_PID[$n]}" 2>/dev/null
  done
}
trap 'rcd_cleanup; rm -rf "$RC_TMP"' EXIT

# coap ARGS...: runs rcoap ARGS; sets OUT (stdout), ERR (stderr), ST.
coap() {
  ST=0
  rc_run rcoap "$@" >"$RC_TMP/coap.out" 2>"$RC_TMP/coap.err" || ST=$?
  OUT=$(cat "$RC_TMP/coap.out")
  ERR=$(cat "$RC_TMP/coap.err")
}

# rc_expect_re HAYSTACK REGEX WHAT: passes if the extended regex matches.
rc_expect_re() {
  if [[ "$1" =~ $2 ]]; then
    rc_pass "$3"
  else
    rc_fail "$3: expected to match /$2/ in:"
    printf '%s\n' "$1" | sed 's/^/    | /'
  fi
}

# rc_expect_eq GOT WANT WHAT
rc_expect_eq() {
  if [ "$1" = "$2" ]; then
    rc_pass "$3"
  else
    rc_fail "$3: got '$1', expected '$2'"
  fi
}

# rcd_free_port ADDR: a port nothing listens on (bound and let go).
rcd_free_port() {
  /usr/bin/python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

# rcd_free_port_udp_tcp: a port on 127.0.0.1 free for both TCP and UDP
# (libcoap's coap-server-notls opens both on -p PORT).
rcd_free_port_udp_tcp() {
  /usr/bin/python3 - <<'EOF'
import socket
for _ in range(20):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); continue
    u.close(); t.close(); print(p); break
EOF
}

# rcd_silent NAME SECS: starts a TCP server on 127.0.0.1 that accepts and
# never answers (lib/silent.py) for SECS seconds; its port in SILENT_PORT.
rcd_silent() {
  local i
  rcd_start_cmd "$1" 0 '' /usr/bin/python3 \
    "$RC_SRC/tests/integration/lib/silent.py" "$RC_TMP/$1.port" "$2"
  for i in $(seq 1 $((100 * RC_SLOW))); do
    [ -s "$RC_TMP/$1.port" ] && break
    sleep 0.1
  done
  SILENT_PORT=$(cat "$RC_TMP/$1.port" 2>/dev/null)
  [ -n "$SILENT_PORT" ]
}

# rc_timed VAR CMD...: runs CMD, its wall time in milliseconds in VAR.
rc_timed() {
  local var=$1 t0
  shift
  t0=$(date +%s%N)
  "$@"
  printf -v "$var" '%d' $((($(date +%s%N) - t0) / 1000000))
}

# rc_links: link-format on stdin (RFC 6690: links joined by commas) to one
# link per line on stdout; commas inside quotes and <> do not split.
rc_links() {
  /usr/bin/python3 -c 'import sys
s = sys.stdin.read().rstrip("\n")
out, cur, q, a = [], "", False, False
for ch in s:
    if ch == "\"" and not a:
        q = not q
    elif ch == "<" and not q:
        a = True
    elif ch == ">" and not q:
        a = False
    if ch == "," and not q and not a:
        out.append(cur)
        cur = ""
    else:
        cur += ch
if cur:
    out.append(cur)
print("\n".join(out))'
}

# coap_links ARGS...: coap, then OUT one link per line (rc_links).
coap_links() {
  coap "$@"
  OUT=$(printf '%s' "$OUT" | rc_links)
}
