"""aiortc (Debian python3-aiortc, /usr/bin/python3) as the WebRTC offerer
against rcoapd: prints {"type":"offer","sdp":...} (aiortc's legacy
DTLS/SCTP form) on one line, reads the answer JSON on one line of stdin,
opens a "coap" channel (protocol "coap") and sends a CSM and GET /hello in
the RFC 8323 WebSocket form; prints "RESULT <payload of the 2.05>" or
"RESULT timeout". Usage: aiortc_offer.py"""
import asyncio, json, sys
from aiortc import RTCPeerConnection, RTCConfiguration, RTCSessionDescription

async def main():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    ch = pc.createDataChannel("coap", protocol="coap")
    got = asyncio.get_event_loop().create_future()
    msgs = []
    @ch.on("open")
    def on_open():
        print("channel open id=%s" % ch.id, file=sys.stderr)
        ch.send(bytes([0x00, 0xE1]))                      # CSM
        ch.send(bytes([0x01, 0x01, 0x42, 0xB5]) + b"hello")  # GET /hello tok 42
    @ch.on("message")
    def on_message(m):
        msgs.append(m)
        print("got %r" % (m,), file=sys.stderr)
        if isinstance(m, bytes) and len(m) > 1 and m[1] == 0x45 and not got.done():
            got.set_result(m)
    await pc.setLocalDescription(await pc.createOffer())
    print(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}), flush=True)
    line = sys.stdin.readline()
    ans = json.loads(line)
    await pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], ans["type"]))
    try:
        r = await asyncio.wait_for(got, 15)
        i = r.index(b"\xff")
        print("RESULT %s" % r[i + 1:].decode(), flush=True)
    except asyncio.TimeoutError:
        print("RESULT timeout", flush=True)
    await pc.close()

asyncio.run(main())
