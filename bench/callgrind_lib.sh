# shellcheck shell=bash
# What bench/callgrind_load.sh and bench/callgrind_observe.sh share: a
# temporary folder and the process under callgrind (PID) stopped on exit,
# and cg_collect, which ends one measured run.
TMP=$(mktemp -d)
PID=
cg_cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cg_cleanup EXIT

# cg_collect OUT: stops PID with SIGINT (callgrind writes OUT as the
# process exits; at most 10 s, then SIGTERM), copies OUT to KEEP when set,
# and prints the run's totals (one per event: callgrind --dump-instr=no
# counts instructions only; cachegrind with --cache-sim=yes nine events,
# named by cg_events OUT).
cg_collect() {
  kill -INT "$PID"
  for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
  PID=
  [ -z "$KEEP" ] || cp "$1" "$KEEP/"
  awk '/^summary:/ { $1 = ""; sub(/^ /, ""); print }' "$1"
}
cg_events() { awk '/^events:/ { $1 = ""; sub(/^ /, ""); print }' "$1"; }
