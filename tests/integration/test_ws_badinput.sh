#!/usr/bin/env bash
# rcoapd's WebSocket port under bad and unusual input, with raw HTTP (curl)
# and raw WebSocket frames (a small Python socket client, below):
#  - upgrades: no "coap" subprotocol -> 400 saying why; only "coap.v1"
#    (the draft name) -> 101 with coap.v1; version 8 -> 426 with
#    Sec-WebSocket-Version: 13; a bad key -> 400; POST -> 405; an Origin
#    not in --origin -> 403 (an allowed one -> 101);
#  - frames after a good upgrade: text -> close 1003; unmasked -> close
#    1002; a fragmented message over the Max-Message-Size -> close 1009; a
#    CoAP message with a non-zero Len nibble, an empty binary message or a
#    1-byte one -> CoAP Abort 7.05 with its diagnostic, then the connection
#    ends; ping -> pong; a clean close handshake;
#  - a client sending its upgrade one byte per second is dropped at
#    --handshake-timeout 2000 (closed 2-4 s after connecting; 5000 and
#    5-8 s under valgrind, where a valgrind'd rcoap itself can take over 2 s
#    from connect to upgrade on a loaded machine);
#  - static files from --web-root: GET / and /rcoap.js with their types
#    and caching headers, 304, HEAD, 404, and every path traversal attempt
#    refused (encoded dots, encoded slashes, double slash, symlinks out).
# Usage: bash test_ws_badinput.sh BUILD_DIR  (RCOAP_VALGRIND=1: under memcheck)
. "$(dirname "$0")/../../scripts/testlib.sh"
rc_init "$@"
PY=/usr/bin/python3
SLOW=1
[ "${RCOAP_VALGRIND:-0}" = 1 ] && SLOW=5
HS_S=2
[ "$SLOW" -gt 1 ] && HS_S=5

# --- the server: lib/rcoapd.sh (rcd_start, rcd_port, rcd_stop) -----------
. "$RC_SRC/tests/integration/lib/rcoapd.sh"

# A web root: a copy of web/, a secret beside it, and symlinks leading out.
WEB="$RC_TMP/www"
mkdir -p "$WEB/sub"
cp "$RC_SRC/web/"* "$WEB/"
echo "secret outside the web root" >"$RC_TMP/secret.txt"
ln -s "$RC_TMP/secret.txt" "$WEB/leak.txt"
ln -s "$RC_TMP" "$WEB/up"
ln -s ../secret.txt "$WEB/rel.txt"
ln -s /etc "$WEB/sub/etc"
echo "nested" >"$WEB/sub/inner.txt"

ORIGIN_OK=http://good.example
rcd_start rcoapd 1 -l coap+ws://127.0.0.1:0 \
  --web-root "$WEB" --origin "$ORIGIN_OK" --handshake-timeout $((HS_S * 1000)) || {
  rc_fail "rcoapd starts"
  rc_done
}
PORT=$(grep -o 'coap+ws://127\.0\.0\.1:[0-9]*' "$RC_TMP/rcoapd.out" | head -n 1 | sed 's/.*://')
BASE=http://127.0.0.1:$PORT
[ -n "$PORT" ] && rc_pass "rcoapd listening on port $PORT" || rc_fail "no port in: $(cat "$RC_TMP/rcoapd.out")"

# --- the raw WebSocket client ----------------------------------------------
cat >"$RC_TMP/wsraw.py" <<'EOF'
# Raw WebSocket client for one check: python3 wsraw.py PORT CASE [SLOW].
# Prints "key: value" lines about what came back; exit 0 unless it broke.
import os, select, socket, struct, sys, time

PORT, CASE = int(sys.argv[1]), sys.argv[2]
SLOW = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3 sample nonce
TMO = 5.0 * SLOW

def say(k, v):
    print(f"{k}: {v}", flush=True)

