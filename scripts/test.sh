#!/usr/bin/env bash
# THE test command: runs every test rcoap has, the way CI runs them
# (.ci/run calls this script and nothing else). Steps:
#   1. install the Debian packages (scripts/install-deps.sh; fast when done)
#   2. layering check (scripts/layers.py: includes only point down the stack)
#   3. normal build (-Werror) and ctest
#   4. ASan+UBSan build (-DRCOAP_SANITIZE=ON) and ctest
#   5. the browser client's node tests (tests/web/*.test.mjs, and the demo
#      page in Chromium against tests/web/fake-server.mjs: browser-test.mjs)
#   6. integration tests again under valgrind (RCOAP_VALGRIND=1, honoured by
#      scripts/testlib.sh), when tests/integration has any
#   7. every fuzz/fuzz_*.c target built with clang and run FUZZ_SECONDS on a
#      copy of its seed corpus fuzz/corpus/<name>/
# The builds of 4 and 7 run in the background during 3's ctest (BG_BUILDS).
# It counts ctest tests, fuzz targets and checks, prints a summary and ends
# with the line "N passed, N failed"; it exits non-zero if anything failed.
#
# Environment:
#   FUZZ_SECONDS   seconds per fuzz target (default 20; 0 skips fuzzing)
#   FUZZ_JOBS      fuzz targets run at once (default: JOBS)
#   BUILD_ROOT     where the build folders go (default <repo>/build-test)
#   JOBS           parallel compile jobs (default: nproc)
#   CTEST_JOBS     tests run at once in the normal and ASan ctest (default 2)
#   VALGRIND_JOBS  integration tests run at once under valgrind (default
#                  nproc + 1, at least 3, at most 4)
#   BG_BUILDS=0    build the ASan and fuzz folders in their own steps, not
#                  in the background during the normal ctest (default 1)
#   WEB_TEST_TIMEOUT  seconds for the node tests (default 300)
#   RCOAP_SKIP_DEPS=1  do not run install-deps.sh
#   STEPS          only these steps, e.g. STEPS="build fuzz" (names: layers
#                  build asan web valgrind fuzz; default all; valgrind
#                  needs build)
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_ROOT=${BUILD_ROOT:-$ROOT/build-test}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# Tests wait on sockets and timers as much as they compute. The normal and
# ASan ctest run two at once whatever the machine: that is what the tests'
# time limits were proven under (CI, and loops at load 14-21); more at once
# puts several Chromiums and namespaces side by side, unproven. Valgrind's
# runs are CPU-bound but wait too (handshake and observe timers): one more
# than the cores, at least 3 and at most 4 (memcheck's shadow memory is
# 100-200 MB a process and a test holds several).
CTEST_JOBS=${CTEST_JOBS:-2}
VALGRIND_JOBS=${VALGRIND_JOBS:-$((JOBS + 1 > 4 ? 4 : JOBS + 1 > 3 ? JOBS + 1 : 3))}
LOGDIR=$BUILD_ROOT/logs
mkdir -p "$LOGDIR"

PASSED=0
FAILED=0
SKIPPED=0
NORMAL_OK=0
STEPS=${STEPS:-layers build asan web valgrind fuzz}
# want STEP: whether STEP is selected; notes a skip when it is not.
want() {
  wanted "$1" && return 0
  note "SKIP  $1: not in STEPS"
  return 1
}
wanted() { [[ " $STEPS " == *" $1 "* ]]; }
SUMMARY=()
STEP=0
T0=$(date +%s)

header() {
  STEP=$((STEP + 1))
  printf '\n==== [%d] %s (at %ds) ====\n' "$STEP" "$*" $(($(date +%s) - T0))
}
note() { SUMMARY+=("$1"); echo "$1"; }
# Shows the end of a log after a failure.
show_log() {
  echo "---- last lines of $1 ----"
  tail -n "${2:-60}" "$1"
  echo "---- (full log: $1) ----"
}

