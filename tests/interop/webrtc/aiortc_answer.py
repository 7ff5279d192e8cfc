"""aiortc as the WebRTC answerer to rcoap: a minimal CoAP-over-TCP
(RFC 8323) signaling server on 127.0.0.1:PORT that answers a POSTed offer
JSON with aiortc's answer (2.05, application/json); on the data channel it
answers a CSM with a CSM and any GET with 2.05 "hello from aiortc".
Prints "ready" once listening; runs SECONDS. Usage: aiortc_answer.py PORT
SECONDS"""
import asyncio, json, sys
from aiortc import RTCPeerConnection, RTCConfiguration, RTCSessionDescription

def opts_payload(b):
    """(options bytes end index, payload) of a CoAP body after the token."""
    i = 0
    while i < len(b) and b[i] != 0xFF:
        d, l = b[i] >> 4, b[i] & 15
        i += 1
        for v in (d, l):
            if v == 13: i += 1
            elif v == 14: i += 2
        if l == 13: l = b[i - 1] + 13
        elif l == 14: l = (b[i - 2] << 8 | b[i - 1]) + 269
        i += l
    return b[i + 1:] if i < len(b) else b""

def tcp_frame(code, tok, rest):
    n = len(rest)
    if n < 13: h = bytes([n << 4 | len(tok)])
    elif n < 269: h = bytes([13 << 4 | len(tok), n - 13])
    else: h = bytes([14 << 4 | len(tok)]) + (n - 269).to_bytes(2, "big")
    return h + bytes([code]) + tok + rest

PCS = []

async def on_offer(sdp_json):
    o = json.loads(sdp_json)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    PCS.append(pc)
    @pc.on("datachannel")
    def on_dc(ch):
        print("channel id=%s label=%s protocol=%s" % (ch.id, ch.label, ch.protocol), file=sys.stderr, flush=True)
        @ch.on("message")
        def on_msg(m):
            print("got %r" % (m[:40],), file=sys.stderr, flush=True)
            tkl = m[0] & 15
            code = m[1]
            tok = m[2:2 + tkl]
            if code == 0xE1:
                ch.send(bytes([0x00, 0xE1]))
            elif code == 0x01:
                ch.send(bytes([tkl, 0x45]) + tok + b"\xff" + b"hello from aiortc")
    await pc.setRemoteDescription(RTCSessionDescription(o["sdp"], o["type"]))
    await pc.setLocalDescription(await pc.createAnswer())
    return json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}).encode()

async def serve(r, w):
    w.write(tcp_frame(0xE1, b"", b""))
    while True:
        try:
            b0 = (await r.readexactly(1))[0]
        except (asyncio.IncompleteReadError, ConnectionError):
            w.close()  # our FIN after the client's
            return
        n, tkl = b0 >> 4, b0 & 15
        if n == 13: n = (await r.readexactly(1))[0] + 13
        elif n == 14: n = int.from_bytes(await r.readexactly(2), "big") + 269
        elif n == 15: n = int.from_bytes(await r.readexactly(4), "big") + 65805
        code = (await r.readexactly(1))[0]
        tok = await r.readexactly(tkl)
        rest = await r.readexactly(n)
        if code == 0x02:
            ans = await on_offer(opts_payload(rest))
            w.write(tcp_frame(0x45, tok, bytes([0xC1, 50, 0xFF]) + ans))
            await w.drain()

async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.sleep(float(sys.argv[2]))
    for pc in PCS:
        await pc.close()
    srv.close()

asyncio.run(main())
