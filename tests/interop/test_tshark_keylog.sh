#!/usr/bin/env bash
# The TLS/DTLS key log (rcoap and rcoapd --keylog FILE, or $SSLKEYLOGFILE)
# read by Wireshark (tshark 4.0, INTEROP-NOTES.md §2): one rcoapd with the
# test PKI's certificate and a PSK listens on coaps:// (DTLS 1.2) and
# coaps+tcp (TLS 1.3); a capture on lo records separate rcoap runs (one
# handshake each): over coaps:// with the certificate GET /hello, PUT and
# GET /store/keylog, a 4.04; over coaps:// with the PSK a GET; over
# coaps+tcp the same with the certificate and with the PSK. Then tshark
# decrypts the capture with `-o tls.keylog_file:` and
#   - with the clients' key log (written through --keylog and through
#     SSLKEYLOGFILE) shows every request and response with its code and
#     Uri-Path, paired by token, on both transports;
#   - with rcoapd's key log (--keylog) decrypts the same records;
#   - finds no malformed packet (`_ws.malformed`; on coaps+tcp apart from
#     Wireshark 4.0's known false reports on CSM options, INTEROP-NOTES);
#   - the key log lines are NSS format and the file is mode 0600.
# DTLS with a PSK negotiates ECDHE-PSK-CHACHA20-POLY1305 (rcoap's first PSK
# suite: it has forward secrecy), and Wireshark 4.0 cannot decrypt DTLS 1.2
# ChaCha20-Poly1305 records at all (checked with openssl s_server/s_client
# -dtls1_2, same "auth tag mismatch"): there the check is that the key
# log holds the CLIENT_RANDOM of the handshake in the capture, and the
# CoAP inside is asserted only when this tshark can decrypt it.
# When tshark cannot capture on lo, the test is skipped (exit 77; a failure
# under CI=true).
# Usage: bash test_tshark_keylog.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

command -v tshark >/dev/null ||
  rc_skip "tshark is not installed (apt-get install tshark)"
PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null || {
  rc_fail "tests/certs/gen.sh"
  rc_done
}
SK=$RC_TMP/server.keys CK=$RC_TMP/client.keys
rcd_start d 2 -l coaps://127.0.0.1:0 -l coaps+tcp://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" \
  --psk-identity keylog-test --psk-key keylog-secret --keylog "$SK" || {
  rc_fail "rcoapd starts"
  rc_done
}
PU=$(rcd_port d 127.0.0.1 coaps) PT=$(rcd_port d 127.0.0.1 coaps+tcp)
rc_expect "$(cat "$RC_TMP/d.err")" "key log $SK" "rcoapd says it writes a key log"
CAP=$RC_TMP/cap.pcapng
rcd_start_cmd ts 1 "Capture started" \
  tshark -i lo -f "port $PU or port $PT" -a duration:$((120 * RC_SLOW)) -w "$CAP" -q
if ! rcd_alive ts || ! grep -q "Capture started" "$RC_TMP/ts.err"; then
  why=$(grep -v 'could be dangerous' "$RC_TMP/ts.err" | head -n 3 | tr '\n' ' ')
  kill -TERM "$(rcd_pid ts)" 2>/dev/null
  rcd_wait_exit ts 5
  rcd_stop d
  rc_skip "tshark cannot capture on lo here: $why"
fi

CERT=(--cafile "$PKI/ca.crt")
PSK=(--psk-identity keylog-test --psk-key keylog-secret)
RUNS=0
run() { # WANT_STATUS ARGS...
  local want=$1
  shift
  coap -T $RC_TMO --keylog "$CK" "$@"
  RUNS=$((RUNS + 1))
  rc_expect_status "$ST" "$want" "rcoap $* (exit $want)"
}
for U in "coaps://127.0.0.1:$PU" "coaps+tcp://127.0.0.1:$PT"; do
  K=kl-${U%%:*}
  run 0 "${CERT[@]}" get "$U/hello"
  run 0 "${CERT[@]}" put -t text -d "decrypted by tshark" "$U/store/$K"
  run 0 "${CERT[@]}" get "$U/store/$K"
  run 4 "${CERT[@]}" get "$U/no/such/path"
