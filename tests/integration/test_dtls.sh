#!/usr/bin/env bash
# rcoap <-> rcoapd over coaps:// (CoAP over DTLS 1.2, RFC 7252 §9):
#  - with a test PKI certificate (tests/certs/gen.sh), IPv4 and IPv6: GET
#    /hello, PUT then GET /store/x, block-wise /large (100 KiB, SZX 6)
#    identical to the same body over coap+tcp, an upload of 5000 bytes in
#    Block1 read back, observe /sensors/temp for 3 notifications;
#  - with rcoapd's self-signed demo certificate: refused without --cafile
#    (exit 10, "certificate verification failed"), accepted with it;
#  - with a pre-shared key: GET and PUT/GET; a wrong key gets no answer
#    (DTLS drops the bad Finished record, RFC 6347 §4.1.2.7: no alert to
#    read) and rcoap gives up after two retransmissions of its Finished
#    with exit 10 and "wrong pre-shared key?"; a request too large for one
#    record refused with a sentence;
#  - a stranger's garbage and a cookie-less ClientHello leave rcoapd
#    serving (the HelloVerifyRequest is stateless, RFC 6347 §4.2.1).
# Under valgrind rcoapd is under memcheck throughout and so is every rcoap
# run but those marked RC_NATIVE=1: a GET that repeats an earlier one's
# client code (over IPv6 again, again after the strangers, again with the
# PSK), and the coap+tcp download /large is compared with.
# Usage: bash test_dtls.sh BUILD_DIR
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
. "$RC_SRC/tests/integration/lib/rcoapd.sh"
PKI=$RC_TMP/pki
bash "$RC_SRC/tests/certs/gen.sh" "$PKI" >/dev/null ||
  { rc_fail "tests/certs/gen.sh failed"; rc_done; }

rcd_start c 3 -l coaps://127.0.0.1:0 -l 'coaps://[::1]:0' \
  -l coap+tcp://127.0.0.1:0 \
  --cert "$PKI/server.crt" --key "$PKI/server.key" || {
  rc_fail "rcoapd starts with coaps:// listeners"
  rc_done
}
U=coaps://localhost:$(rcd_port c 127.0.0.1 coaps)
U6="coaps://[::1]:$(rcd_port c ::1 coaps)"
T=coap+tcp://127.0.0.1:$(rcd_port c 127.0.0.1)
CA=(--cafile "$PKI/ca.crt")

echo "=== certificates"
coap -T $RC_TMO "${CA[@]}" get "$U/hello"
rc_expect_status "$ST" 0 "GET /hello over coaps:// (v4, by name) exits 0"
rc_expect "$OUT" "Hello, world! (rcoap" "GET /hello over coaps://: body"
coap -T $RC_TMO "${CA[@]}" get "$U6/hello"
rc_expect_status "$ST" 0 "GET /hello over coaps:// (v6 literal) exits 0"
coap -T $RC_TMO "${CA[@]}" -i put -d "over dtls" "$U/store/x"
rc_expect_re "$OUT" '^2\.0[14] ' "PUT /store/x over coaps://: 2.01/2.04"
RC_NATIVE=1 coap -T $RC_TMO "${CA[@]}" get "$U6/store/x"
rc_expect_eq "$OUT" "over dtls" "GET /store/x back over coaps:// v6"

coap -T $RC_TMO "${CA[@]}" -v get "$U/large"
rc_expect_status "$ST" 0 "GET /large over coaps:// exits 0"
cp "$RC_TMP/coap.out" "$RC_TMP/large.dtls"
rc_expect "$ERR" "Block2:99/0/1024" "GET /large over coaps://: the 100th block of 1024"
rc_expect "$ERR" "TLS: DTLSv1.2" "rcoap -v: the connection is DTLS 1.2"
RC_NATIVE=1 coap -T $RC_TMO get "$T/large"
if [ "$(wc -c <"$RC_TMP/large.dtls")" -ge 102400 ] &&
  cmp -s "$RC_TMP/coap.out" "$RC_TMP/large.dtls"; then
  rc_pass "/large over coaps:// equals coap+tcp ($(wc -c <"$RC_TMP/large.dtls") bytes)"
else
  rc_fail "/large over coaps:// differs from coap+tcp"
fi

head -c 3750 /dev/urandom | base64 -w0 >"$RC_TMP/up.txt"
coap -T $RC_TMO "${CA[@]}" put -d @"$RC_TMP/up.txt" "$U/store/big"
rc_expect_status "$ST" 0 "PUT 5000 bytes over coaps:// (Block1) exits 0"
RC_NATIVE=1 coap -T $RC_TMO "${CA[@]}" get "$U6/store/big"
rc_expect_eq "$OUT" "$(cat "$RC_TMP/up.txt")" "the upload reads back over coaps:// v6"

