#!/usr/bin/env bash
# coaps+wr read by Wireshark (tshark 4.0) with the key log: rcoapd
# (--keylog) listens on coaps+wr and coap+ws (signaling); a capture on lo
# of its coaps+wr UDP port records three rcoap runs (--keylog, one WebRTC
# peer each): GET /hello, PUT then GET /store/wr, GET of a missing path.
# tshark then decrypts the capture with either key log and must show
#   - STUN Binding requests and success responses (its udp heuristic),
#     the response's XOR-MAPPED-ADDRESS 127.0.0.1;
#   - the DTLS 1.2 handshake (heuristic) with an AES-GCM suite (Wireshark
#     4.0 cannot decrypt DTLS 1.2 ChaCha20-Poly1305) and decrypted
#     records;
#   - SCTP inside DTLS (RFC 8261): INIT, DATA chunks. Wireshark 4.0 has
#     no "Decode As" of SCTP for dtls.port, so a three-line Lua script
#     (tshark -X lua_script:) adds it, and CoAP for the WebRTC string
#     and binary PPIDs 51/53 with the dissector Wireshark uses for CoAP
#     over WebSockets (the same RFC 8323 §4 framing, Len 0);
#   - the DCEP DATA_CHANNEL_OPEN with protocol "coap" and its ACK;
#   - every request (code and Uri-Path) and response, paired by token;
#   - no malformed packet and no expert warning or error, except on the
#     CSM (7.01): Wireshark 4.0 reads signalling options with the
#     request option table ("Invalid Option Number 2", Max-Message-Size;
#     "Invalid Option Range", option 4 Block-Wise-Transfer read as ETag;
#     INTEROP-NOTES §2), which it cannot know better.
# When tshark cannot capture on lo, the test is skipped (exit 77; a
# failure under CI=true).
# Usage: bash test_tshark_webrtc.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

command -v tshark >/dev/null ||
  rc_skip "tshark is not installed (apt-get install tshark)"
SK=$RC_TMP/server.keys CK=$RC_TMP/client.keys
rcd_start w 2 -l coaps+wr://127.0.0.1:0 -l coap+ws://127.0.0.1:0 --keylog "$SK" || {
  rc_fail "rcoapd starts with a coaps+wr listener"
  rc_done
}
PW=$(rcd_port w 127.0.0.1 coaps+wr)
SIG=(--signal "coap+ws://127.0.0.1:$(rcd_port w 127.0.0.1 coap+ws)/webrtc")
CAP=$RC_TMP/cap.pcapng
rcd_start_cmd ts 1 "Capture started" \
  tshark -i lo -f "udp port $PW" -a duration:$((120 * RC_SLOW)) -w "$CAP" -q
if ! rcd_alive ts || ! grep -q "Capture started" "$RC_TMP/ts.err"; then
  why=$(grep -v 'could be dangerous' "$RC_TMP/ts.err" | head -n 3 | tr '\n' ' ')
  kill -TERM "$(rcd_pid ts)" 2>/dev/null
  rcd_wait_exit ts 5
  rcd_stop w
  rc_skip "tshark cannot capture on lo here: $why"
fi

U=coaps+wr://127.0.0.1
coap -T $RC_TMO --keylog "$CK" "${SIG[@]}" get "$U/hello"
rc_expect_status "$ST" 0 "GET /hello over coaps+wr (exit 0)"
coap -T $RC_TMO --keylog "$CK" "${SIG[@]}" put -d "seen by tshark" "$U/store/wr"
rc_expect_status "$ST" 0 "PUT /store/wr over coaps+wr (exit 0)"
coap -T $RC_TMO --keylog "$CK" "${SIG[@]}" get "$U/no/such"
rc_expect_status "$ST" 4 "GET /no/such over coaps+wr (exit 4)"
rcd_stop w