done
run 0 "${PSK[@]}" get "coaps+tcp://127.0.0.1:$PT/hello"
# the PSK over DTLS through the environment variable instead of --keylog
ST=0
SSLKEYLOGFILE=$CK rc_run rcoap -T $RC_TMO "${PSK[@]}" get "coaps://127.0.0.1:$PU/hello" \
  >"$RC_TMP/env.out" 2>&1 || ST=$?
RUNS=$((RUNS + 1))
rc_expect_status "$ST" 0 "rcoap over coaps:// with a PSK and SSLKEYLOGFILE (exit 0)"
rcd_stop d

# the capture: wait until it holds the server's FIN of each of the 5
# coaps+tcp connections and its 5 DTLS answers (dumpcap writes about once
# a second), then stop it. A connection counts once (a FIN retransmitted
# on a loaded machine is the same one), and only one rcoapd accepted (a
# SYN to PT): once rcoapd has exited, a neighbouring test may take PT as
# its client port, and its FIN from PT was counted as a sixth (seen in
# the ASan build at load 20).
fins=0 dans=0
for _ in $(seq 1 $((60 * RC_SLOW))); do
  read -r fins dans < <(tshark -r "$CAP" -d "udp.port==$PU,dtls" -T fields -e tcp.srcport \
    -e tcp.dstport -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.stream \
    -e udp.srcport -e dtls.record.content_type 2>/dev/null |
    awk -F'\t' -v t="$PT" -v u="$PU" '
      $2 == t && $3 == 1 && $4 == 0 { ours[$6] = 1 }
      $1 == t && $5 == 1 { fin[$6] = 1 }
      $7 == u && $8 ~ /23/ { d++ }
      END { for (s in fin) if (s in ours) f++; print f + 0, d + 0 }')
  [ "$fins" -ge 5 ] && [ "$dans" -ge 5 ] && break
  sleep 0.5
done
rc_expect_eq "$fins" 5 "the capture holds the 5 coaps+tcp connections to rcoapd's FIN"
rc_expect_eq "$dans" 5 "the capture holds rcoapd's 5 coaps:// answers"
kill -INT "$(rcd_pid ts)" 2>/dev/null
rcd_wait_exit ts 10

rc_expect_eq "$(stat -c %a "$CK")" 600 "the client key log is mode 0600"
rc_expect_eq "$(stat -c %a "$SK")" 600 "the server key log is mode 0600"
bad=$(grep -cvE '^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]{64,96}$' "$CK")
rc_expect_eq "$bad" 0 "every client key log line is an NSS key log line"
ncr=$(grep -c '^CLIENT_RANDOM ' "$CK")
rc_expect_eq "$ncr" 5 "one CLIENT_RANDOM (DTLS 1.2) line per coaps:// handshake"

# One pass of tshark per key log: a line per frame, fields tab-separated,
# repeated fields joined by '|'.
dump() { # KEYLOG OUT
  tshark -r "$CAP" -o "tls.keylog_file:$1" -d "udp.port==$PU,dtls" -d "dtls.port==$PU,coap" \
    -d "tls.port==$PT,coap" -T fields -E occurrence=a -E aggregator='|' \
    -e frame.number -e udp.srcport -e udp.dstport -e tcp.srcport -e tcp.dstport \
    -e coap.code -e coap.opt.uri_path_recon -e coap.response_to -e _ws.malformed \
    -e _ws.expert.message -e tls.record.content_type -e dtls.record.content_type \
    -e dtls.handshake.type -e dtls.handshake.ciphersuite -e dtls.handshake.random \
    >"$2" 2>/dev/null
}
# on PORT TRANSPORT FILE: "code<TAB>path<TAB>response_to" of the CoAP messages
on() {
  awk -F'\t' -v p="$1" -v t="$2" '(t == "udp" && ($2 == p || $3 == p)) || (t == "tcp" && ($4 == p || $5 == p)) {
    if ($6 != "") print $6 "\t" $7 "\t" $8 }' "$3"
}
for side in client server; do
  K=$CK
  [ $side = server ] && K=$SK
  F=$RC_TMP/$side.tsv
  dump "$K" "$F"
  # coaps:// with the certificate: every request and response
  D=$(on "$PU" udp "$F")
  for want in "1	/hello" "3	/store/kl-coaps" "1	/store/kl-coaps" "1	/no/such/path" \
              "69	/hello" "65	/store/kl-coaps" "69	/store/kl-coaps" "132	/no/such/path"; do
    rc_expect "$D" "$want" "$side key log: coaps:// (DTLS, certificate) code ${want%%	*} ${want#*	} dissected"
  done
  nresp=$(awk -F'\t' '$1 >= 64' <<<"$D" | wc -l)
  npair=$(awk -F'\t' '$1 >= 64 && $3 != ""' <<<"$D" | wc -l)
  [ "$nresp" -ge 4 ] && rc_expect_eq "$npair" "$nresp" "$side key log: coaps:// responses paired with their requests ($nresp)" ||
    rc_fail "$side key log: only $nresp coaps:// responses decrypted"
  # coaps+tcp, certificate and PSK (TLS 1.3). INTEROP-NOTES: only the
  # first CoAP message of a TLS record is dissected, and rcoapd may send
  # its CSM and the answer in one record: the requests are what is sure.
  T=$(on "$PT" tcp "$F")
  for want in "1	/hello" "3	/store/kl-coaps+tcp" "1	/store/kl-coaps+tcp" "1	/no/such/path"; do
    rc_expect "$T" "$want" "$side key log: coaps+tcp code ${want%%	*} ${want#*	} dissected"
  done
  n=$(grep -c '^1	/hello	' <<<"$T")
  rc_expect_eq "$n" 2 "$side key log: coaps+tcp GET /hello with the certificate and with the PSK"
  ndata=$(awk -F'\t' -v p="$PT" '($4 == p || $5 == p) && $11 ~ /23/' "$F" | wc -l)
  ncoap=$(awk -F'\t' -v p="$PT" '($4 == p || $5 == p) && $11 ~ /23/ && $6 != ""' "$F" | wc -l)
  [ "$ndata" -gt 0 ] && rc_expect_eq "$ncoap" "$ndata" "$side key log: every coaps+tcp application record decrypts to CoAP ($ndata)" ||
    rc_fail "$side key log: no coaps+tcp application data"
