#!/usr/bin/python3
"""aiortc side of capture.mjs: reads one JSON command per line on stdin
({"cmd": "offer"} or {"cmd": "answer", "sdp": "..."}) and prints one JSON
line {"sdp": "..."} per command, the local description after ICE gathering
completed (aiortc gathers before it returns). Run with Debian's
/usr/bin/python3 (python3-aiortc 1.4.0)."""
import asyncio
import json
import sys

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

pcs = []


async def main():
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pc)
        if cmd["cmd"] == "offer":
            pc.createDataChannel("coap", protocol="coap")
            await pc.setLocalDescription(await pc.createOffer())
        else:
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=cmd["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        print(json.dumps({"sdp": pc.localDescription.sdp}), flush=True)
    for pc in pcs:
        await pc.close()


asyncio.run(main())
