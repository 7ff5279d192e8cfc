# shellcheck shell=bash
# shellcheck disable=SC2034 # the globals set here are read by the scripts
# What the bench/*.sh scripts share, so that each script keeps only its own
# measurement (its knobs, load, table and RESULT lines): the Release build
# of the tools a script needs, CPU pinning with taskset, a temporary folder
# and the background processes stopped again on exit, free ports, rcoapd /
# coap-server-notls / openssl s_server started and waited for, /proc
# readings (CPU time, VmRSS), rcoap-bench RESULT fields, the server's CPU
# per request over the middle of a load window, medians and the two-server
# ratio table. Every wait is a poll with a deadline.
#
#   set -uo pipefail
#   # shellcheck source=bench/lib.sh
#   . "$(dirname "$0")/lib.sh"
#   BUILD_DIR=${1:-$BUILD_DIR}
#   : "${DURATION:=8}" "${CONNS:=50}"     # the script's knobs
#   bench_need rcoapd rcoap-bench
#   bench_pin server rcoap-bench          # sets PIN_SERVER PIN_BENCH pinning
#   bench_tmp load                        # sets TMP, cleans up on exit
#   bench_start_rcoapd -q -l coap+tcp://127.0.0.1:0 || exit 1
#   ... "${RCOAPD_URI[coap+tcp]}" ... "$RCOAPD_PID" ...
#
# Names: bench_* functions, BENCH_* internals; the globals a function sets
# are named in its comment.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
BENCH_NAME=$(basename "$0")        # "load.sh": the prefix of messages
BENCH_MAIN_PID=$BASHPID
BENCH_TCK=$(getconf CLK_TCK)
BENCH_PIDS=()                      # background processes stopped on exit
PIN_SERVER=() PIN_BENCH=()         # taskset prefixes (empty: not pinned)
pinning="not pinned"
TMP=

# bench_fail MESSAGE...: prints "SCRIPT: MESSAGE" and exits 1.
bench_fail() {
  echo "$BENCH_NAME: $*"
  exit 1
}