# build NAME DIR CMAKE_ARGS... [-- TARGETS...]: configure and build; 0 if ok.
build() {
  local name=$1 dir=$2
  shift 2
  local args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  targets=("$@")
  local log=$LOGDIR/$name-build.log
  local tflag=()
  [ ${#targets[@]} -gt 0 ] && tflag=(--target "${targets[@]}")
  echo "building $name in $dir (log: $log)"
  if cmake -S "$ROOT" -B "$dir" "${args[@]}" >"$log" 2>&1 &&
     cmake --build "$dir" -j "$JOBS" "${tflag[@]}" >>"$log" 2>&1; then
    echo "build $name: ok"
    return 0
  fi
  show_log "$log"
  return 1
}

# The ASan and fuzz builds need nothing from the tests before them: with
# BG_BUILDS=1 they start once the normal build is done, in the background
# at the lowest priority (nice 19), and take the CPU the normal ctest
# leaves idle while its tests wait on sockets and timers; their steps then
# wait for them (bg_wait) instead of building. Their output is kept and
# shown when waited for, so the log reads as before.
BG_BUILDS=${BG_BUILDS:-1}
declare -A BG_PID=()
# bg_start NAME FUNCTION ARGS...: FUNCTION ARGS in the background, niced.
bg_start() {
  local name=$1
  shift
  rm -f "$LOGDIR/$name-bg.done"
  (
    renice -n 19 -p "$BASHPID" >/dev/null 2>&1
    rc=0
    "$@" || rc=$?
    : >"$LOGDIR/$name-bg.done"
    exit "$rc"
  ) >"$LOGDIR/$name-bg.out" 2>&1 &
  BG_PID[$name]=$!
}
# bg_tree PID: PID and its descendants.
bg_tree() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" 2>/dev/null); do bg_tree "$c"; done
}
# bg_wait NAME: waits for NAME, prints its output, returns its status; 2
# if it was never started. Nothing else runs now: the job (make and the
# compilers it starts from now on) gets our priority back, where allowed.
bg_wait() {
  local pid=${BG_PID[$1]:-} rc=0
  [ -z "$pid" ] && return 2
  # shellcheck disable=SC2046 # one PID per word
  renice -n "$(nice)" -p $(bg_tree "$pid") >/dev/null 2>&1
  wait "$pid" || rc=$?
  unset "BG_PID[$1]"
  cat "$LOGDIR/$1-bg.out"
  return "$rc"
}

# run_ctest NAME DIR [CTEST_ARGS...]: runs ctest, adds its counts.
run_ctest() {
  local name=$1 dir=$2
  shift 2
  local log=$LOGDIR/$name-ctest.log
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line failed total skipped
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    # Tests that exited 77 (rc_skip: a peer is missing) are not passes.
    skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$log")
    PASSED=$((PASSED + total - failed - skipped))
    FAILED=$((FAILED + failed))
    SKIPPED=$((SKIPPED + skipped))
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
      if [ "$skipped" -gt 0 ]; then
        note "PASS  $name: $((total - skipped)) tests, $skipped skipped (log: $log)"
      else
        note "PASS  $name: $total tests"
      fi
    else
      [ "$failed" -eq 0 ] && FAILED=$((FAILED + 1))
      note "FAIL  $name: $failed of $total tests failed (log: $log)"
    fi
  elif grep -q 'No tests were found' "$log" && [ "$rc" -eq 0 ]; then
    note "PASS  $name: no tests registered"
  else
    FAILED=$((FAILED + 1))
    note "FAIL  $name: ctest exited $rc (log: $log)"
  fi
}

# ---- 1. dependencies ---------------------------------------------------------
header "dependencies"
if [ "${RCOAP_SKIP_DEPS:-0}" = 1 ]; then
  echo "RCOAP_SKIP_DEPS=1: not checking packages"
elif ! bash "$ROOT/scripts/install-deps.sh"; then
  FAILED=$((FAILED + 1))
  note "FAIL  install-deps.sh (nothing else can run)"
  printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
  exit 1
fi

# ---- 2. layering ------------------------------------------------------------
header "layering check (scripts/layers.py)"
if want layers; then
  out=$(python3 "$ROOT/scripts/layers.py" "$ROOT" 2>&1)
  rc=$?
  if [ -z "$out" ] && [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    note "PASS  layering check"
  else
    printf '%s\n' "$out"
    FAILED=$((FAILED + 1))
    note "FAIL  layering check: an include points up or across the layer stack (see above)"
  fi
fi

ASAN_CMAKE=(-DCMAKE_BUILD_TYPE=Debug -DRCOAP_WERROR=ON -DRCOAP_SANITIZE=ON
  -DRCOAP_FUZZ=OFF -DRCOAP_TESTS=ON -DRCOAP_BENCH=OFF)
DIR_ASAN=$BUILD_ROOT/asan
DIR_FUZZ=$BUILD_ROOT/fuzz
FUZZ_CMAKE=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DRCOAP_WERROR=ON -DRCOAP_SANITIZE=OFF -DRCOAP_FUZZ=ON
  -DRCOAP_TESTS=OFF -DRCOAP_BENCH=OFF)
mapfile -t FUZZ_SRCS < <(cd "$ROOT" && ls fuzz/fuzz_*.c 2>/dev/null)
TARGETS=()
for src in "${FUZZ_SRCS[@]}"; do TARGETS+=("$(basename "$src" .c)"); done
# start_bg_builds: the ASan build, then the fuzz build, one after the other
# in the background (BG_BUILDS=1), for the steps that will run.
start_bg_builds() {
  [ "$BG_BUILDS" = 1 ] || return 0
  if wanted asan; then
    bg_start asan build asan "$DIR_ASAN" "${ASAN_CMAKE[@]}"
  fi
  if wanted fuzz && [ "${#TARGETS[@]}" -gt 0 ] && [ "$FUZZ_SECONDS" != 0 ]; then
    # after the ASan build (its step comes first), not beside it
    bg_start fuzz bg_after asan build fuzz "$DIR_FUZZ" "${FUZZ_CMAKE[@]}" -- "${TARGETS[@]}"
  fi
}
# bg_after NAME CMD...: CMD once background job NAME (if started) is done.
bg_after() {
  local pid=${BG_PID[$1]:-} done=$LOGDIR/$1-bg.done
  shift
  # not a child of this subshell: its done file tells
  if [ -n "$pid" ]; then
    while [ ! -e "$done" ] && kill -0 "$pid" 2>/dev/null; do sleep 2; done
  fi
  "$@"
}

# ---- 3. normal build + ctest -------------------------------------------------
header "build (-Werror) and ctest"
DIR_NORMAL=$BUILD_ROOT/normal
if ! want build; then
  :
elif build normal "$DIR_NORMAL" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DRCOAP_WERROR=ON -DRCOAP_SANITIZE=OFF -DRCOAP_FUZZ=OFF \
     -DRCOAP_TESTS=ON -DRCOAP_BENCH=ON; then
  NORMAL_OK=1
  start_bg_builds
  run_ctest ctest "$DIR_NORMAL" -j "$CTEST_JOBS"
else
  FAILED=$((FAILED + 1))
  note "FAIL  normal build (log: $LOGDIR/normal-build.log)"
fi

# ---- 4. sanitizer build + ctest ----------------------------------------------
header "build with ASan+UBSan and ctest"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if ! want asan; then
  :
elif bg_wait asan || { [ $? = 2 ] && build asan "$DIR_ASAN" "${ASAN_CMAKE[@]}"; }; then
  run_ctest ctest-asan "$DIR_ASAN" -j "$CTEST_JOBS"
else
  FAILED=$((FAILED + 1))
  note "FAIL  sanitizer build (log: $LOGDIR/asan-build.log)"
fi

# ---- 5. browser client tests (node --test) -----------------------------------
header "web client tests (node --test tests/web)"
# The *.test.mjs files, and browser-test.mjs, whose node:test cases run the
# demo page in Chromium against tests/web/fake-server.mjs (observe, and the
# polling fallback).
mapfile -t WEB_TESTS < <(cd "$ROOT" && find tests/web -name node_modules -prune \
  -o \( -name '*.test.mjs' -o -name browser-test.mjs \) -print 2>/dev/null | sort)
if ! want web; then
  :
elif [ "${#WEB_TESTS[@]}" -eq 0 ]; then
  note "SKIP  web tests: no tests/web/*.test.mjs yet"
elif ! command -v node >/dev/null 2>&1; then
  FAILED=$((FAILED + 1))
  note "FAIL  web tests: node is not installed"
else
  log=$LOGDIR/web-test.log
  : >"$log"
  rc=0
  # Their npm devDependencies, pinned by package-lock.json; installed again
  # only when the lock file changed.
  stamp=$ROOT/tests/web/node_modules/.rcoap-installed-lock
  if [ -f "$ROOT/tests/web/package-lock.json" ] &&
     ! cmp -s "$ROOT/tests/web/package-lock.json" "$stamp" 2>/dev/null; then
    echo "npm ci in tests/web (log: $log)"
    if (cd "$ROOT/tests/web" && npm ci --no-audit --no-fund) >>"$log" 2>&1; then
      cp "$ROOT/tests/web/package-lock.json" "$stamp"
    else
      rc=1
    fi
  fi
  if [ "$rc" -ne 0 ]; then
    show_log "$log"
    FAILED=$((FAILED + 1))
    note "FAIL  web tests: npm ci failed (log: $log)"
  else
    # A test that leaves a socket open would keep node alive: bound it.
    (cd "$ROOT" && timeout --kill-after=10 "${WEB_TEST_TIMEOUT:-300}" \
       node --test "${WEB_TESTS[@]}") >>"$log" 2>&1
    rc=$?
    pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)
    fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)
    PASSED=$((PASSED + ${pass:-0}))
    FAILED=$((FAILED + ${fail:-0}))
    if [ "$rc" -eq 0 ] && [ -n "$pass" ]; then
      note "PASS  web tests: $pass tests in ${#WEB_TESTS[@]} files"
    else
      grep -E '^not ok|^# (pass|fail)|Error|error' "$log" | head -n 40
      [ "${fail:-0}" -eq 0 ] && FAILED=$((FAILED + 1))
      [ "$rc" -eq 124 ] && echo "node --test timed out after ${WEB_TEST_TIMEOUT:-300}s"
      note "FAIL  web tests: ${fail:-?} failed, node exited $rc (log: $log)"
    fi
  fi