def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=TMO)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def request(proto="coap", version="13", key=KEY, method="GET", origin=None):
    h = [f"{method} /.well-known/coap HTTP/1.1", f"Host: 127.0.0.1:{PORT}",
         "Upgrade: websocket", "Connection: Upgrade",
         f"Sec-WebSocket-Key: {key}", f"Sec-WebSocket-Version: {version}"]
    if proto is not None:
        h.append(f"Sec-WebSocket-Protocol: {proto}")
    if origin is not None:
        h.append(f"Origin: {origin}")
    return ("\r\n".join(h) + "\r\n\r\n").encode()

def read_head(s):
    buf = b""
    deadline = time.time() + TMO
    while b"\r\n\r\n" not in buf and time.time() < deadline:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest

def upgrade(**kw):
    s = connect()
    s.sendall(request(**kw))
    head, rest = read_head(s)
    say("status", head.split("\r\n")[0])
    for line in head.split("\r\n")[1:]:
        say("header", line)
    return s, head, rest

def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | op
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload)) if len(payload) < 4096 \
        else (int.from_bytes(payload, "big") ^ int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "big")).to_bytes(len(payload), "big")
    return hdr + key + body

class Reader:
    """Server frames (unmasked) from the socket, one at a time."""
    def __init__(self, s, rest=b""):
        self.s, self.buf, self.eof, self.err = s, rest, False, None
    def _fill(self, n, deadline):
        while len(self.buf) < n and not self.eof:
            left = deadline - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return False
            try:
                d = self.s.recv(65536)
            except OSError as e:
                self.err, self.eof = str(e), True
                return False
            if not d:
                self.eof = True
            self.buf += d
        return len(self.buf) >= n
    def next(self, timeout=None):
        """Returns (fin, opcode, masked, payload), or None at EOF/timeout."""
        deadline = time.time() + (timeout or TMO)
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self._fill(4, deadline): return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline): return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        masked = bool(b1 & 0x80)
        if masked:
            off += 4
        if not self._fill(off + n, deadline):
            return None
        p = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return (bool(b0 & 0x80), b0 & 0x0F, masked, p)
    def closed(self, timeout=None):
        """True when the server ends the TCP connection within timeout."""
        deadline = time.time() + (timeout or TMO)
        while not self.eof and time.time() < deadline:
            self.buf = b""
            self._fill(1, deadline)
        return self.eof

def coap_code(msg):
    """Code of a CoAP-over-WebSocket message (Len nibble 0)."""
    tkl = msg[0] & 0x0F
    c = msg[1]
    return f"{c >> 5}.{c & 31:02d}", msg[0] >> 4, msg[2 + tkl:]

def describe(f):
    if f is None:
        return "none"
    fin, op, masked, p = f
    if op == 8:
        code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
        return f"close {code} {p[2:].decode('utf-8', 'replace')!r}" + (" MASKED" if masked else "")
    if op == 2:
        code, ln, rest = coap_code(p)
        diag = ""
        if code == "7.05" and b"\xff" in rest:  # an Abort's diagnostic payload
            diag = " diag " + repr(rest.split(b"\xff", 1)[1].decode("utf-8", "replace"))
        return f"binary coap {code} len-nibble {ln} ({len(p)} bytes){diag}" + (" MASKED" if masked else "")
    return f"opcode {op} {p!r}" + (" MASKED" if masked else "")

