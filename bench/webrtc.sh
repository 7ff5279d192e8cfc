#!/usr/bin/env bash
# What a WebRTC data channel costs against WebSockets, in one run: ONE
# rcoapd with coaps+wr, coaps+ws and coap+ws (the signaling) listeners on
# 127.0.0.1 and --serve-dir of a generated 64 MiB file;
#   - requests/s over ONE connection of the library's client (bench/wr_rps:
#     one GET opens it, then REQUESTS GETs of /hello with DEPTH in flight),
#     coaps+wr (one "coap" channel over SCTP/DTLS) and coaps+ws, alternated
#     RUNS times, medians and the wr/ws ratio;
#   - a 64 MiB GET (rcoap -o FILE, BERT and --window as rcoap's defaults)
#     over each, alternated RUNS times, median wall time and MiB/s, each
#     checked against the file, and the ratio;
#     With each coaps+wr GET, what SCTP did (RCOAP_SCTP_STATS: usrsctp's
#     counters printed by each side when its SCTP filter goes): packets
#     the client took and SACKs it sent per MiB, Block2 requests (the
#     client's DATA chunks) per MiB, rcoapd's retransmissions and T3
#     timeouts, and the host's UDP RcvbufErrors over the GET;
#   - first (before the transfers grow rcoapd's heap): rcoapd's RSS per
#     idle peer: WARM rcoap observe clients held on /sensors/temp over
#     coaps+wr, then PEERS more, (RSS with all - RSS with WARM) / PEERS
#     (so what the first peer brings once, library code paged in and
#     usrsctp's tables, is not counted); then the same over coaps+ws for
#     reference.
# Nothing is asserted: a benchmark is not a test. The load average is
# printed beside the figures (a shared machine moves them).
#
#   bash bench/webrtc.sh [BUILD_DIR]
# Environment (defaults): REQUESTS=20000 DEPTH=16 RUNS=3 SIZE_MIB=64
#   PEERS=20 WARM=5 SERVER_CPU=0 BENCH_CPU=1 (taskset cores).
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${REQUESTS:=20000}" "${DEPTH:=16}" "${RUNS:=3}" "${SIZE_MIB:=64}" "${PEERS:=20}"
: "${WARM:=5}"

bench_need rcoapd rcoap
RPS=$BUILD_DIR/bench/wr_rps
[ -x "$RPS" ] || bench_build wr_rps
bench_pin rcoapd "clients"
bench_tmp webrtc-bench
mkdir -p "$TMP/files"
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$TMP/files/big.bin"
# rcoapd and the GET's rcoap print usrsctp's counters (stderr)
RCOAP_SCTP_STATS=1 bench_start_rcoapd -q -l coaps+wr://127.0.0.1:0 -l coaps+ws://127.0.0.1:0 \
  -l coap+ws://127.0.0.1:0 --serve-dir "$TMP/files" --state-dir "$TMP/state" || exit 1
PID_RC=$RCOAPD_PID
WS=${RCOAPD_URI[coaps+ws]}
SIG=${RCOAPD_URI[coap+ws]}/webrtc
WR=coaps+wr://127.0.0.1