# bench_build [TARGET...]: configures BUILD_DIR in Release (benchmarks on,
# tests, fuzzing and sanitizers off) and builds the TARGETs (everything
# without any), JOBS (default 2) at a time. Output in
# BUILD_DIR/bench-build.log; on failure prints its tail and exits 1.
bench_build() {
  local log=$BUILD_DIR/bench-build.log targets=()
  [ $# -eq 0 ] || targets=(--target "$@")
  mkdir -p "$BUILD_DIR"
  if ! { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
           -DRCOAP_BENCH=ON -DRCOAP_TESTS=OFF -DRCOAP_FUZZ=OFF \
           -DRCOAP_SANITIZE=OFF &&
         cmake --build "$BUILD_DIR" -j "${JOBS:-2}" "${targets[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    bench_fail "build failed (log: $log)"
  fi
}

# bench_need TARGET...: builds the TARGETs (executables in BUILD_DIR) in
# Release when any of them is missing.
bench_need() {
  local t
  for t in "$@"; do
    [ -x "$BUILD_DIR/$t" ] && continue
    echo "== building $* (Release) in $BUILD_DIR"
    bench_build "$@"
    return
  done
}

# bench_pin SERVER_LABEL CLIENT_LABEL: with taskset and two cpus or more,
# servers go on cpu SERVER_CPU (default 0) and clients on BENCH_CPU
# (default 1). Sets PIN_SERVER and PIN_BENCH (command prefixes) and
# pinning (a phrase for the output).
bench_pin() {
  local scpu=${SERVER_CPU:-0} bcpu=${BENCH_CPU:-1}
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "$scpu")
    PIN_BENCH=(taskset -c "$bcpu")
    pinning="$1 on cpu $scpu, $2 on cpu $bcpu"
  else
    pinning="not pinned (no taskset or one cpu)"
  fi
}

# bench_tmp TAG: makes TMP (/tmp/rcoap-TAG.XXXXXX) and, on exit, stops
# every tracked process and removes TMP.
bench_tmp() {
  TMP=$(mktemp -d "/tmp/rcoap-$1.XXXXXX") || exit 1
  trap bench_cleanup EXIT
}

# bench_track PID: bench_cleanup stops PID on exit.
bench_track() {
  BENCH_PIDS+=("$1")
}

# bench_stop PID...: SIGTERM (a script's background job ignores SIGINT
# unless it installs its own handler), up to 5 s for each to exit, then
# SIGKILL; the PIDs are no longer tracked.
bench_stop() {
  local p q keep=()
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  for q in "${BENCH_PIDS[@]}"; do
    for p in "$@"; do [ "$p" = "$q" ] && continue 2; done
    keep+=("$q")
  done
  BENCH_PIDS=("${keep[@]}")
}

# bench_cleanup: the EXIT trap. Command substitutions can inherit it: only
# the script's own shell cleans up.
bench_cleanup() {
  [ "$BASHPID" = "$BENCH_MAIN_PID" ] || return 0
  [ ${#BENCH_PIDS[@]} -eq 0 ] || bench_stop "${BENCH_PIDS[@]}"
  [ -z "$TMP" ] || rm -rf "$TMP"
}

# ---- ports -----------------------------------------------------------------

# bench_port_free PORT: true when nothing listens on TCP PORT.
bench_port_free() {
  ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# bench_pick_port FIRST|random: prints the first free port from FIRST on
# (50 tries; FIRST + 50 when none is free), or a free random port in
# 30000-49999 (0 when 50 tries found none).
bench_pick_port() {
  local p=$1
  for _ in $(seq 1 50); do
    [ "$1" != random ] || p=$((30000 + RANDOM % 20000))
    bench_port_free "$p" && { echo "$p"; return; }
    [ "$1" = random ] || p=$((p + 1))
  done
  if [ "$1" = random ]; then echo 0; else echo "$p"; fi
}

# bench_wait_listen PORT: waits up to 5 s for a listener on PORT; false if
# none came.
bench_wait_listen() {
  for _ in $(seq 1 100); do bench_port_free "$1" || return 0; sleep 0.05; done
  return 1
}

# ---- servers ---------------------------------------------------------------

# bench_start_rcoapd ARG...: starts BUILD_DIR/rcoapd ARG... in the
# background (pinned by PIN_SERVER, output in TMP/rcoapd.out) and waits up
# to 10 s for a "listening on SCHEME://127.0.0.1:PORT" line for every
# "-l SCHEME://127.0.0.1:PORT" among the ARGs (PORT 0 for any). Sets
# RCOAPD_PID (tracked) and RCOAPD_URI[SCHEME] (the URI with the real port).
# Returns 1 after printing the output when a listener is missing.
bench_start_rcoapd() {
  local listeners=() prev='' a s u all
  for a in "$@"; do
    [ "$prev" = -l ] && listeners+=("${a%%://*}")
    prev=$a
  done
  "${PIN_SERVER[@]}" "$BUILD_DIR/rcoapd" "$@" >"$TMP/rcoapd.out" 2>&1 &
  RCOAPD_PID=$!
  bench_track "$RCOAPD_PID"
  declare -gA RCOAPD_URI=()
  for _ in $(seq 1 100); do
    all=1
    for s in "${listeners[@]}"; do
      u=$(grep -o "listening on $s://127\.0\.0\.1:[0-9]*" "$TMP/rcoapd.out" 2>/dev/null |
          head -n 1 | sed 's/^listening on //')
      if [ -n "$u" ]; then RCOAPD_URI[$s]=$u; else all=0; fi
    done
    [ $all = 1 ] && return 0
    kill -0 "$RCOAPD_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$TMP/rcoapd.out"
  echo "$BENCH_NAME: rcoapd did not start (${listeners[*]})"
  return 1
}

# bench_start_libcoap SERVER PORT [ARG...]: starts libcoap's SERVER
# (coap-server-notls) on 127.0.0.1:PORT with the ARGs (coap-server-openssl:
# -k KEY or -c/-j for coaps:// on PORT + 1) in the background (pinned by
# PIN_SERVER, output in TMP/libcoap.log) and waits for its listener. Sets
# LIBCOAP_PID (tracked). Returns 1 after printing the output when it does
# not listen.
bench_start_libcoap() {
  "${PIN_SERVER[@]}" "$1" -A 127.0.0.1 -p "$2" "${@:3}" >"$TMP/libcoap.log" 2>&1 &
  LIBCOAP_PID=$!
  bench_track "$LIBCOAP_PID"
  bench_wait_listen "$2" && return 0
  head -c 500 "$TMP/libcoap.log"
  echo "$BENCH_NAME: $1 did not start"
  return 1
}

# bench_start_s_server PORT CERT KEY: starts `openssl s_server -www` on PORT
# in the background (pinned by PIN_SERVER, output in TMP/s_server.log) and
# waits for its listener. Sets S_SERVER_PID (tracked). Returns 1 after
# printing the output when it does not listen.
bench_start_s_server() {
  "${PIN_SERVER[@]}" openssl s_server -quiet -accept "$1" -cert "$2" -key "$3" \
    -www </dev/null >"$TMP/s_server.log" 2>&1 &
  S_SERVER_PID=$!
  bench_track "$S_SERVER_PID"
  bench_wait_listen "$1" && return 0
  cat "$TMP/s_server.log"
  echo "$BENCH_NAME: s_server did not start"
  return 1
}

# bench_alive PID NAME [LOG]: after a run, says so when NAME (PID) has died,
# with LOG's content when given.
bench_alive() {
  kill -0 "$1" 2>/dev/null && return 0
  echo "$BENCH_NAME: $2 died during the run${3:+: $(cat "$3")}"
  return 1
}

# ---- measuring -------------------------------------------------------------

# bench_cpu_ticks PID: prints PID's utime + stime in clock ticks
# (/proc/PID/stat), 0 when it is gone.
bench_cpu_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# bench_rss_kib PID: prints PID's VmRSS in KiB (/proc/PID/status).
bench_rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# bench_div A B: prints A / B (bc -l), 0 unless B > 0.
bench_div() {
  echo "if ($2 > 0) $1 / $2 else 0" | bc -l
}

# bench_cpu_us TICKS COUNT: prints the CPU microseconds per item of TICKS
# clock ticks spent on COUNT items (a bc expression), 0 unless COUNT > 0.
bench_cpu_us() {
  echo "if ($2 > 0) $1 / $BENCH_TCK * 1000000 / ($2) else 0" | bc -l
}

# bench_field NAME LINE: prints the number after " NAME=" in LINE (an
# rcoap-bench RESULT line); LINE itself when it has no such field.
bench_field() {
  sed -E "s/.* $1=([0-9.]+).*/\\1/" <<<"$2"
}

# bench_windowed SERVER_PID OUT CMD...: runs CMD, a load generator that
# warms up for WARMUP seconds then measures for DURATION, in the background
# with its output in OUT; samples SERVER_PID's CPU time over the middle of
# the measured window (0.5 s in from each end) and waits for CMD. Sets
# RESULT_LINE (OUT's last RESULT line, empty when none) and SERVER_CPU_US
# (the server's CPU microseconds per request at that line's rps).
bench_windowed() {
  local spid=$1 out=$2 margin=0.5 bpid c0 t0 c1 t1
  shift 2
  "$@" >"$out" 2>&1 &
  bpid=$!
  sleep "$(echo "$WARMUP + $margin" | bc -l)"
  c0=$(bench_cpu_ticks "$spid"); t0=$(date +%s.%N)
  sleep "$(echo "$DURATION - 2 * $margin" | bc -l)"
  c1=$(bench_cpu_ticks "$spid"); t1=$(date +%s.%N)
  wait "$bpid"
  RESULT_LINE=$(grep '^RESULT' "$out" | tail -n 1)
  SERVER_CPU_US=0
  [ -z "$RESULT_LINE" ] ||
    SERVER_CPU_US=$(bench_cpu_us "($c1 - $c0)" "$(bench_field rps "$RESULT_LINE") * ($t1 - $t0)")
}

# bench_summary [FIELD...]: after bench_windowed, prints "rps p50_us
# p99_us server_cpu_us_per_req errors" from RESULT_LINE and SERVER_CPU_US,
# then the value of each extra RESULT FIELD (0 when absent). Without a
# RESULT line prints "0 0 0 0 fail" and a 0 per FIELD, and returns 1.
# shellcheck disable=SC2120 # the FIELDs are optional
bench_summary() {
  local f l=$RESULT_LINE
  if [ -z "$l" ]; then
    printf '0 0 0 0 fail'
    for f in "$@"; do printf ' 0'; done
    echo
    return 1
  fi
  printf '%s %s %s %s %s' "$(bench_field rps "$l")" "$(bench_field p50_us "$l")" \
    "$(bench_field p99_us "$l")" "$SERVER_CPU_US" "$(bench_field errors "$l")"
  for f in "$@"; do
    if [[ "$l" == *" $f="* ]]; then printf ' %s' "$(bench_field "$f" "$l")"; else printf ' 0'; fi
  done
  echo
}

# bench_median: reads result lines ("number ..."; empty ones skipped) and
# prints the median line by the first number.
bench_median() {
  sed '/^$/d' | sort -n -k1,1 | awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }'
}

# ---- output ----------------------------------------------------------------

# bench_machine: prints "DATE UTC, N cpu(s): CPU MODEL".
bench_machine() {
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpu(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

# bench_dashes N: prints N dashes.
bench_dashes() {
  printf -- '-%.0s' $(seq "$1")
}

# bench_pair_header LEFT RIGHT RATIO: the head of a table comparing two
# servers (or transports) per depth: "LEFT: req/s  p50/p99 us  cpu/req".
bench_pair_header() {
  printf '| %-5s | %-34s | %-34s | %-7s |\n' depth "$1: req/s  p50/p99 us  cpu/req" \
    "$2: req/s  p50/p99 us  cpu/req" "$3"
  printf '| %-5s | %-34s | %-34s | %-7s |\n' ----- "$(bench_dashes 34)" \
    "$(bench_dashes 34)" -------
}

# bench_pair_row DEPTH LEFT RIGHT RATIO: one row of that table; LEFT and
# RIGHT are "rps p50_us p99_us cpu_us_per_req ...".
bench_pair_row() {
  local a ap50 ap99 acpu b bp50 bp99 bcpu
  read -r a ap50 ap99 acpu _ <<<"$2"
  read -r b bp50 bp99 bcpu _ <<<"$3"
  printf '| %-5s | %8.0f  %7.0f/%-7.0f %5.2f us | %8.0f  %7.0f/%-7.0f %5.2f us | %5.2fx  |\n' \
    "$1" "$a" "$ap50" "$ap99" "$acpu" "$b" "$bp50" "$bp99" "$bcpu" "$4"
}