def opened():
    """A good upgrade; returns (socket, reader, server CSM Max-Message-Size)."""
    s, head, rest = upgrade()
    if " 101 " not in head.split("\r\n")[0]:
        sys.exit(1)
    r = Reader(s, rest)
    f = r.next()
    say("first", describe(f))
    mms = 1152
    if f and f[1] == 2:
        code, _, opts = coap_code(f[3])
        # Walk the CSM options for Max-Message-Size (option 2).
        num, i = 0, 0
        while i < len(opts) and opts[i] != 0xFF:
            d, l = opts[i] >> 4, opts[i] & 15
            i += 1
            if d == 13: d = opts[i] + 13; i += 1
            elif d == 14: d = struct.unpack("!H", opts[i:i+2])[0] + 269; i += 2
            if l == 13: l = opts[i] + 13; i += 1
            elif l == 14: l = struct.unpack("!H", opts[i:i+2])[0] + 269; i += 2
            num += d
            if num == 2:
                mms = int.from_bytes(opts[i:i+l], "big")
            i += l
    say("mms", mms)
    # Our own CSM first (RFC 8323 §5.3.1: MUST be the first message).
    s.sendall(frame(2, bytes([0x00, 0xE1])))
    return s, r, mms

def after(r, n=3):
    """Prints up to n frames that follow, then whether the TCP ended."""
    for _ in range(n):
        f = r.next()
        say("frame", describe(f))
        if f is None or f[1] == 8:
            break
    say("tcp-closed", r.closed())

if CASE.startswith("hs-"):
    kw = {"hs-noproto": dict(proto=None), "hs-other": dict(proto="mqtt, chat"),
          "hs-v1": dict(proto="coap.v1"), "hs-both": dict(proto="coap.v1, coap"),
          "hs-v8": dict(version="8"), "hs-badkey": dict(key="short=="),
          "hs-post": dict(method="POST"),
          "hs-origin-bad": dict(origin="http://evil.example"),
          "hs-origin-ok": dict(origin="http://good.example")}[CASE]
    s, head, rest = upgrade(**kw)
    body = rest
    if " 101 " not in head.split("\r\n")[0]:
        # A refusal: the body says why, then the server closes.
        deadline = time.time() + TMO
        try:
            while time.time() < deadline:
                d = s.recv(4096)
                if not d:
                    say("tcp-closed", True)
                    break
                body += d
        except OSError as e:
            say("error", e)
        say("body", body.decode("latin-1").strip())
    else:
        say("first", describe(Reader(s, rest).next()))
elif CASE == "text":
    s, r, _ = opened()
    s.sendall(frame(1, "hello".encode()))
    after(r)
elif CASE == "unmasked":
    s, r, _ = opened()
    s.sendall(frame(2, bytes([0x00, 0x01, 0xB5]) + b"hello", mask=False))
    after(r)
elif CASE == "rsv":
    s, r, _ = opened()
    s.sendall(frame(2, bytes([0x00, 0x01]), rsv=0x40))
    after(r)
elif CASE == "toobig":
    s, r, mms = opened()
    first = 65536
    s.sendall(frame(2, b"\x00\x02" + b"\x00" * (first - 2), fin=False))
    say("sent", f"binary fragment of {first} bytes (fin=0)")
    # A continuation announcing one byte more than Max-Message-Size in all,
    # and only its first KiB: the server must refuse without the rest.
    # (wslay hands a frame over with its first payload bytes, so a bare
    # header is not enough to be judged.)
    s.sendall(frame(0, b"\x00" * 1024, length=mms - first + 1))
    say("sent", f"continuation header of {mms - first + 1} bytes and 1 KiB of it")
    after(r)
elif CASE == "lennibble":
    s, r, _ = opened()
    # GET /hello written with Len = 5 (the TCP framing's length), which
    # RFC 8323 §4.2 says MUST be 0 over WebSockets.
    s.sendall(frame(2, bytes([0x50, 0x01, 0xB5]) + b"hello"))
    after(r)
elif CASE in ("empty", "onebyte"):
    # Shorter than the 2-byte header every CoAP message has (RFC 8323
    # §4.2), then a GET /hello that must not be answered.
    s, r, _ = opened()
    s.sendall(frame(2, b"" if CASE == "empty" else b"\x00"))
    s.sendall(frame(2, bytes([0x01, 0x01, 0x42, 0xB5]) + b"hello"))
    after(r)
