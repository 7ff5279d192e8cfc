#!/usr/bin/env bash
# What WebSockets cost rcoapd against plain TCP, in one run: ONE rcoapd with
# a coap+tcp and a coap+ws listener on 127.0.0.1 (pinned to one core, the
# load generator to the other, when taskset is there); the same load
# (CONNS connections, each pipelining DEPTH requests of "GET /hello") is run
# against each listener in turn, alternating tcp/ws RUNS times; a table
# gives the median req/s, p50/p99 latency, rcoapd CPU per request (from
# /proc/PID/stat) and the ws/tcp ratio (target: >= 0.8 at depth 16).
# Nothing is asserted: a benchmark is not a test.
#
# Reading it: when neither rcoapd nor the generator has a whole core (a
# shared machine), req/s is set by scheduling and by the generator's own
# cost, which is higher for WS (it masks every frame, RFC 6455 §5.3); the
# rcoapd CPU per request (and its tcp/ws ratio) is the server-side figure,
# and the generator's CPU per request is printed beside it.
#
# Load generator: rcoap-bench when it speaks coap+ws (probed first); if it
# does not, a small Python asyncio client (below) drives both listeners.
# That client is far slower than rcoapd, so its figures measure the client
# more than the server; it is labelled as such in the output.
#
#   bash bench/ws.sh [BUILD_DIR]
# Environment (defaults): DURATION=8 WARMUP=2 (seconds), CONNS=50,
#   DEPTHS="16 1", RUNS=1 (median of RUNS per cell), THREADS=1
#   (rcoap-bench threads), SERVER_CPU=0 BENCH_CPU=1 (taskset cores),
#   MIX="GET /hello", LOADGEN=auto|bench|python.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD_DIR=${1:-$BUILD_DIR}
# the environment knobs (see above), defaults where unset or empty
: "${DURATION:=8}" "${WARMUP:=2}" "${CONNS:=50}" "${DEPTHS:=16 1}" "${RUNS:=1}"
: "${THREADS:=1}" "${MIX:=GET /hello}" "${LOADGEN:=auto}"

BENCH=$BUILD_DIR/rcoap-bench
bench_need rcoapd rcoap-bench
bench_pin rcoapd "load generator"
bench_tmp ws-bench

bench_start_rcoapd -q -l coap+tcp://127.0.0.1:0 -l coap+ws://127.0.0.1:0 \
  --state-dir "$TMP/state" --web-root "$TMP" || exit 1
PID_RC=$RCOAPD_PID
URI_TCP=${RCOAPD_URI[coap+tcp]}
URI_WS=${RCOAPD_URI[coap+ws]}

# --- the Python fallback load generator ---------------------------------
cat >"$TMP/pyload.py" <<'EOF'
# pyload.py URI CONNS DEPTH WARMUP DURATION: keeps DEPTH GET /hello in
# flight on each of CONNS connections (coap+tcp or coap+ws), counts answers
# in the measured window; prints a RESULT line like rcoap-bench's.
import asyncio, base64, os, struct, sys, time
uri, conns, depth, warm, dur = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ws = uri.startswith("coap+ws://")
host, port = uri.split("//", 1)[1].rsplit(":", 1)
port = int(port)
OPTS = b"\xb5hello"
state = {"count": False, "n": 0, "lat": [], "err": 0}

def tcp_msg(code, tok, opts):
    ln = len(opts)
    assert ln < 13
    return bytes([(ln << 4) | len(tok), code]) + tok + opts

def ws_msg(code, tok, opts):
    body = bytes([len(tok), code]) + tok + opts
    key = os.urandom(4)
    return bytes([0x82, 0x80 | len(body)]) + key + bytes(b ^ key[i & 3] for i, b in enumerate(body))

async def one(i):
    r, w = await asyncio.open_connection(host, port)
    if ws:
        k = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET /.well-known/coap HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {k}\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: coap\r\n\r\n").encode())
        await r.readuntil(b"\r\n\r\n")
    mk = ws_msg if ws else tcp_msg
    w.write(mk(0xE1, b"", b""))
    sent = {}
    seq = 0
    def send():
        nonlocal seq
        seq += 1
        tok = struct.pack("!I", seq)
        sent[tok] = time.perf_counter()
        return mk(0x01, tok, OPTS)
    w.write(b"".join(send() for _ in range(depth)))
    buf = b""
    while True:
        d = await r.read(65536)
        if not d:
            state["err"] += 1
            return
        buf += d
        out = []
        while True:
            if ws:
                if len(buf) < 2: break
                n, off = buf[1] & 127, 2
                if n == 126:
                    if len(buf) < 4: break
                    n, off = struct.unpack("!H", buf[2:4])[0], 4
                elif n == 127:
                    if len(buf) < 10: break
                    n, off = struct.unpack("!Q", buf[2:10])[0], 10
                if len(buf) < off + n: break
                m, buf = buf[off:off + n], buf[off + n:]
                tkl, code = m[0] & 15, m[1]
                tok = m[2:2 + tkl]
            else:
                if len(buf) < 2: break
                ln, tkl = buf[0] >> 4, buf[0] & 15
                ext = {13: 1, 14: 2, 15: 4}.get(ln, 0)
                if len(buf) < 1 + ext + 1: break
                if ext:
                    ln = int.from_bytes(buf[1:1 + ext], "big") + {1: 13, 2: 269, 4: 65805}[ext]
                total = 1 + ext + 1 + tkl + ln
                if len(buf) < total: break
                code = buf[1 + ext]
                tok = buf[2 + ext:2 + ext + tkl]
                buf = buf[total:]
            if code >= 0xE0:
                continue
            t0 = sent.pop(tok, None)
            if t0 is None:
                continue
            if state["count"]:
                state["n"] += 1
                if len(state["lat"]) < 200000:
                    state["lat"].append(time.perf_counter() - t0)
            out.append(send())
        if out:
            w.write(b"".join(out))