coap -T $RC_TMO "${CA[@]}" observe --count 3 "$U/sensors/temp"
rc_expect_status "$ST" 0 "observe /sensors/temp over coaps:// exits 0"
rc_expect_eq "$(grep -c . <<<"$OUT")" 3 "observe over coaps://: 3 notifications"

echo "=== strangers"
P4=$(rcd_port c 127.0.0.1 coaps)
# A CoAP GET in the clear, then a DTLS 1.2 ClientHello without a cookie
# (record type 22, version fefd, epoch 0; handshake type 1): rcoapd must
# answer the second with a HelloVerifyRequest (handshake type 3) and keep
# serving.
HVR=$(/usr/bin/python3 - "$P4" <<'EOF'
import os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
a = ("127.0.0.1", int(sys.argv[1]))
s.sendto(bytes([0x40, 0x01, 0x12, 0x34, 0xb5]) + b"hello", a)
body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00" +   # no cookie
        b"\x00\x02\xc0\x2b" + b"\x01\x00")
hs = bytes([1]) + len(body).to_bytes(3, "big") + b"\x00\x00" + \
     b"\x00\x00\x00" + len(body).to_bytes(3, "big") + body
rec = bytes([22, 0xfe, 0xfd]) + b"\x00" * 8 + struct.pack(">H", len(hs)) + hs
s.sendto(rec, a)
try:
    d, _ = s.recvfrom(2048)
    print("type=%d hs=%d len=%d" % (d[0], d[13], len(d)))
except socket.timeout:
    print("silence")
EOF
)
rc_expect "$HVR" "type=22 hs=3" "a ClientHello without a cookie: HelloVerifyRequest ($HVR)"
RC_NATIVE=1 coap -T $RC_TMO "${CA[@]}" get "$U/hello"
rc_expect_status "$ST" 0 "rcoapd still serves coaps:// after strangers"
rcd_stop c

echo "=== demo certificate"
rcd_start d 1 -l coaps://127.0.0.1:0 || {
  rc_fail "rcoapd starts with the demo certificate"
  rc_done
}
UD=coaps://localhost:$(rcd_port d 127.0.0.1 coaps)
coap -T $RC_TMO get "$UD/hello"
rc_expect_status "$ST" 10 "the demo certificate untrusted: exit 10 (TLS)"
rc_expect "$ERR" "certificate verification failed" "untrusted: says why"
coap -T $RC_TMO --cafile "$RC_TMP/state-d/demo-cert.pem" get "$UD/hello"
rc_expect_status "$ST" 0 "the demo certificate trusted with --cafile: exit 0"
rcd_stop d

echo "=== pre-shared key"
rcd_start k 1 -l coaps://127.0.0.1:0 --psk-identity client1 \
  --psk-key s3cr3t || {
  rc_fail "rcoapd starts with a PSK"
  rc_done
}
UK=coaps://127.0.0.1:$(rcd_port k 127.0.0.1 coaps)
PSK=(--psk-identity client1 --psk-key s3cr3t)
coap -T $RC_TMO "${PSK[@]}" get "$UK/hello"
rc_expect_status "$ST" 0 "PSK: GET /hello exits 0"
rc_expect "$OUT" "Hello, world! (rcoap" "PSK: body"
coap -T $RC_TMO "${PSK[@]}" put -d "psk body" "$UK/store/p"
rc_expect_status "$ST" 0 "PSK: PUT exits 0"
RC_NATIVE=1 coap -T $RC_TMO "${PSK[@]}" get "$UK/store/p"
rc_expect_eq "$OUT" "psk body" "PSK: GET reads the PUT back"
# 1250 bytes of Uri-Path: more than one DTLS record holds (MTU 1232); the
# session refuses the message (rc_session_set_max_datagram) instead of the
# filter failing the connection.
L=$(printf 'a%.0s' $(seq 250))
coap -T $RC_TMO "${PSK[@]}" get "$UK/store/$L/$L/$L/$L/$L"
rc_expect "$ERR" "larger than the peer's Max-Message-Size" \
  "PSK: a request too large for one record is refused with a sentence (exit $ST)"
# A wrong key: the server drops our Finished (it cannot decrypt it) and
# sends no alert; rcoap gives up when it would send the Finished flight a
# fourth time (~7 s on OpenSSL's 1 s, 2 s, 4 s timer): exit 10 with a
# sentence naming the key, not the -T timeout (exit 6).
S0=$SECONDS
coap -T $((30 * RC_SLOW)) --psk-identity client1 --psk-key wrong get "$UK/hello"
rc_expect_status "$ST" 10 "PSK: a wrong key is a TLS failure, not a timeout ($((SECONDS - S0)) s)"
rc_expect "$ERR" "wrong pre-shared key?" "PSK: a wrong key: the sentence names the key"
RC_NATIVE=1 coap -T $RC_TMO "${PSK[@]}" get "$UK/hello"
rc_expect_status "$ST" 0 "PSK: the right key still works afterwards"
rcd_stop k
rc_done
