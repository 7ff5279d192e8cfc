#!/usr/bin/env bash
# Bulk transfer benchmark, in one run: a SIZE_MIB file fetched from
# rcoapd --serve-dir over coap+tcp with BERT by rcoap-bench --bulk (the
# library's client, --window N Block2 requests in flight, the body
# counted and dropped), against raw loopback TCP measured by this same
# script: iperf3 (memory to memory, 128 KiB writes) and a socat pair
# sending the same file (file -> TCP -> /dev/null). Prints MB/s for each,
# the ratio BERT / raw (issue #16 target: >= 0.9 x raw TCP with one and
# with four in flight; on a shared machine the iperf3 figure swings as
# much as ours, so every GET is paired with an iperf3 run just before it
# and the ratio is also given as the median of the RUNS pairs' ratios),
# rcoap-bench's peak RSS and CPU time per GiB, rcoapd's CPU time per GiB
# (clock ticks over the GETs, /proc/PID/stat), both together against
# iperf3's two ends (its -V CPU utilization), rcoapd's peak RSS (VmHWM,
# target <= 16 MiB), with the load average beside. Also the BERT upload
# (rcoap -d @FILE to /sink, which hashes it) and, with NOBERT=1,
# 1024-byte blocks (rcoap --no-bert). Median of RUNS. Nothing is
# asserted: a benchmark is not a test.
#   bash bench/bulk.sh [BUILD_DIR]
#   SIZE_MIB=1024 WINDOWS="1 2 4 8" bash bench/bulk.sh build-rel
#   REF_BUILD=/tmp/main/build bash bench/bulk.sh build-rel
# Environment (defaults): SIZE_MIB=256 RUNS=3 NOBERT=0 PORT=25990
#   WINDOWS="1 4" REF_BUILD= (another build, e.g. main's: its rcoapd and
#   rcoap-bench run the same GETs, alternated with ours in every run)
#   PREAD=0 (1: also our rcoapd with --no-sendfile, blocks read and
#   written, as a third row)
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${SIZE_MIB:=256}" "${RUNS:=3}" "${NOBERT:=0}" "${PORT:=25990}" "${WINDOWS:=1 4}"
RCOAP=$BUILD_DIR/rcoap
bench_need rcoap rcoapd rcoap-bench
bench_tmp bulk
mkdir -p "$TMP/files"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$TMP/files/big.bin"
cat "$TMP/files/big.bin" >/dev/null # page cache
BYTES=$((SIZE_MIB * 1024 * 1024))