elif CASE == "ping-payload":
    s, r, _ = opened()
    s.sendall(frame(9, b"are you there"))
    f = r.next()
    say("pong", f is not None and f[1] == 10 and f[3] == b"are you there")
    # A CoAP GET still works afterwards on the same connection.
    s.sendall(frame(2, bytes([0x01, 0x01, 0x42, 0xB5]) + b"hello"))
    f = r.next()
    say("get", describe(f))
    say("payload", f[3].split(b"\xff", 1)[-1].decode() if f else "")
elif CASE == "close":
    s, r, _ = opened()
    s.sendall(frame(8, struct.pack("!H", 1000) + b"bye"))
    after(r)
elif CASE == "slow":
    s = connect()
    t0 = time.time()
    req = request()
    sent = 0
    s.settimeout(0.05)
    ended = None
    while time.time() - t0 < 10 and sent < len(req):
        try:
            s.send(req[sent:sent + 1])
            sent += 1
        except OSError:
            ended = time.time() - t0
            break
        # One byte a second, watching for the server's close meanwhile.
        t1 = time.time()
        while time.time() - t1 < 1.0:
            r, _, _ = select.select([s], [], [], 1.0 - (time.time() - t1))
            if r:
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    ended = time.time() - t0
                    break
                say("got", d[:60])
        if ended is not None:
            break
    say("sent-bytes", sent)
    say("closed-after", f"{ended:.2f}" if ended is not None else "never")
EOF

ws() { # CASE: runs the raw client; sets OUT, ST
  ST=0
  OUT=$(timeout $((30 * SLOW)) "$PY" "$RC_TMP/wsraw.py" "$PORT" "$1" "$SLOW" 2>&1) || ST=$?
}

# --- the upgrade request --------------------------------------------------
ws hs-noproto
rc_expect "$OUT" "status: HTTP/1.1 400 " "no Sec-WebSocket-Protocol: 400"
rc_expect "$OUT" 'offer "coap"' "no Sec-WebSocket-Protocol: the body says why"
ws hs-other
rc_expect "$OUT" "status: HTTP/1.1 400 " "only other subprotocols offered: 400"
ws hs-v1
rc_expect "$OUT" "status: HTTP/1.1 101 " "only coap.v1 offered: 101 (draft compatibility)"
rc_expect "$OUT" "header: Sec-WebSocket-Protocol: coap.v1" "only coap.v1 offered: answer names coap.v1"
rc_expect "$OUT" "first: binary coap 7.01" "coap.v1: the server's CSM follows"
ws hs-both
rc_expect "$OUT" "header: Sec-WebSocket-Protocol: coap"$'\n' "coap.v1 and coap offered: RFC 8323's coap wins"
ws hs-v8
rc_expect "$OUT" "status: HTTP/1.1 426 " "Sec-WebSocket-Version 8: 426"
rc_expect "$OUT" "header: Sec-WebSocket-Version: 13" "426 names version 13 (RFC 6455 §4.4)"
ws hs-badkey
rc_expect "$OUT" "status: HTTP/1.1 400 " "bad Sec-WebSocket-Key: 400"
rc_expect "$OUT" "Sec-WebSocket-Key must be base64 of 16 bytes" "bad key: the body says why"
ws hs-post
rc_expect "$OUT" "status: HTTP/1.1 405 " "POST upgrade: 405"
rc_expect "$OUT" "header: Allow: GET" "405 says Allow: GET"
ws hs-origin-bad
rc_expect "$OUT" "status: HTTP/1.1 403 " "Origin not in --origin: 403"
rc_expect "$OUT" "origin not allowed" "403: the body says why"
ws hs-origin-ok
rc_expect "$OUT" "status: HTTP/1.1 101 " "Origin in --origin: 101"
# Curl, as a plain HTTP client would: a GET of the endpoint without any
# upgrade is told to upgrade.
OUT=$(curl -s -i --max-time $((5 * SLOW)) "$BASE/.well-known/coap" 2>&1)
rc_expect "$OUT" "HTTP/1.1 426" "plain GET /.well-known/coap: 426"
rc_expect "$OUT" "Upgrade: websocket" "426 names the upgrade"
OUT=$(curl -s -i --max-time $((5 * SLOW)) -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  "$BASE/.well-known/coap" 2>&1)
rc_expect "$OUT" "HTTP/1.1 400" "curl upgrade without subprotocol: 400"
rc_expect "$OUT" 'no acceptable subprotocol' "curl upgrade without subprotocol: body says why"

