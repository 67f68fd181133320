"""Issue 12, finding 6: a Receiver that stops reading is released with its queue, and memory
stays flat over 100 turns.

The slow Receiver is a real WebSocket client written out here (RFC 6455 handshake, Engine.IO 4
and Socket.IO 5 framing) on a socket with a 4 KB receive buffer, which stops reading once it
has joined: the server's writes back up through TCP into Engine.IO's packet queue, as with a
frozen browser tab.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from handlers.providers.base import PcmChunk, TtsRequest
from handlers.providers.toolkit import NothingToClose
from tests.server.conftest import ServeFn
from tests.server.fakes import InstantStt, ScriptedLlm, tone
from tests.server.harness import RunningServer, run_turn

QUEUE_LIMIT = 64
TURNS = 100


class LongTts(NothingToClose):
    """Half a second of tone per sentence, in one chunk (16 KB of PCM16 at 16 kHz)."""

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        yield PcmChunk(tone(8000, 16000), 16000)


def eio_sockets(server: RunningServer) -> list[Any]:
    assert server.chat.receivers is not None
    return list(server.chat.receivers.sio.eio.sockets.values())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def ws_frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> str:
    """One unmasked server text frame."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    data = await reader.readexactly(size)
    assert first & 0x0F == 1, f"expected a text frame, got opcode {first & 0x0F}"
    return data.decode()


async def join_and_stop_reading(server: RunningServer, session_id: str) -> asyncio.StreamWriter:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {server.path}/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    status = await reader.readuntil(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 101"), status
    assert (await read_frame(reader)).startswith("0{")  # Engine.IO open
    auth = {"role": "receiver", "sessionId": session_id}
    writer.write(ws_frame("40" + json.dumps(auth)))
    assert (await read_frame(reader)).startswith("40{")  # Socket.IO connected
    transport = writer.transport
    assert isinstance(transport, asyncio.Transport)
    transport.pause_reading()  # and never reads again
    return writer


async def test_a_receiver_that_stops_reading_is_released_and_memory_stays_flat(
    serve: ServeFn,
) -> None:
    server = await serve(
        receiver_queue_packets=QUEUE_LIMIT,
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: ScriptedLlm()},
            "tts": {"local": lambda env: LongTts()},
        },
    )
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"tts": {"responseType": "stream"}})
    await sender.wait_for("session.updated")
    slow = await join_and_stop_reading(server, sender.session_id)
    session = server.chat.sessions[sender.session_id]
    assert len(session.clients) == 3
    guard = server.chat.receivers
    assert guard is not None

    before = rss_mb()
    most_queued = 0
    released_at = None
    started = time.monotonic()
    for turn in range(TURNS):
        await run_turn(sender, receiver, b"\x01\x00" * 3200)
        most_queued = max(most_queued, *(s.queue.qsize() for s in eio_sockets(server)))
        if released_at is None and len(session.clients) == 2:
            released_at = turn
    # The guard looks a few times a second: give it its look at the last turns' backlog.
    for _ in range(60):
        if guard.released:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    released_at = TURNS if released_at is None else released_at
    after = rss_mb()
    print(
        f"slow Receiver over {TURNS} turns ({time.monotonic() - started:.1f} s): released after"
        f" turn {released_at}, most packets queued for a client {most_queued},"
        f" RSS {before:.0f} -> {after:.0f} MB"
    )
    assert guard.released == 1
    assert len(session.clients) == 2  # the Sender and the Receiver that reads
    assert all(s.queue.qsize() <= QUEUE_LIMIT for s in eio_sockets(server))
    assert after - before < 40
    slow.close()
