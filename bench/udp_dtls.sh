#!/usr/bin/env bash
# CoAP over UDP and DTLS (RFC 7252), rcoapd against libcoap 4.3.1, in one
# run (servers pinned to one core, rcoap-bench to the other, when taskset
# is there). Small GET (rcoapd /hello, libcoap /example_data after a PUT
# of the same 27-byte text), CON with a piggybacked 2.05; CONNS peers (each
# rcoap-bench "connection" is a UDP socket of its own), DEPTH CONs
# outstanding per peer (NSTART = DEPTH on the client). Rows:
#   udp       rcoapd vs coap-server-notls: req/s and server CPU per request
#   dtls/udp  rcoapd coaps:// (PSK) against rcoapd coap://
#   dtls      rcoapd coaps:// vs coap-server-openssl coaps://, PSK
#   handshakes  full DTLS 1.2 handshakes per second (rcoap-bench
#             --handshakes: new socket, cookie exchange, handshake, one GET,
#             close_notify), rcoapd vs coap-server-openssl, PSK and
#             certificate (rcoapd's demo P-256 certificate, libcoap the
#             test PKI's; rcoap-bench --insecure: no chain check)
#   memory    server VmRSS growth per peer with PEERS peers held (rcoap-bench
#             --idle: one request each, then idle), coap:// and coaps://
#             (PSK), rcoapd and libcoap
# Server CPU per request from /proc/PID/stat over the middle of each
# window. Nothing is asserted: a benchmark is not a test. Instruction
# counts (steady on a busy machine) are taken by hand with callgrind, see
# docs/BENCHMARKS.md.
#
#   bash bench/udp_dtls.sh [BUILD_DIR]
# Environment (defaults): DURATION=4 WARMUP=1 (seconds), CONNS=50,
#   DEPTH=4, HS_PAR=8 (handshake loops at once), PEERS=1000,
#   PSK_ID=bench PSK_KEY=bench-secret, SERVER_CPU=0 BENCH_CPU=1.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
: "${DURATION:=4}" "${WARMUP:=1}" "${CONNS:=50}" "${DEPTH:=4}" "${HS_PAR:=8}"
: "${PEERS:=1000}" "${PSK_ID:=bench}" "${PSK_KEY:=bench-secret}" "${SETTLE:=1}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
for s in coap-server-notls coap-server-openssl; do
  command -v $s >/dev/null || bench_fail "$s not found (apt-get install libcoap3-bin)"
done
ulimit -n $((PEERS + 200)) 2>/dev/null || PEERS=$(($(ulimit -n) - 200))
bench_pin servers rcoap-bench
bench_tmp udp-dtls
PSK=(--psk-identity "$PSK_ID" --psk-key "$PSK_KEY")

# rcoapd: coap:// and coaps:// with the PSK; a second one with the demo
# certificate for the certificate handshakes.
bench_start_rcoapd -q -l coap://127.0.0.1:0 -l coaps://127.0.0.1:0 "${PSK[@]}" \
  --state-dir "$TMP/state" || exit 1
PID_RC=$RCOAPD_PID U_RC=${RCOAPD_URI[coap]} S_RC=${RCOAPD_URI[coaps]}
PAYLOAD="Hello, world! (rcoap $("$BUILD_DIR/rcoapd" -V | cut -d' ' -f2))"

# libcoap: notls for coap://, openssl with the PSK (coaps:// on port + 1),
# openssl with the test PKI's server certificate (tests/certs/gen.sh).
bash "$ROOT/tests/certs/gen.sh" "$TMP/pki" >/dev/null || bench_fail "PKI failed"
P_LN=$(bench_pick_port 27683)
bench_start_libcoap coap-server-notls "$P_LN" || exit 1
PID_LN=$LIBCOAP_PID
P_LP=$(bench_pick_port $((P_LN + 2)))
bench_start_libcoap coap-server-openssl "$P_LP" -k "$PSK_KEY" -h hint || exit 1
PID_LP=$LIBCOAP_PID
P_LC=$(bench_pick_port $((P_LP + 2)))
bench_start_libcoap coap-server-openssl "$P_LC" -c "$TMP/pki/server.crt" -j "$TMP/pki/server.key" || exit 1
PID_LC=$LIBCOAP_PID
for u in "coap://127.0.0.1:$P_LN" "coap://127.0.0.1:$P_LP" "coap://127.0.0.1:$P_LC"; do
  "$BENCH" -q -c 1 -p 1 -n 1 -m "PUT /example_data=${PAYLOAD//,/\\,}" "$u" >/dev/null ||
    echo "udp_dtls.sh: warning: PUT /example_data to $u failed"