# --- frames after a good upgrade -------------------------------------------
ws text
rc_expect "$OUT" "frame: close 1003" "text frame: close 1003"
rc_expect "$OUT" "tcp-closed: True" "text frame: connection ends"
ws unmasked
rc_expect "$OUT" "frame: close 1002" "unmasked client frame: close 1002"
rc_expect "$OUT" "tcp-closed: True" "unmasked frame: connection ends"
ws rsv
rc_expect "$OUT" "frame: close 1002" "RSV2 set without an extension: close 1002"
ws toobig
rc_expect "$OUT" "mms: 8388864" "server CSM Max-Message-Size read"
rc_expect "$OUT" "frame: close 1009" "fragmented message over Max-Message-Size: close 1009"
rc_expect "$OUT" "tcp-closed: True" "too big: connection ends"
ws lennibble
rc_expect "$OUT" "frame: binary coap 7.05" "Len nibble 5 over WebSockets: CoAP Abort 7.05"
rc_expect_not "$OUT" "frame: binary coap 2.05" "Len nibble 5: the request is not answered"
rc_expect "$OUT" "tcp-closed: True" "Len nibble 5: connection ends after the Abort"
for c in empty onebyte; do
  ws $c
  rc_expect "$OUT" "frame: binary coap 7.05 len-nibble 0 (38 bytes) diag 'malformed message: RC_ERR_TRUNCATED'" \
    "$c binary message: CoAP Abort 7.05 'malformed message: RC_ERR_TRUNCATED'"
  rc_expect_not "$OUT" "frame: binary coap 2.05" "$c binary message: the GET after it is not answered"
  rc_expect "$OUT" "tcp-closed: True" "$c binary message: connection ends after the Abort (no hang)"
done
ws ping-payload
rc_expect "$OUT" "pong: True" "WebSocket ping: pong with the same payload"
rc_expect "$OUT" "get: binary coap 2.05" "after a ping, CoAP GET still answered"
rc_expect "$OUT" "payload: Hello, world!" "GET /hello payload over a raw WebSocket"
ws close
rc_expect "$OUT" "frame: close 1000" "close 1000: the server answers with close 1000"
rc_expect_not "$OUT" "MASKED" "server frames are never masked"
rc_expect "$OUT" "tcp-closed: True" "close handshake: the server ends the TCP connection"

# --- a slow client --------------------------------------------------------
ws slow
printf '%s\n' "$OUT" | sed 's/^/    | /'
after=$(sed -n 's/^closed-after: //p' <<<"$OUT")
if [[ "$after" =~ ^[0-9.]+$ ]] && awk -v a="$after" -v h="$HS_S" 'BEGIN { exit !(a >= h - 0.1 && a <= h + 3) }'; then
  rc_pass "upgrade sent one byte a second: dropped after ${after}s (--handshake-timeout ${HS_S}000)"
else
  rc_fail "slow client: closed after '$after' s, want $HS_S-$((HS_S + 3)) s"
fi

