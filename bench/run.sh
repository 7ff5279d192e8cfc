#!/usr/bin/env bash
# Builds rcoap in Release and runs every benchmark in one go:
#   - each bench/NAME.c, built as NAME (bench/CMakeLists.txt), run with no
#     arguments;
#   - each other bench/*.sh (load.sh, ws.sh, tls.sh, ...), run as
#     `bash script BUILD_DIR`: load against running servers, rcoapd vs
#     coap-server-notls or OpenSSL, each with its own environment knobs
#     documented at its top (bench/lib.sh holds what they share).
# Benchmarks print their own figures and rcoap/reference ratios; this script
# prints them one after the other and says which failed. Benchmarks are not
# tests: nothing here is registered with ctest, and no timing is asserted.
#
#   bash bench/run.sh [NAME...]     run only the named benchmarks
#                                   (codec_bench, load, ws, ...)
# Environment: BUILD_DIR (default <repo>/build-bench), JOBS,
#   BENCH_MIN_SECONDS (per timing, default 0.5), RCOAP_SKIP_DEPS=1.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
log=$BUILD_DIR/bench-build.log

if [ "${RCOAP_SKIP_DEPS:-0}" != 1 ]; then
  bash "$ROOT/scripts/install-deps.sh" || exit 1
fi

echo "== building (Release) in $BUILD_DIR"
bench_build

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w
  for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

ran=0
failed=()
for src in "$ROOT"/bench/*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  selected "$name" || continue
  echo
  echo "== $name"
  if [ ! -x "$BUILD_DIR/bench/$name" ]; then
    echo "$name was not built (see $log)"
    failed+=("$name")
    continue
  fi
  "$BUILD_DIR/bench/$name" || failed+=("$name")
  ran=$((ran + 1))
done
for script in "$ROOT"/bench/*.sh; do
  [ -e "$script" ] || continue
  name=$(basename "$script" .sh)
  case $name in run | lib) continue ;; esac # the runner and the helpers
  selected "$name" || continue
  echo
  echo "== $name"
  bash "$script" "$BUILD_DIR" || failed+=("$name")
  ran=$((ran + 1))
done

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks run: $ran; failed: ${failed[*]}"
  exit 1
fi
echo "benchmarks run: $ran"
