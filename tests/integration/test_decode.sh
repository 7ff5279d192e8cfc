#!/usr/bin/env bash
# rcoap-decode on real messages: the RFC 8323 §3.3 example frame, the CSM
# libcoap 4.3.1 sends (INTEROP-NOTES.md), a Pong with Custody, a UDP GET,
# a 2.05 response with Content-Format and a text payload, a TCP stream of
# three frames; and malformed input, which must give the named codec
# error, the byte offset and exit status 1.
# Usage: bash test_decode.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"

# decode ARGS...: runs the tool; sets OUT (stdout+stderr) and ST (status).
decode() {
  ST=0
  OUT=$(rc_run rcoap-decode "$@" 2>&1) || ST=$?
}

# RFC 8323 §3.3, Figure 5: "A CoAP message just containing a 2.03 code
# with the token 7f and no options or payload".
decode 01 43 7f
rc_expect_status "$ST" 0 "RFC 8323 example decodes"
rc_expect "$OUT" "2.03 Valid" "RFC 8323 example: code"
rc_expect "$OUT" "token:    7f (1 byte)" "RFC 8323 example: token"
rc_expect "$OUT" "Len:    0" "RFC 8323 example: Len"
rc_expect "$OUT" "options:  none" "RFC 8323 example: no options"
rc_expect "$OUT" "payload:  none" "RFC 8323 example: no payload"

# The same bytes written with colons and read from stdin.
ST=0
OUT=$(echo "01:43:7f" | rc_run rcoap-decode - 2>&1) || ST=$?
rc_expect_status "$ST" 0 "hex with colons on stdin"
rc_expect "$OUT" "2.03 Valid" "stdin hex: code"

# libcoap's CSM: Max-Message-Size 8388864 and Block-Wise-Transfer.
decode 50 e1 23 80 01 00 20
rc_expect_status "$ST" 0 "libcoap CSM decodes"
rc_expect "$OUT" "7.01 CSM" "CSM: code by name"
rc_expect "$OUT" "Max-Message-Size (2)" "CSM: option 2 named Max-Message-Size"
rc_expect "$OUT" "8388864" "CSM: Max-Message-Size value as a number"
rc_expect "$OUT" "Block-Wise-Transfer (4)" "CSM: option 4 named Block-Wise-Transfer"

# libcoap's Pong: option 2 is Custody in a Pong (RFC 8323 §5.4.1).
decode 10 e3 20
rc_expect_status "$ST" 0 "libcoap Pong decodes"
rc_expect "$OUT" "7.03 Pong" "Pong: code"
rc_expect "$OUT" "Custody (2)" "Pong: option 2 named Custody"

# UDP framing: CON GET /.well-known/core, MID 0x1234.
decode --framing udp 40 01 12 34 bb 2e 77 65 6c 6c 2d 6b 6e 6f 77 6e 04 63 6f 72 65
rc_expect_status "$ST" 0 "UDP GET decodes"
rc_expect "$OUT" "Type:   CON" "UDP: type"
rc_expect "$OUT" "MID:    4660 (0x1234)" "UDP: message ID"
rc_expect "$OUT" '".well-known"' "UDP: first Uri-Path quoted"
rc_expect "$OUT" '"core"' "UDP: second Uri-Path quoted"

# 2.05 with ETag, Observe, Content-Format json, Max-Age 60, Block2 2/0/1024,
# Size2 1024 and a text payload.
decode d2 0e 45 ab cd 44 12 34 56 78 21 05 61 32 21 3c 91 26 52 04 00 ff \
  7b 22 74 22 3a 32 31 2e 35 7d
rc_expect_status "$ST" 0 "2.05 response decodes"
rc_expect "$OUT" "Len:    27 (nibble 13, 8-bit extended)" "2.05: extended length"
rc_expect "$OUT" "ETag (4)                     12 34 56 78" "2.05: ETag as hex"
rc_expect "$OUT" "Content-Format (12)          50 (application/json)" "2.05: Content-Format by name"
rc_expect "$OUT" "60 s" "2.05: Max-Age in seconds"
rc_expect "$OUT" "2/0/1024 (NUM/M/SIZE)" "2.05: Block2 as NUM/M/SIZE"
rc_expect "$OUT" '{"t":21.5}' "2.05: payload as text"

# Binary payload: hex dump.
decode 40 02 ff 00 01 fe
rc_expect_status "$ST" 0 "binary payload decodes"
rc_expect "$OUT" "0000  00 01 fe" "binary payload as a hex dump"

# A stream of three frames: CSM, Ping, GET /time (token 01).
decode --stream 50 e1 23 80 01 00 20 00 e2 51 01 01 b4 74 69 6d 65
rc_expect_status "$ST" 0 "stream of three frames decodes"
rc_expect "$OUT" "-- frame 3 at byte 9 --" "stream: third frame offset"
rc_expect "$OUT" '"time"' "stream: Uri-Path of the GET"
rc_expect "$OUT" "3 frames, 17 bytes" "stream: frame count"

# ---- malformed input: named error, offset, exit 1 ----
decode 20 01 f0 00
rc_expect_status "$ST" 1 "reserved option delta exits 1"
rc_expect "$OUT" "RC_ERR_OPT_DELTA_RESERVED" "reserved delta: error name"
rc_expect "$OUT" "(at byte 2)" "reserved delta: offset"

decode 0f 01
rc_expect_status "$ST" 1 "TKL 15 exits 1"
rc_expect "$OUT" "RC_ERR_TKL_RESERVED" "TKL 15: error name"

decode 01 43
rc_expect_status "$ST" 1 "truncated frame exits 1"
rc_expect "$OUT" "RC_ERR_TRUNCATED" "truncated frame: error name"

decode 10 01 ff
rc_expect_status "$ST" 1 "payload marker with no payload exits 1"
rc_expect "$OUT" "RC_ERR_EMPTY_PAYLOAD" "empty payload: error name"

decode --framing ws 11 43 7f
rc_expect_status "$ST" 1 "WS frame with Len != 0 exits 1"
rc_expect "$OUT" "RC_ERR_BAD_LEN_NIBBLE" "WS Len nibble: error name"

decode --stream 00 e2 51 01 01
rc_expect_status "$ST" 1 "stream ending mid-frame exits 1"
rc_expect "$OUT" "stream ends inside frame 2" "stream cut: which frame"

decode 0g
rc_expect_status "$ST" 2 "bad hex is a usage error"

# A UDP message given as TCP framing: the hint names --framing udp.
decode 40 01 12 34 b4 74 69 6d 65
rc_expect_status "$ST" 1 "a UDP message as TCP framing exits 1"
rc_expect "$OUT" "hint: the input looks like a CoAP-over-UDP message (RFC 7252 header): try --framing udp" \
  "a UDP message as TCP framing: the hint says --framing udp"
rc_expect_not "$OUT" "try --stream" "a UDP message: not the --stream hint"
decode --framing UDP 40 01 12 34 b4 74 69 6d 65
rc_expect_status "$ST" 0 "--framing UDP (upper case) is udp"
rc_expect "$OUT" "framing:  UDP (RFC 7252 §3)" "--framing UDP decodes UDP"
decode --framing Ws 10 43 7f
rc_expect_status "$ST" 1 "--framing Ws is ws (and checks its Len nibble)"
rc_expect "$OUT" "RC_ERR_BAD_LEN_NIBBLE" "--framing Ws: the WS rule applies"
decode --version
rc_expect_status "$ST" 0 "--version exits 0"
[[ "$OUT" =~ ^rcoap-decode\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && rc_pass "--version prints the version" ||
  rc_fail "--version printed '$OUT'"

rc_done