fi

# ---- 6. valgrind on the integration tests ------------------------------------
# HOOK: every tests/integration/test_*.sh that starts tools through rc_run
# (scripts/testlib.sh) runs them under memcheck here, on the normal build.
header "integration tests under valgrind"
if ! want valgrind; then
  :
elif ! compgen -G "$ROOT/tests/integration/test_*.sh" >/dev/null; then
  note "SKIP  valgrind: tests/integration has no tests yet"
elif [ "$NORMAL_OK" != 1 ]; then
  note "SKIP  valgrind: the normal build failed or did not run"
elif ! command -v valgrind >/dev/null 2>&1; then
  FAILED=$((FAILED + 1))
  note "FAIL  valgrind: not installed"
else
  # Tests take ephemeral ports, so two can run at once; valgrind is slow
  # (TLS handshakes most of all) and this halves the step's wall time.
  RCOAP_VALGRIND=1 run_ctest ctest-valgrind "$DIR_NORMAL" -L integration \
    -j "$VALGRIND_JOBS"
fi

# ---- 7. fuzzing -------------------------------------------------------------
header "fuzz targets (${FUZZ_SECONDS}s each)"
if ! want fuzz; then
  :
elif [ "${#FUZZ_SRCS[@]}" -eq 0 ]; then
  note "SKIP  fuzzing: no fuzz/fuzz_*.c targets yet"