done

# load NAME PID URI MIX [ARG...] -> "rps p50 p99 cpu_us errors"
load() {
  local name=$1 pid=$2 uri=$3 mix=$4
  shift 4
  bench_windowed "$pid" "$TMP/$name.out" "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" \
    -p "$DEPTH" --duration "$DURATION" -w "$WARMUP" -m "$mix" "$@" "$uri"
  bench_summary
}
# handshakes NAME PID URI MIX [ARG...] -> "rate p50 p99 cpu_us_per_handshake errors"
handshakes() {
  local name=$1 pid=$2 uri=$3 mix=$4
  shift 4
  bench_windowed "$pid" "$TMP/hs-$name.out" "${PIN_BENCH[@]}" "$BENCH" -q --handshakes \
    -c "$HS_PAR" -p 1 --duration "$DURATION" -w "$WARMUP" -m "$mix" "$@" "$uri"
  bench_summary
}
# memory NAME PID URI MIX [ARG...] -> "bytes_per_peer peers"
memory() {
  local name=$1 pid=$2 uri=$3 mix=$4 before after est bpid
  shift 4
  "$BENCH" -q -c 8 -p 1 -n 64 -m "$mix" "$@" "$uri" >/dev/null 2>&1
  sleep "$SETTLE"
  before=$(bench_rss_kib "$pid")
  "$BENCH" --idle -c "$PEERS" --connect-inflight 16 --connect-timeout 30 -m "$mix" \
    "$@" "$uri" >"$TMP/mem-$name.out" 2>&1 &
  bpid=$!
  bench_track "$bpid"
  for _ in $(seq 1 1200); do # at most 120 s
    grep -q '^IDLE' "$TMP/mem-$name.out" && break
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.1
  done
  est=$(sed -nE 's/^IDLE established=([0-9]+).*/\1/p' "$TMP/mem-$name.out")
  sleep "$SETTLE"
  after=$(bench_rss_kib "$pid")
  bench_stop "$bpid"
  if [ -z "$est" ] || [ "$est" = 0 ]; then echo "0 0"; return; fi
  echo "$(((after - before) * 1024 / est)) $est"
}

echo "CoAP over UDP and DTLS on 127.0.0.1: rcoapd vs libcoap 4.3.1 (coap-server-notls / -openssl)"
echo "$CONNS peers x depth $DEPTH, ${DURATION}s measured after ${WARMUP}s warm-up; $pinning"
bench_machine
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
LC_MIX="GET /example_data"
RC_MIX="GET /hello"
declare -A R
R[udp-rc]=$(load udp-rc "$PID_RC" "$U_RC" "$RC_MIX")
R[udp-lc]=$(load udp-lc "$PID_LN" "coap://127.0.0.1:$P_LN" "$LC_MIX")
R[dtls-rc]=$(load dtls-rc "$PID_RC" "$S_RC" "$RC_MIX" "${PSK[@]}")
R[dtls-lc]=$(load dtls-lc "$PID_LP" "coaps://127.0.0.1:$((P_LP + 1))" "$LC_MIX" "${PSK[@]}")
R[hs-psk-rc]=$(handshakes psk-rc "$PID_RC" "$S_RC" "$RC_MIX" "${PSK[@]}")
R[hs-psk-lc]=$(handshakes psk-lc "$PID_LP" "coaps://127.0.0.1:$((P_LP + 1))" "$LC_MIX" "${PSK[@]}")
bench_stop "$PID_RC"
bench_start_rcoapd -q -l coaps://127.0.0.1:0 --state-dir "$TMP/state" || exit 1
PID_RCC=$RCOAPD_PID S_RCC=${RCOAPD_URI[coaps]}
R[hs-cert-rc]=$(handshakes cert-rc "$PID_RCC" "$S_RCC" "$RC_MIX" --insecure)
R[hs-cert-lc]=$(handshakes cert-lc "$PID_LC" "coaps://127.0.0.1:$((P_LC + 1))" "$LC_MIX" --insecure)
bench_stop "$PID_RCC"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# fresh servers for the memory rows: nothing else held
bench_start_rcoapd -q -l coap://127.0.0.1:0 -l coaps://127.0.0.1:0 "${PSK[@]}" \
  --state-dir "$TMP/state" || exit 1