# the Lua hints: SCTP on the DTLS of PW, CoAP (WebSocket form) on 51/53
LUA=$RC_TMP/wr.lua
cat >"$LUA" <<EOF
DissectorTable.get("dtls.port"):add($PW, Dissector.get("sctp"))
local coap_ws = DissectorTable.get("ws.protocol"):get_dissector("coap")
DissectorTable.get("sctp.ppi"):add(51, coap_ws)
DissectorTable.get("sctp.ppi"):add(53, coap_ws)
EOF
# a line per frame, fields tab-separated, repeated fields joined by '|'
dump() { # KEYLOG OUT
  tshark -X "lua_script:$LUA" -r "$CAP" -o "tls.keylog_file:$1" \
    -T fields -E occurrence=a -E aggregator='|' \
    -e frame.number -e stun.type -e stun.att.ipv4 -e dtls.record.content_type \
    -e dtls.handshake.ciphersuite -e sctp.chunk_type -e rtcdc.message_type \
    -e rtcdc.protocol -e coap.code -e coap.opt.uri_path_recon -e coap.response_to \
    -e _ws.malformed -e _ws.expert.message -e _ws.expert.severity >"$2" 2>/dev/null
}
# wait until the capture holds the 3 peers' DTLS close_notify alerts (from
# rcoapd, when rcoap closes; dumpcap writes about once a second)
na=0
for _ in $(seq 1 $((60 * RC_SLOW))); do
  dump "$CK" "$RC_TMP/c.tsv"
  na=$(awk -F'\t' '$4 ~ /(^|\|)21($|\|)/' "$RC_TMP/c.tsv" | wc -l)
  [ "$na" -ge 6 ] && break
  sleep 0.5
done
rc_expect_eq "$na" 6 "the capture holds both close_notify alerts of the 3 peers"
kill -INT "$(rcd_pid ts)" 2>/dev/null
rcd_wait_exit ts 10

has() { # FILE AWK-CONDITION: the number of matching frames
  awk -F'\t' "$2" "$1" | wc -l
}
for side in client server; do
  K=$CK
  [ $side = server ] && K=$SK
  F=$RC_TMP/$side.tsv
  dump "$K" "$F"
  n=$(has "$F" '$2 == "0x0001"')
  [ "$n" -ge 3 ] && rc_pass "$side: $n STUN Binding requests" || rc_fail "$side: $n STUN Binding requests"
  n=$(has "$F" '$2 == "0x0101" && $3 == "127.0.0.1"')
  [ "$n" -ge 3 ] && rc_pass "$side: $n STUN Binding success responses, XOR-MAPPED-ADDRESS 127.0.0.1" ||
    rc_fail "$side: $n STUN Binding success responses with 127.0.0.1"
  # ServerHello (handshake type 2) suites: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
  rc_expect_eq "$(awk -F'\t' '$5 != "" && $5 !~ /\|/ { print $5 }' "$F" | sort | uniq -c | awk '{ print $1, $2 }')" \
    "3 0xc02b" "$side: 3 DTLS handshakes, ECDHE-ECDSA-AES128-GCM-SHA256"
  n=$(has "$F" '$6 ~ /(^|\|)1($|\|)/')
  [ "$n" -ge 3 ] && rc_pass "$side: SCTP INIT in DTLS ($n)" || rc_fail "$side: SCTP INIT in DTLS ($n)"
  n=$(has "$F" '$6 ~ /(^|\|)0($|\|)/')
  [ "$n" -ge 12 ] && rc_pass "$side: SCTP DATA chunks in DTLS ($n)" || rc_fail "$side: SCTP DATA chunks ($n)"
  rc_expect_eq "$(has "$F" '$7 == 3 && $8 == "coap"')" 3 "$side: 3 DATA_CHANNEL_OPEN, protocol \"coap\""
  rc_expect_eq "$(has "$F" '$7 == 2')" 3 "$side: 3 DATA_CHANNEL_ACK"
  C=$(awk -F'\t' '$9 != "" { print $9 "\t" $10 "\t" ($11 != "" ? "paired" : "") }' "$F")
  for want in "1	/hello	" "69	/hello	paired" "3	/store/wr	" "1	/no/such	" \
              "132	/no/such	paired"; do
    rc_expect "$C" "$want" "$side: CoAP ${want%%	*} $(cut -f2 <<<"$want") dissected"
  done
  rc_expect_eq "$(grep -cE $'^6[58]\t/store/wr\tpaired$' <<<"$C")" 1 "$side: the PUT's 2.01/2.04, paired"
  rc_expect_eq "$(has "$F" '$9 == 225')" 6 "$side: both CSMs of the 3 peers"
  MAL=$(awk -F'\t' '($12 != "" || $14 ~ /(6291456|8388608)/) && $9 != 225 { print $1, $13 }' "$F")
  rc_expect_eq "$MAL" "" "$side: no malformed frame, no expert warning or error (CSM aside)"
  CSM=$(awk -F'\t' '$9 == 225 { print $13 }' "$F" | tr '|' '\n' | sort -u |
    grep -v -x -e 'Invalid Option Number 2' -e 'Invalid Option Range: 0 (1 < x < 8)')
  rc_expect_eq "$CSM" "" "$side: the CSMs carry only Wireshark 4.0's known false reports"
done
rc_done
