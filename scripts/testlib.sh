# Helpers for tests/{integration,interop}/test_*.sh: source this file.
#
# Each test script is run by ctest as `bash script BUILD_DIR`. These
# helpers give every script the same small vocabulary: find a built tool,
# run it (under valgrind when RCOAP_VALGRIND=1, which scripts/test.sh sets
# for its valgrind pass), check its output, and end with a count.
#
#   . "$(dirname "$0")/../../scripts/testlib.sh"
#   rc_init "$@"                      # sets RC_BUILD, RC_SRC
#   out=$(rc_run rcoap-decode 01 43 7f) || rc_fail "decode failed"
#   rc_expect "$out" "2.03 Valid" "RFC 8323 example code"
#   rc_done                           # prints "N passed, N failed", exits
#   command -v tshark >/dev/null || rc_skip "no tshark (apt-get install tshark)"
#
# Under RCOAP_VALGRIND=1 a tool run that valgrind faults (memory error or
# definite leak) exits with RC_VALGRIND_EXIT, which rc_run reports as a
# failure of its own whatever the test expected of the exit status.

RC_PASSED=0
RC_FAILED=0
RC_VALGRIND_EXIT=99
# The memcheck command line for every process of ours a test starts under
# RCOAP_VALGRIND=1 (rc_run here, the daemons of tests/integration/lib/).
# Full memory checking and definite leaks as errors; the last three flags
# only make a run cheaper: most of a tool's code runs once, so valgrind's
# time goes to starting up and translating code, not to running it. No
# gdbserver, no inlined-call names read from the debug info (a stack trace
# still names the function and line), and no chasing across branches
# while translating. A coaps+tcp GET took 1.97 s of CPU with the first
# five, 1.5 s with all eight; a plain `valgrind true` 0.41 s, 0.30 s.
RC_VALGRIND_CMD=(valgrind -q "--error-exitcode=$RC_VALGRIND_EXIT"
  --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite
  --vgdb=no --read-inline-info=no --vex-guest-chase=no)

rc_init() {
  RC_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  RC_BUILD=${1:-}
  if [ -z "$RC_BUILD" ] || [ ! -d "$RC_BUILD" ]; then
    echo "usage: bash $0 BUILD_DIR" >&2
    exit 2
  fi
  RC_BUILD=$(cd "$RC_BUILD" && pwd)
  RC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcoap-test.XXXXXX")
  trap 'rm -rf "$RC_TMP"' EXIT
}

# Path of a built executable, or fails the test.
rc_tool() {
  local p="$RC_BUILD/$1"
  if [ ! -x "$p" ]; then
    echo "FAIL: $1 not built in $RC_BUILD" >&2
    exit 1
  fi
  echo "$p"
}

# Runs a built tool with the remaining arguments; stdout and stderr pass
# through; returns its exit status. Under RCOAP_VALGRIND=1 it runs under
# memcheck and a valgrind finding counts as a failed check, also when the
# run sits in a command substitution (OUT=$(rc_run ...), a subshell whose
# counters are lost): it is written to $RC_TMP/valgrind-findings, which
# rc_done counts.
#
# RC_NATIVE=1 rc_run ... (or RC_NATIVE=1 coap ..., in lib/rcoapd.sh): this
# one run without valgrind, for a client run that repeats what the same
# test already runs under memcheck (the same request shape on another
# address family or URI alias, the same 4.05 for another method) while the
# daemon it talks to stays under memcheck. Every check on its output still
# runs; only the client's own second memcheck of the same code is left
# out (~0.7 s of CPU each, 1.5-2 s with TLS). Outside valgrind it changes
# nothing.
#
# RC_NATIVE_TOOLS="rcoap ...": from then on rc_run runs these tools
# natively, for a test whose subject is another process (rcoapd --proxy:
# test_proxy*.sh) and which has run the tool under memcheck once already;
# the tool's own paths are under memcheck in its own tests (rcoap:
# test_tcp_demo, test_ws_methods, test_cli_errors, test_dtls, ...).
RC_NATIVE_TOOLS=
rc_run() {
  local bin
  bin=$(rc_tool "$1") || return 1
  if [[ " $RC_NATIVE_TOOLS " == *" $1 "* ]]; then
    local RC_NATIVE=1
  fi
  shift
  if [ "${RCOAP_VALGRIND:-0}" = 1 ] && [ "${RC_NATIVE:-0}" != 1 ]; then
    local rc=0
    "${RC_VALGRIND_CMD[@]}" "$bin" "$@" || rc=$?
    if [ "$rc" -eq "$RC_VALGRIND_EXIT" ]; then
      rc_fail "valgrind found errors in $(basename "$bin") $*"
      [ "$BASHPID" != $$ ] && [ -n "${RC_TMP:-}" ] &&
        echo "valgrind found errors in $(basename "$bin") $*" \
          >>"$RC_TMP/valgrind-findings"
    fi
    return "$rc"
  fi
  "$bin" "$@"
}