async def main():
    tasks = [asyncio.create_task(one(i)) for i in range(conns)]
    await asyncio.sleep(warm)
    state["count"] = True
    t0 = time.perf_counter()
    await asyncio.sleep(dur)
    state["count"] = False
    el = time.perf_counter() - t0
    lat = sorted(state["lat"]) or [0]
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6
    print(f"RESULT rps={state['n'] / el:.0f} requests={state['n']} p50_us={p(0.5):.0f} "
          f"p90_us={p(0.9):.0f} p99_us={p(0.99):.0f} max_us={lat[-1] * 1e6:.0f} errors={state['err']}")
    os._exit(0)

asyncio.run(main())
EOF

# Which load generator: rcoap-bench if it accepts coap+ws.
USE=python
if [ "$LOADGEN" != python ]; then
  if "$BENCH" -q -c 1 -p 1 -n 20 "$URI_WS/hello" >"$TMP/probe.out" 2>&1 &&
    grep -q '^RESULT.* errors=0' "$TMP/probe.out"; then
    USE=bench
  else
    echo "ws.sh: rcoap-bench cannot drive coap+ws here: $(head -n 2 "$TMP/probe.out" | tr '\n' ' ')"
    [ "$LOADGEN" = bench ] && exit 1
    echo "ws.sh: falling back to the Python client for BOTH transports (client-bound figures)"
  fi
fi

# run_one URI DEPTH -> "rps p50 p99 cpu_us_per_req errors gen_cpu_us_per_req"
run_one() {
  local uri=$1 depth=$2
  if [ "$USE" = bench ]; then
    bench_windowed "$PID_RC" "$TMP/run.out" "${PIN_BENCH[@]}" "$BENCH" -q -c "$CONNS" \
      -p "$depth" --threads "$THREADS" --duration "$DURATION" -w "$WARMUP" -m "$MIX" "$uri"
  else
    bench_windowed "$PID_RC" "$TMP/run.out" "${PIN_BENCH[@]}" /usr/bin/python3 \
      "$TMP/pyload.py" "$uri" "$CONNS" "$depth" "$WARMUP" "$DURATION"
  fi
  bench_summary bench_cpu_us ||
    echo "ws.sh: no RESULT from the load generator for $uri: $(tail -n 3 "$TMP/run.out" | tr '\n' ' ')" >&2
}

if [ "$USE" = bench ]; then gen="rcoap-bench ($THREADS thread(s))"; else gen="Python asyncio client (CLIENT-BOUND: compares the client more than rcoapd)"; fi
echo "rcoapd coap+ws vs coap+tcp in one process ($MIX), 127.0.0.1"
echo "$CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, median of $RUNS, runs alternating tcp/ws"
echo "load generator: $gen; $pinning"
bench_machine
declare -A R
for depth in $DEPTHS; do
  tcp=() wsr=()
  for _ in $(seq 1 "$RUNS"); do
    tcp+=("$(run_one "$URI_TCP" "$depth")")
    wsr+=("$(run_one "$URI_WS" "$depth")")
  done
  R[tcp-$depth]=$(printf '%s\n' "${tcp[@]}" | bench_median)
  R[ws-$depth]=$(printf '%s\n' "${wsr[@]}" | bench_median)
done
bench_alive "$PID_RC" rcoapd "$TMP/rcoapd.out"

echo
bench_pair_header coap+tcp coap+ws ws/tcp
results=()
for depth in $DEPTHS; do
  read -r a _ _ acpu aerr agen <<<"${R[tcp-$depth]}"
  read -r b _ _ bcpu berr bgen <<<"${R[ws-$depth]}"
  ratio=$(bench_div "$b" "$a")
  bench_pair_row "$depth" "${R[tcp-$depth]}" "${R[ws-$depth]}" "$ratio"
  [ "$aerr" = 0 ] || echo "  coap+tcp depth $depth: errors=$aerr"
  [ "$berr" = 0 ] || echo "  coap+ws depth $depth: errors=$berr"
  verdict=""
  [ "$depth" = 16 ] && verdict=" target_0.8=$(echo "$ratio >= 0.8" | bc -l | sed 's/1/met/;s/0/missed/')"
  # rcoapd CPU per request does not depend on how fast the client is:
  # tcp/ws of it is the server-side cost ratio (1.0: WS costs nothing).
  cratio=$(bench_div "$acpu" "$bcpu")
  echo "  depth $depth: rcoapd CPU per request tcp/ws = $(printf '%.2f' "$cratio");" \
    "load generator CPU per request tcp $agen us, ws $bgen us"
  results+=("RESULT ws depth=$depth conns=$CONNS loadgen=$USE tcp_rps=$a ws_rps=$b ratio=$(printf '%.2f' "$ratio") tcp_cpu_us=$(printf '%.2f' "$acpu") ws_cpu_us=$(printf '%.2f' "$bcpu") cpu_ratio=$(printf '%.2f' "$cratio")$verdict")
done
echo
printf '%s\n' "${results[@]}"