# --- static files -----------------------------------------------------------
# hget PATH [curl args]: status line and headers of a GET in OUT, body in BODY.
hget() {
  local p=$1
  shift
  OUT=$(curl -s --path-as-is -D - -o "$RC_TMP/body" --max-time $((5 * SLOW)) "$@" "$BASE$p" 2>&1)
  BODY=$(cat "$RC_TMP/body" 2>/dev/null)
  rm -f "$RC_TMP/body"
}
hget /
rc_expect "$OUT" "HTTP/1.1 200" "GET / is 200"
rc_expect "$OUT" "Content-Type: text/html" "GET / is text/html"
rc_expect "$BODY" "rcoap.js" "GET / is the demo page"
ETAG=$(tr -d '\r' <<<"$OUT" | sed -n 's/^ETag: //p')
rc_expect "$OUT" "ETag: \"" "GET / has an ETag"
rc_expect "$OUT" "Last-Modified: " "GET / has Last-Modified"
rc_expect "$OUT" "Cache-Control: " "GET / has Cache-Control"
rc_expect "$OUT" "X-Content-Type-Options: nosniff" "GET / has nosniff"
hget /rcoap.js
rc_expect "$OUT" "HTTP/1.1 200" "GET /rcoap.js is 200"
rc_expect "$OUT" "Content-Type: text/javascript" "GET /rcoap.js is text/javascript"
rc_expect "$OUT" "Cache-Control: " "GET /rcoap.js has Cache-Control"
rc_expect "$OUT" "ETag: " "GET /rcoap.js has an ETag"
if cmp -s <(printf '%s' "$BODY") <(printf '%s' "$(cat "$RC_SRC/web/rcoap.js")"); then
  rc_pass "GET /rcoap.js is the file"
else
  rc_fail "GET /rcoap.js body differs from web/rcoap.js"
fi
hget /style.css
rc_expect "$OUT" "Content-Type: text/css" "GET /style.css is text/css"
hget / -H "If-None-Match: $ETAG"
rc_expect "$OUT" "HTTP/1.1 304" "GET / with If-None-Match of its ETag: 304"
OUT=$(curl -s -I --max-time $((5 * SLOW)) "$BASE/index.html" 2>&1)
rc_expect "$OUT" "HTTP/1.1 200" "HEAD /index.html is 200"
rc_expect "$OUT" "Content-Length: $(wc -c <"$RC_SRC/web/index.html")" "HEAD gives the length"
OUT=$(curl -s -i -X POST -d x --max-time $((5 * SLOW)) "$BASE/index.html" 2>&1)
rc_expect "$OUT" "HTTP/1.1 405" "POST /index.html is 405"
hget /sub/inner.txt
rc_expect "$OUT" "HTTP/1.1 200" "a nested file is served"
hget /no-such-file.html
rc_expect "$OUT" "HTTP/1.1 404" "a missing file is 404"

for p in /../etc/passwd /%2e%2e/%2e%2e/etc/passwd /..%2fetc/passwd /%2F..%2F \
  //etc/passwd /%2e%2e%2f%2e%2e%2fetc%2fpasswd /sub/../../secret.txt \
  /sub/%2e%2e/%2e%2e/secret.txt /..%5c..%5csecret.txt /%00/etc/passwd \
  /leak.txt /rel.txt /up/secret.txt /sub/etc/passwd /.%2e/secret.txt \
  "/%c0%ae%c0%ae/secret.txt"; do
  hget "$p"
  st=$(head -n 1 <<<"$OUT" | awk '{print $2}')
  if [[ "$st" =~ ^4[0-9][0-9]$ ]] && [[ "$BODY" != *secret* ]] && [[ "$BODY" != *root:* ]]; then
    rc_pass "traversal $p refused ($st)"
  else
    rc_fail "traversal $p: status '$st', body: $(head -c 100 <<<"$BODY")"
  fi
done

# Everything above left the server well.
ST=0
OUT=$(rc_run rcoap -T $((10 * SLOW)) "coap+ws://127.0.0.1:$PORT/hello" 2>&1) || ST=$?
rc_expect_status "$ST" 0 "rcoapd still answers CoAP after all that"

rcd_stop rcoapd
rc_done