now() { date +%s.%N; }
# iperf_once: one iperf3 transfer of SIZE_MIB over loopback, 128 KiB
# writes; prints MB/s and the CPU seconds per GiB of both ends together
# (its -V "CPU Utilization", sender and receiver, times the duration);
# "0 0" without iperf3.
iperf_once() {
  command -v iperf3 >/dev/null || { echo 0 0; return; }
  local ip=$((PORT + 2)) isrv
  iperf3 -s -1 -B 127.0.0.1 -p "$ip" >/dev/null 2>&1 &
  isrv=$!
  bench_wait_listen "$ip"
  iperf3 -c 127.0.0.1 -p "$ip" -n "${SIZE_MIB}M" -l 128K -f m -V 2>/dev/null |
    awk -v m="$SIZE_MIB" '
      /receiver$/ { split($3, t, "-"); d = t[2]
                    for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") v = $i }
      /CPU Utilization/ { l = $4; r = $7; sub("%", "", l); sub("%", "", r) }
      END { printf "%.1f %.3f\n", v / 8, (l + r) / 100 * d * 1024 / m }'
  wait "$isrv" 2>/dev/null
}
mbps() { echo "scale=1; $BYTES / ($2 - $1) / 1000000" | bc; }
median() { printf '%s\n' "$@" | bench_median; }

# The servers compared: ours; REF_BUILD's when given; ours with
# --no-sendfile when PREAD=1 (each its own rcoapd, the same file).
declare -A B_DIR B_PID B_URI
BUILDS="this"
B_DIR[this]=$BUILD_DIR
[ -n "${REF_BUILD:-}" ] && BUILDS="$BUILDS ref" && B_DIR[ref]=$REF_BUILD
[ "${PREAD:-0}" = 1 ] && BUILDS="$BUILDS pread" && B_DIR[pread]=$BUILD_DIR
p=$PORT
for b in $BUILDS; do
  extra=()
  [ "$b" = pread ] && extra=(--no-sendfile)
  BUILD_DIR=${B_DIR[$b]} bench_start_rcoapd -l "coap+tcp://127.0.0.1:$p" \
    --state-dir "$TMP/state-$b" "${extra[@]}" --serve-dir "$TMP/files" || exit 1
  p=$((p + 3))
  B_PID[$b]=$RCOAPD_PID
  B_URI[$b]=${RCOAPD_URI[coap+tcp]}
done
U=${B_URI[this]}
RCOAPD_PID=${B_PID[this]}

declare -a R_PUT R_NB R_IPERF R_IPERF_CPU R_SOCAT
declare -A R_GET R_PAIR CLI_KIB SRV_TICKS CLI_CPU SRV_HWM
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do
  for w in $WINDOWS; do
    for b in $BUILDS; do
      k=$b:$w
      read -r ref refcpu < <(iperf_once)
      R_IPERF+=("$ref")
      R_IPERF_CPU+=("$refcpu")
      c0=$(bench_cpu_ticks "${B_PID[$b]}")
      line=$("${B_DIR[$b]}/rcoap-bench" --bulk --window "$w" -T 120 -q "${B_URI[$b]}/files/big.bin" | grep '^RESULT bulk')
      [ "$(bench_field transfers "$line")" = 1 ] || echo "$b rcoap-bench --bulk --window $w failed: $line" >&2
      c1=$(bench_cpu_ticks "${B_PID[$b]}")
      g=$(bench_field mbps "$line")
      R_GET[$k]="${R_GET[$k]:-} $g"
      R_PAIR[$k]="${R_PAIR[$k]:-} $(awk -v g="$g" -v r="$ref" 'BEGIN { if (r > 0) printf "%.2f", g / r; else print 0 }')"
      CLI_KIB[$k]=$(bench_field peak_rss_kib "$line")
      CLI_CPU[$k]="${CLI_CPU[$k]:-} $(bench_field bench_cpu_s "$line")"
      SRV_TICKS[$k]="${SRV_TICKS[$k]:-} $((c1 - c0))"
    done
  done
  for b in $BUILDS; do
    SRV_HWM[$b]=${SRV_HWM[$b]:-$(awk '/^VmHWM:/ { print $2 }' "/proc/${B_PID[$b]}/status")}
  done
  t0=$(now); "$RCOAP" -T 120 -d @"$TMP/files/big.bin" put "$U/sink" >/dev/null || echo "rcoap PUT failed" >&2; t1=$(now)
  R_PUT+=("$(mbps "$t0" "$t1")")
  if [ "$NOBERT" = 1 ]; then
    t0=$(now); "$RCOAP" --no-bert -T 600 -o /dev/null "$U/files/big.bin"; t1=$(now)
    R_NB+=("$(mbps "$t0" "$t1")")
  fi
  # raw TCP: socat pair with the same file
  sp=$((PORT + 1))
  socat -u "TCP-LISTEN:$sp,reuseaddr,bind=127.0.0.1" OPEN:/dev/null,wronly &
  sl=$!
  bench_wait_listen "$sp"
  t0=$(now); socat -u -b 131072 OPEN:"$TMP/files/big.bin" "TCP:127.0.0.1:$sp"; wait $sl; t1=$(now)
  R_SOCAT+=("$(mbps "$t0" "$t1")")
done
P=$(median "${R_PUT[@]}")
S=$(median "${R_SOCAT[@]}")
I=$(median "${R_IPERF[@]}")
IC=$(median "${R_IPERF_CPU[@]}")
echo "bulk: $SIZE_MIB MiB over loopback, median of $RUNS (MB/s); load average $LOAD0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
printf '  %-44s %8s\n' "raw TCP, socat file -> /dev/null" "$S"
printf '  %-44s %8s   both ends %s s CPU/GiB\n' "raw TCP, iperf3 128 KiB writes" "$I" "$IC"
for k in $(for w in $WINDOWS; do for b in $BUILDS; do echo "$b:$w"; done; done); do
  b=${k%%:*} w=${k#*:}
  # shellcheck disable=SC2086 # the list of figures
  G=$(median ${R_GET[$k]})
  # shellcheck disable=SC2086 # the list of figures
  T=$(median ${SRV_TICKS[$k]})
  SG=$(awk -v t="$T" -v hz="$BENCH_TCK" -v m="$SIZE_MIB" 'BEGIN { printf "%.2f", t / hz / (m / 1024) }')
  # shellcheck disable=SC2086 # the list of figures
  CG=$(awk -v t="$(median ${CLI_CPU[$k]})" -v m="$SIZE_MIB" 'BEGIN { printf "%.2f", t / (m / 1024) }')
  # shellcheck disable=SC2086 # the list of ratios
  PR=$(median ${R_PAIR[$k]})
  printf '  %-44s %8s   ratio to socat %s, to iperf3 %s (medians), %s (median of pairs:%s); bench peak RSS %s KiB, %s s CPU/GiB; rcoapd %s s CPU/GiB; both ends / iperf3 %s\n' \
    "GET coap+tcp BERT --window $w ($b)" "$G" "$(echo "scale=2; $G / $S" | bc)" \
    "$( [ "$I" != 0 ] && echo "scale=2; $G / $I" | bc || echo -)" "$PR" "${R_PAIR[$k]}" "${CLI_KIB[$k]}" "$CG" "$SG" \
    "$(awk -v c="$CG" -v s="$SG" -v i="$IC" 'BEGIN { if (i > 0) printf "%.2f", (c + s) / i; else print "-" }')"
  echo "RESULT bulk get build=$b window=$w size_mib=$SIZE_MIB mbps=$G socat_mbps=$S iperf3_mbps=$I iperf3_pair_ratio=$PR iperf3_cpu_s_per_gib=$IC client_peak_kib=${CLI_KIB[$k]} client_cpu_s_per_gib=$CG server_cpu_s_per_gib=$SG" >>"$TMP/results"
done
for b in $BUILDS; do
  echo "  rcoapd ($b) peak RSS (VmHWM) after the GETs: ${SRV_HWM[$b]} KiB"
  echo "RESULT bulk build=$b rcoapd_peak_kib=${SRV_HWM[$b]}" >>"$TMP/results"
done
printf '  %-44s %8s\n' "rcoap PUT coap+tcp BERT (-d @FILE, /sink)" "$P"
[ "$NOBERT" = 1 ] && printf '  %-44s %8s\n' "rcoap GET coap+tcp 1024-byte blocks" "$(median "${R_NB[@]}")"
cat "$TMP/results"
