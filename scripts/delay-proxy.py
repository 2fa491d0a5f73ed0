#!/usr/bin/env python3
"""A TCP relay that adds latency, to benchmark scans as if the targets were far away.

    delay-proxy.py DELAY_MS LISTEN_ADDR:PORT=UPSTREAM_ADDR:PORT ...

Every chunk is held DELAY_MS before it is passed on, in each direction, so each round trip of a
handshake costs 2 x DELAY_MS more (this machine's kernel has no netem). Loopback only: the
benchmark scripts run it on 127.0.0.0/8 addresses.
"""
import asyncio
import sys


async def pump(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def relay(client_reader, client_writer, upstream, delay):
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pump(client_reader, upstream_writer, delay),
        pump(upstream_reader, client_writer, delay),
    )


async def main():
    delay = float(sys.argv[1]) / 1000
    servers = []
    for pair in sys.argv[2:]:
        listen, upstream = pair.split("=")
        host, port = listen.rsplit(":", 1)
        up_host, up_port = upstream.rsplit(":", 1)
        target = (up_host, int(up_port))
        handler = lambda r, w, target=target: relay(r, w, target, delay)
        servers.append(await asyncio.start_server(handler, host, int(port), backlog=256))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
