#!/usr/bin/python3
"""aiortc 1.4 (aioice 0.8, Debian python3-aiortc; run with /usr/bin/python3)
against tests/ice_peer (rcoap's ICE agent, SDP and signaling JSON on a UDP
socket), for test_webrtc_ice_aiortc.sh:

  aiortc_ice_peer.py ICE_PEER BIND_IP aiortc-offers|rcoap-offers

aiortc-offers: aiortc's offer (legacy SCTP SDP, aioice controlling) goes
to ice_peer, which answers as ICE-lite; rcoap-offers: ice_peer offers as
the controlling full agent and aiortc (controlled, full ICE) answers.
The descriptions travel as signaling JSON lines. Prints aiortc's ICE
connection states ("aiortc ice: ..."), its nominated pair ("aiortc pair:
HOST:PORT") and every line of ice_peer ("ice_peer: ..."). aiortc's DTLS
fails afterwards: ice_peer's fingerprint is a dummy."""
import asyncio
import json
import sys

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


def out(line):
    print(line, flush=True)


async def main(peer_path, bind_ip, mode):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    done = asyncio.Event()

    @pc.on("iceconnectionstatechange")
    def on_state():
        out("aiortc ice: %s" % pc.iceConnectionState)
        if pc.iceConnectionState == "completed":
            conn = pc.sctp.transport.transport._connection
            pair = conn._nominated.get(1)
            if pair:
                out("aiortc pair: %s:%d" % pair.remote_addr)
            done.set()
        elif pc.iceConnectionState in ("failed", "closed"):
            done.set()

    args = [peer_path, bind_ip, "4"] + (["offer"] if mode == "rcoap-offers" else [])
    peer = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

    async def from_peer():
        d = json.loads(await peer.stdout.readline())
        out("ice_peer %s sdp: %s" % (d["type"], json.dumps(d["sdp"])))
        return RTCSessionDescription(sdp=d["sdp"], type=d["type"])

    def to_peer(desc):
        peer.stdin.write((json.dumps({"type": desc.type, "sdp": desc.sdp}) + "\n").encode())

    if mode == "aiortc-offers":
        pc.createDataChannel("coap", protocol="coap")
        await pc.setLocalDescription(await pc.createOffer())
        to_peer(pc.localDescription)
        await pc.setRemoteDescription(await from_peer())
    else:
        await pc.setRemoteDescription(await from_peer())
        await pc.setLocalDescription(await pc.createAnswer())
        to_peer(pc.localDescription)
    out("aiortc: descriptions exchanged")

    async def peer_lines():
        async for line in peer.stdout:
            out("ice_peer: " + line.decode().rstrip())

    lines = asyncio.ensure_future(peer_lines())
    try:
        await asyncio.wait_for(done.wait(), 15)
    except asyncio.TimeoutError:
        out("aiortc ice: timeout (%s)" % pc.iceConnectionState)
    await asyncio.wait_for(peer.wait(), 20)
    await lines
    await pc.close()


asyncio.run(main(*sys.argv[1:4]))