done
F=$RC_TMP/client.tsv

# the PSK handshake over DTLS: its ClientHello random is in the key log
CP=$(awk -F'\t' -v u="$PU" '$2 == u && $13 ~ /(^|\|)2($|\|)/ && tolower($14) ~ /0xccac/ { print $3; exit }' "$F")
if [ -z "$CP" ]; then
  rc_fail "no DTLS handshake with ECDHE-PSK-CHACHA20-POLY1305 in the capture"
else
  RND=$(awk -F'\t' -v c="$CP" '$2 == c && $13 ~ /(^|\|)1($|\|)/ { r = $15 } END { print r }' "$F" | tr -d ':' | cut -d'|' -f1)
  rc_expect "$(cat "$CK")" "CLIENT_RANDOM $RND " "the PSK DTLS handshake's client random is in the key log"
  P=$(on "$CP" udp "$F")
  if [ -n "$P" ]; then
    rc_expect "$P" "1	/hello" "coaps:// with the PSK: GET /hello dissected"
  else
    echo "note: this tshark cannot decrypt DTLS 1.2 ChaCha20-Poly1305 (Wireshark 4.0); the PSK GET over coaps:// is not dissected"
  fi
fi

# INTEROP-NOTES §2: Wireshark 4.0 flags CSM options (7.01) wrongly
MAL=$(awk -F'\t' '$9 != "" && $6 != 225 { print $1, $6, $10 }' "$F")
rc_expect_eq "$MAL" "" "no malformed packet (Wireshark's CSM false reports aside)"
MAL=$(awk -F'\t' -v u="$PU" '($2 == u || $3 == u) && $9 != "" { print $1, $10 }' "$F")
rc_expect_eq "$MAL" "" "no malformed packet on coaps://"
rc_done