M_UDP_RC=$(memory udp-rc "$RCOAPD_PID" "${RCOAPD_URI[coap]}" "$RC_MIX")
M_DTLS_RC=$(memory dtls-rc "$RCOAPD_PID" "${RCOAPD_URI[coaps]}" "$RC_MIX" "${PSK[@]}")
M_UDP_LC=$(memory udp-lc "$PID_LN" "coap://127.0.0.1:$P_LN" "$LC_MIX")
M_DTLS_LC=$(memory dtls-lc "$PID_LP" "coaps://127.0.0.1:$((P_LP + 1))" "$LC_MIX" "${PSK[@]}")

echo
row() { # LABEL LEFT RIGHT: "rps p50 p99 cpu err" each; ratios of rps and cpu
  local a ap50 ap99 acpu b bp50 bp99 bcpu
  read -r a ap50 ap99 acpu _ <<<"$2"
  read -r b bp50 bp99 bcpu _ <<<"$3"
  printf '| %-40s | %9.0f  %6.0f/%-6.0f %6.2f us | %9.0f  %6.0f/%-6.0f %6.2f us | %5.2fx | %5.2fx |\n' \
    "$1" "$a" "$ap50" "$ap99" "$acpu" "$b" "$bp50" "$bp99" "$bcpu" \
    "$(bench_div "$a" "$b")" "$(bench_div "$bcpu" "$acpu")"
}
printf '| %-40s | %-34s | %-34s | %-6s | %-6s |\n' "row (left vs right)" \
  "left: rate  p50/p99 us  cpu/op" "right: rate  p50/p99 us  cpu/op" "rate" "cpu"
printf '| %-40s | %-34s | %-34s | %-6s | %-6s |\n' "$(bench_dashes 40)" "$(bench_dashes 34)" \
  "$(bench_dashes 34)" ------ ------
row "udp: rcoapd vs coap-server-notls" "${R[udp-rc]}" "${R[udp-lc]}"
row "dtls psk: rcoapd vs rcoapd udp" "${R[dtls-rc]}" "${R[udp-rc]}"
row "dtls psk: rcoapd vs coap-server-openssl" "${R[dtls-rc]}" "${R[dtls-lc]}"
row "handshakes psk: rcoapd vs libcoap" "${R[hs-psk-rc]}" "${R[hs-psk-lc]}"
row "handshakes cert: rcoapd vs libcoap" "${R[hs-cert-rc]}" "${R[hs-cert-lc]}"
echo "(rate: left/right; cpu: right/left, above 1 when the left server spends less)"
echo
read -r mur nur <<<"$M_UDP_RC"; read -r mdr ndr <<<"$M_DTLS_RC"
read -r mul nul <<<"$M_UDP_LC"; read -r mdl ndl <<<"$M_DTLS_LC"
printf 'memory per peer (VmRSS growth / peers held): coap:// rcoapd %d B (%d peers), libcoap %d B (%d); coaps:// rcoapd %d B (%d), libcoap %d B (%d)\n' \
  "$mur" "$nur" "$mul" "$nul" "$mdr" "$ndr" "$mdl" "$ndl"
echo
for k in udp-rc udp-lc dtls-rc dtls-lc hs-psk-rc hs-psk-lc hs-cert-rc hs-cert-lc; do
  read -r rps p50 p99 cpu err <<<"${R[$k]}"
  echo "RESULT udp_dtls row=$k rate=$rps p50_us=$p50 p99_us=$p99 server_cpu_us=$(printf '%.2f' "$cpu") errors=$err"
done
echo "RESULT udp_dtls memory udp_rcoapd_bytes_per_peer=$mur udp_libcoap_bytes_per_peer=$mul dtls_rcoapd_bytes_per_peer=$mdr dtls_libcoap_bytes_per_peer=$mdl peers=$nur"