echo "rcoap over coaps+wr against coaps+ws, one rcoapd ($pinning)"
echo "machine: $(bench_machine); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- rcoapd memory per idle peer: coaps+wr, then coaps+ws for reference --
idle_kib() { # URI [ARGS...]: rcoapd's VmRSS growth per idle observer of URI
  # WARM observers first (what the first peers bring once: library code
  # paged in, usrsctp's global tables), then PEERS more: the growth over
  # those is what each costs.
  local u=$1 rss0 rss1 up=0 pids=()
  shift
  start_obs() { # FROM TO
    local i
    for i in $(seq "$1" "$2"); do
      "${PIN_BENCH[@]}" "$BUILD_DIR/rcoap" -T 120 --insecure "${args[@]}" observe \
        --duration 120 "$u/sensors/temp" >"$TMP/obs.$i" 2>&1 &
      pids+=("$!")
      bench_track "$!"
    done
  }
  wait_obs() { # N: until observers 1..N have their first notification
    local i
    for _ in $(seq 1 300); do
      up=0
      for i in $(seq 1 "$1"); do [ -s "$TMP/obs.$i" ] && up=$((up + 1)); done
      [ "$up" -ge "$1" ] && break
      sleep 0.1
    done
    sleep 1
  }
  local args=("$@")
  start_obs 1 "$WARM"
  wait_obs "$WARM"
  rss0=$(bench_rss_kib "$PID_RC")
  start_obs $((WARM + 1)) $((WARM + PEERS))
  wait_obs $((WARM + PEERS))
  rss1=$(bench_rss_kib "$PID_RC")
  bench_stop "${pids[@]}"
  rm -f "$TMP"/obs.*
  up=$((up - WARM))
  echo "$rss0 $rss1 $up $(printf '%.0f' "$(bench_div "$((rss1 - rss0))" "$up")")"
}
read -r w0 w1 wup wkib < <(idle_kib "$WR" --signal "$SIG")
sleep 1
read -r s0 s1 sup skib < <(idle_kib "$WS")
printf 'rcoapd RSS per idle peer (%s rcoap observe clients on /sensors/temp, after %s)\n' \
  "$PEERS" "$WARM"
printf '  coaps+wr %5s KiB   (%s KiB before, %s KiB with %s up)\n' "$wkib" "$w0" "$w1" "$wup"
printf '  coaps+ws %5s KiB   (%s KiB before, %s KiB with %s up)\n' "$skib" "$s0" "$s1" "$sup"
echo "RESULT bench=webrtc what=idle peers=$wup kib_per_peer=$wkib ws_kib_per_peer=$skib"
echo

# --- requests/s over one connection -----------------------------------------
wr_r=() ws_r=()
for _ in $(seq 1 "$RUNS"); do
  r=$("${PIN_BENCH[@]}" "$RPS" "$WR/hello" "$REQUESTS" "$DEPTH" "$SIG")
  wr_r+=("$(bench_field rps "$r")")
  r=$("${PIN_BENCH[@]}" "$RPS" "$WS/hello" "$REQUESTS" "$DEPTH")
  ws_r+=("$(bench_field rps "$r")")
done
wr_m=$(printf '%s\n' "${wr_r[@]}" | bench_median)
ws_m=$(printf '%s\n' "${ws_r[@]}" | bench_median)
printf 'GET /hello, one connection, depth %s, %s requests (median of %s)\n' \
  "$DEPTH" "$REQUESTS" "$RUNS"
printf '  coaps+wr %8s req/s   (%s)\n' "$wr_m" "${wr_r[*]}"
printf '  coaps+ws %8s req/s   (%s)\n' "$ws_m" "${ws_r[*]}"
printf '  wr/ws    %8.2f\n' "$(bench_div "$wr_m" "$ws_m")"
echo "RESULT bench=webrtc what=rps depth=$DEPTH wr=$wr_m ws=$ws_m"
echo

