#!/usr/bin/env python3
"""A TCP delay line on 127.0.0.1: every chunk is held DELAY_MS in each direction.

    bench/delay_relay.py LISTEN_PORT TARGET_PORT DELAY_MS

It is a delay line, not stop-and-wait: reading goes on while earlier chunks wait, so the
throughput is kept and only the latency grows (RTT = 2 x DELAY_MS through the relay).
Both sockets have TCP_NODELAY. Prints "ready" once it listens; runs until SIGTERM.
"""

import asyncio
import signal
import socket
import sys

HOST = "127.0.0.1"
CHUNK = 65536


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def pump(reader, writer, delay_s):
    """Reads chunks as they come and writes each one delay_s after it was read."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read_side():
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay_s, data))
            if not data:
                return

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(read_side(), write_side())
    except (ConnectionError, OSError):
        writer.close()


async def handle(client_reader, client_writer, target_port, delay_s):
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST, target_port)
    except OSError:
        client_writer.close()
        return
    nodelay(client_writer)
    nodelay(upstream_writer)
    await asyncio.gather(
        pump(client_reader, upstream_writer, delay_s),
        pump(upstream_reader, client_writer, delay_s),
        return_exceptions=True,
    )


async def main():
    listen_port, target_port, delay_ms = (int(a) for a in sys.argv[1:4])
    delay_s = delay_ms / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target_port, delay_s), HOST, listen_port
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main())
