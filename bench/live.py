"""The `live` scenario of bench.py: WS_MAX_CONNECTIONS signed-in connections to
/graphql/ws, each subscribed to sessionEvents, as browsers keep them open.

It measures what they cost the API (memory per connection, CPU while they only wait: the
session poll and the pings) and how long a session's end takes to reach its connection
(from the `logout` request leaving to the event arriving). Standard library only: a
minimal graphql-transport-ws client over asyncio."""

import asyncio
import base64
import json
import os
import random
import statistics
import struct
import time

SUBSCRIBE = "subscription { sessionEvents { reason at } }"


class Ws:
    """One client connection: masked frames out, pings answered, JSON messages in."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((
            f"GET /graphql/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError(f"no upgrade: {status!r}")
        return cls(reader, writer)

    def frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + body)

    async def send(self, message):
        self.frame(0x1, json.dumps(message).encode())
        await self.writer.drain()

    async def recv(self):
        """The next JSON message, or None once the server closes."""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping: answer as browsers do
                self.frame(0xA, payload)
                await self.writer.drain()
            elif opcode == 0x8:
                return None
            elif opcode == 0x1:
                return json.loads(payload)

    def close(self):
        self.writer.close()


async def _watching(port, token):
    ws = await Ws.open(port)
    await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    ack = await ws.recv()
    if not ack or ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await ws.send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
    return ws


async def _scenario(port, sessions, logout, pid, rss_kib, cpu_seconds, idle_s):
    rss_before = rss_kib(pid)[0]
    cpu0 = cpu_seconds(pid)
    await asyncio.sleep(idle_s)
    idle_cpu = cpu_seconds(pid) - cpu0

    t0 = time.monotonic()
    conns = []
    for i in range(0, len(sessions), 64):
        conns += await asyncio.gather(*(_watching(port, access) for access, _ in sessions[i:i + 64]))
    opened_s = time.monotonic() - t0
    await asyncio.sleep(2)
    rss_after = rss_kib(pid)[0]

    # Connections that only wait: what the poll and the pings cost. Each keeps reading (and
    # answering pings) meanwhile.
    readers = {i: asyncio.ensure_future(ws.recv()) for i, ws in enumerate(conns)}
    cpu1 = cpu_seconds(pid)
    await asyncio.sleep(idle_s)
    watching_cpu = cpu_seconds(pid) - cpu1
    early = [i for i, r in readers.items() if r.done()]

    # Sessions ended one after another, at random moments of the poll's cycle.
    latencies = []
    sample = random.sample(range(len(conns)), min(64, len(conns)))
    for i in sample:
        await asyncio.sleep(random.uniform(0, 0.4))
        sent = time.monotonic()
        await asyncio.to_thread(logout, sessions[i][1])
        message = await asyncio.wait_for(readers[i], timeout=10)
        latencies.append((time.monotonic() - sent) * 1000)
        if not message or message.get("type") != "next":
            raise RuntimeError(f"expected the session's end, got {message}")
        reason = message["payload"]["data"]["sessionEvents"]["reason"]
        if reason != "LOGOUT":
            raise RuntimeError(f"unexpected reason {reason}")
    for r in readers.values():
        r.cancel()
    for ws in conns:
        ws.close()
    latencies.sort()
    n = len(conns)
    return {
        "connections": n,
        "open_all_s": opened_s,
        "rss_per_connection_kib": (rss_after - rss_before) / n,
        "rss_with_connections_mib": rss_after / 1024,
        "idle_cpu_pct": 100 * idle_cpu / idle_s,
        "watching_cpu_pct": 100 * watching_cpu / idle_s,
        "closed_early": len(early),
        "end_to_event_p50_ms": statistics.median(latencies),
        "end_to_event_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "end_to_event_max_ms": latencies[-1],
    }


def live_scenario(port, sessions, logout, pid, rss_kib, cpu_seconds, idle_s=15):
    """`sessions`: (access token, refresh token) pairs, one per connection; `logout(refresh)`
    ends one session through the API."""
    return asyncio.run(_scenario(port, sessions, logout, pid, rss_kib, cpu_seconds, idle_s))