# --- one large GET over each ------------------------------------------------
get_s() { # URI [ARGS...]: prints the seconds of rcoap -o; checks the body
  local u=$1 t0 t1
  shift
  rm -f "$TMP/got.bin"
  t0=$(date +%s.%N)
  RCOAP_SCTP_STATS=1 "${PIN_BENCH[@]}" "$BUILD_DIR/rcoap" -T 120 --insecure \
    "$@" -o "$TMP/got.bin" "$u/files/big.bin" 2>"$TMP/get.err" || { echo "fail"; return; }
  t1=$(date +%s.%N)
  cmp -s "$TMP/got.bin" "$TMP/files/big.bin" || { echo "differs"; return; }
  echo "$t1 - $t0" | bc -l
}
# usrsctp's counters are the process's since usrsctp started (it stops,
# and they start again, when its last association goes).
stat_of() { # FIELD FILE: FIELD of FILE's last SCTPSTAT line (-: none)
  local v
  v=$(grep SCTPSTAT "$2" 2>/dev/null | tail -n 1 | grep -o " $1=[0-9]*" | cut -d= -f2)
  echo "${v:--}"
}
srv_stat() { # FIELD N: FIELD in rcoapd's SCTPSTAT lines after its Nth
  local f=$TMP/rcoapd.out a b d0 d1
  [ "$(grep -c SCTPSTAT "$f")" -gt "$2" ] || { echo -; return; }
  b=$(stat_of "$1" "$f")
  [ "$2" -gt 0 ] || { echo "$b"; return; }
  a=$(grep SCTPSTAT "$f" | sed -n "${2}p" | grep -o " $1=[0-9]*" | cut -d= -f2)
  d0=$(grep SCTPSTAT "$f" | sed -n "${2}p" | grep -o " out_data=[0-9]*" | cut -d= -f2)
  d1=$(stat_of out_data "$f")
  [ "$d1" -ge "$d0" ] && echo $((b - a)) || echo "$b" # else usrsctp restarted
}
rcvbuf_errors() { awk '/^Udp:/ { getline; print $6; exit }' /proc/net/snmp; }
wr_g=() ws_g=() counts=()
for _ in $(seq 1 "$RUNS"); do
  e0=$(rcvbuf_errors)
  n0=$(grep -c SCTPSTAT "$TMP/rcoapd.out")
  wr_g+=("$(get_s "$WR" --signal "$SIG")")
  sleep 0.3 # rcoapd's filter goes once the client's abort came
  e1=$(rcvbuf_errors)
  counts+=("$(printf '%.0f %.0f %.1f %s %s %s' \
    "$(bench_div "$(stat_of in_packets "$TMP/get.err")" "$SIZE_MIB")" \
    "$(bench_div "$(stat_of out_sacks "$TMP/get.err")" "$SIZE_MIB")" \
    "$(bench_div "$(stat_of out_data "$TMP/get.err")" "$SIZE_MIB")" \
    "$(srv_stat retrans "$n0")" "$(srv_stat t3 "$n0")" "$((e1 - e0))")")
  ws_g+=("$(get_s "$WS")")
done
wr_s=$(printf '%s\n' "${wr_g[@]}" | bench_median)
ws_s=$(printf '%s\n' "${ws_g[@]}" | bench_median)
mibs() { [[ $1 =~ ^[0-9.]+$ ]] && printf '%.1f' "$(bench_div "$SIZE_MIB" "$1")" || echo "-"; }
printf 'GET of %s MiB (rcoap -o FILE, checked; median of %s)\n' "$SIZE_MIB" "$RUNS"
printf '  coaps+wr %7.2f s  %6s MiB/s   (%s)\n' "${wr_s/fail/0}" "$(mibs "$wr_s")" "${wr_g[*]}"
printf '  coaps+ws %7.2f s  %6s MiB/s   (%s)\n' "${ws_s/fail/0}" "$(mibs "$ws_s")" "${ws_g[*]}"
printf '  wr/ws throughput %.2f\n' "$(bench_div "$ws_s" "$wr_s")"
echo "  coaps+wr, each GET: packets in/MiB, SACKs out/MiB, requests/MiB (client);"
echo "  retransmissions, T3 timeouts (rcoapd); UDP RcvbufErrors (host)"
for c in "${counts[@]}"; do
  read -r -a f <<<"$c"
  printf '    %6s %6s %6s %6s %6s %6s\n' "${f[@]}"
done
read -r pk sk rq rt t3 rb <<<"${counts[0]}"
echo "RESULT bench=webrtc what=get size_mib=$SIZE_MIB wr_s=$wr_s ws_s=$ws_s" \
  "pkts_per_mib=$pk sacks_per_mib=$sk reqs_per_mib=$rq retrans=$rt t3=$t3 rcvbuf_errors=$rb"
echo

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