rc_pass() { RC_PASSED=$((RC_PASSED + 1)); echo "ok: $*"; }
rc_fail() { RC_FAILED=$((RC_FAILED + 1)); echo "FAIL: $*"; }

# rc_expect HAYSTACK NEEDLE WHAT: passes if NEEDLE is a substring.
rc_expect() {
  if [[ "$1" == *"$2"* ]]; then
    rc_pass "$3"
  else
    rc_fail "$3: expected to find '$2' in:"
    printf '%s\n' "$1" | sed 's/^/    | /'
  fi
}

# rc_expect_not HAYSTACK NEEDLE WHAT: passes if NEEDLE is absent.
rc_expect_not() {
  if [[ "$1" != *"$2"* ]]; then
    rc_pass "$3"
  else
    rc_fail "$3: did not expect '$2' in:"
    printf '%s\n' "$1" | sed 's/^/    | /'
  fi
}

# rc_expect_status GOT WANT WHAT
rc_expect_status() {
  if [ "$1" -eq "$2" ]; then
    rc_pass "$3"
  else
    rc_fail "$3: exit status $1, expected $2"
  fi
}

# RC_SKIP_EXIT: what a test whose peer (tshark, libcoap, Chromium, ...) is
# missing exits with; tests/CMakeLists.txt gives every test
# SKIP_RETURN_CODE 77, so ctest shows it as skipped, not passed.
RC_SKIP_EXIT=77

# rc_skip REASON: the test cannot run here. Exits 77 with a SKIP line;
# under CI=true (where every peer must be installed) it is a failure
# instead, and so is any check that already failed.
rc_skip() {
  if [ "${CI:-}" = true ]; then
    rc_fail "cannot run in CI: $*"
    rc_done
  fi
  if [ "$RC_FAILED" -gt 0 ] || [ -s "${RC_TMP:-/nonexistent}/valgrind-findings" ]; then
    echo "SKIP after failures: $*"
    rc_done
  fi
  echo "SKIP: $*"
  echo "$RC_PASSED passed, $RC_FAILED failed, skipped"
  exit $RC_SKIP_EXIT
}

# rc_web_deps: 0 when tests/web/node_modules holds what package-lock.json
# pins, after one `npm ci` if it does not. Done is the stamp scripts/test.sh
# also writes (node_modules/.rcoap-installed-lock, a copy of the lock file
# made after npm ci succeeded), not the presence of a package's folder: npm
# makes those folders before it fills them, so a test that looked only at
# playwright-core/ while another test's install ran found the folder and
# then no index.js (a CI-run failure). The browser tests run side by side
# under ctest -j: the install is done under a lock, so a second test waits
# for the first one's install instead of finding half of it.
rc_web_deps() {
  local webt=$RC_SRC/tests/web
  local stamp=$webt/node_modules/.rcoap-installed-lock
  cmp -s "$webt/package-lock.json" "$stamp" && return 0
  command -v npm >/dev/null || return 1
  (
    flock -w 600 9 || exit 1
    cmp -s "$webt/package-lock.json" "$stamp" && exit 0
    echo "tests/web: npm ci (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
    cd "$webt" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
      >"$RC_TMP/npm.log" 2>&1 && cp package-lock.json "$stamp" ||
      tail -n 20 "$RC_TMP/npm.log"
  ) 9>"$webt/.npm-ci.lock"
  cmp -s "$webt/package-lock.json" "$stamp"
}

rc_done() {
  # valgrind findings in runs whose rc_fail a subshell counted (rc_run)
  if [ -s "${RC_TMP:-/nonexistent}/valgrind-findings" ]; then
    local l
    while IFS= read -r l; do rc_fail "$l"; done <"$RC_TMP/valgrind-findings"
    : >"$RC_TMP/valgrind-findings"
  fi
  echo "$RC_PASSED passed, $RC_FAILED failed"
  [ "$RC_FAILED" -eq 0 ]
  exit
}
