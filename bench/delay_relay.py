#!/usr/bin/env python3
"""A TCP relay that holds every chunk DELAY_MS before passing it on, both
ways: a path with a round trip of 2 x DELAY_MS (plus the relay's own), for
benchmarks on a kernel without netem. Throughput is not limited: chunks
queue while they wait.

  delay_relay.py LISTEN_PORT TARGET_PORT DELAY_MS   (127.0.0.1 only)
Prints "relay ready" once it listens. Stop it with SIGTERM.
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.ensure_future(sender())
    while True:
        data = await reader.read(262144)
        queue.put_nowait((loop.time() + delay, data or None))
        if not data:
            break
    await task


async def main():
    port, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000

    async def serve(cr, cw):
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print("relay ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