elif [ "$FUZZ_SECONDS" = 0 ]; then
  note "SKIP  fuzzing: FUZZ_SECONDS=0"
else
  WORK=$BUILD_ROOT/fuzz-run
  rm -rf "$WORK"
  mkdir -p "$WORK"
  # All targets in one build (in the background since the normal build,
  # if BG_BUILDS); if that fails, one by one to tell which.
  BUILT=()
  if bg_wait fuzz ||
     { [ $? = 2 ] && build fuzz "$DIR_FUZZ" "${FUZZ_CMAKE[@]}" -- "${TARGETS[@]}"; }; then
    BUILT=("${TARGETS[@]}")
  else
    for target in "${TARGETS[@]}"; do
      if build "$target" "$DIR_FUZZ" "${FUZZ_CMAKE[@]}" -- "$target"; then
        BUILT+=("$target")
      else
        FAILED=$((FAILED + 1))
        note "FAIL  $target: build failed (log: $LOGDIR/$target-build.log)"
      fi
    done
  fi

  # run_fuzz TARGET: runs one target on a copy of its seeds; writes
  # "PASS ..." or "FAIL ..." to $WORK/result-TARGET.
  run_fuzz() {
    local target=$1 name=${1#fuzz_} corpus seeds log exe rc runs
    corpus=$WORK/corpus-$name
    mkdir -p "$corpus" "$WORK/artifacts-$name"
    if [ -d "$ROOT/fuzz/corpus/$name" ]; then
      cp -R "$ROOT/fuzz/corpus/$name/." "$corpus/"
    fi
    seeds=$(find "$corpus" -type f | wc -l)
    log=$LOGDIR/$target-fuzz.log
    exe=$DIR_FUZZ/fuzz/$target # fuzz/CMakeLists.txt is a subdirectory
    [ -x "$exe" ] || exe=$DIR_FUZZ/$target
    # -timeout: one input running longer than this is a hang (a failure).
    timeout $((FUZZ_SECONDS * 2 + 120)) "$exe" \
      -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$WORK/artifacts-$name/" \
      "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$WORK/artifacts-$name")" ]; then
      echo "PASS  $target: ${runs:-?} runs from $seeds seeds in ${FUZZ_SECONDS}s" \
        >"$WORK/result-$target"
    else
      echo "FAIL  $target: exit $rc, artifacts in $WORK/artifacts-$name/ (log: $log)" \
        >"$WORK/result-$target"
    fi
  }

  # FUZZ_JOBS targets at a time (default: one per core).
  FUZZ_JOBS=${FUZZ_JOBS:-$JOBS}
  running=0
  for target in "${BUILT[@]}"; do
    if [ "$running" -ge "$FUZZ_JOBS" ]; then
      wait -n
      running=$((running - 1))
    fi
    echo "fuzzing $target for ${FUZZ_SECONDS}s"
    run_fuzz "$target" &
    running=$((running + 1))
  done
  wait
  for target in "${BUILT[@]}"; do
    res=$(cat "$WORK/result-$target" 2>/dev/null ||
      echo "FAIL  $target: no result (log: $LOGDIR/$target-fuzz.log)")
    if [[ "$res" == PASS* ]]; then
      PASSED=$((PASSED + 1))
    else
      show_log "$LOGDIR/$target-fuzz.log" 40
      FAILED=$((FAILED + 1))
    fi
    note "$res"
  done
fi

# ---- summary -----------------------------------------------------------------
printf '\n==== summary (%ds) ====\n' $(($(date +%s) - T0))
printf '%s\n' "${SUMMARY[@]}"
[ "$SKIPPED" -gt 0 ] && printf '%d skipped (a peer is missing: see the logs)\n' "$SKIPPED"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
