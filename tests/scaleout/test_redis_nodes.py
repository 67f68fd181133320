"""Two nodes sharing Redis serve one session: the Sender on one node, the Receiver on another.

Needs Redis on 127.0.0.1:6379 (.ci/run starts it); the test fails, never skips, without it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
import socketio
from aiohttp import web

from handlers.audio import parse_wav
from handlers.config import ServerConfig
from handlers.server import create_app
from tests.data import SPEECH_DIR

REDIS_URL = "redis://127.0.0.1:6379/0"
AUDIO = SPEECH_DIR


async def start_node(config: ServerConfig) -> tuple[web.AppRunner, str]:
    app, _ = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def two_nodes() -> AsyncIterator[list[str]]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert await client.ping(), "Redis did not answer PING"
    finally:
        await client.aclose()
    channel = "metahuman-test-" + secrets.token_hex(4)
    config = ServerConfig(redis_url=REDIS_URL, redis_channel=channel)
    nodes = [await start_node(config) for _ in range(2)]
    yield [url for _, url in nodes]
    for runner, _ in nodes:
        await runner.cleanup()


async def test_receiver_on_another_node_gets_the_reply(two_nodes: list[str]) -> None:
    node_a, node_b = two_nodes
    session = "scale-" + secrets.token_hex(4)
    sender, receiver, outsider = (socketio.AsyncClient() for _ in range(3))
    received: list[tuple[str, Any]] = []
    outsider_got: list[str] = []
    done = asyncio.Event()
    transcript: list[str] = []

    async def on_transcript(data: dict[str, Any]) -> None:
        transcript.append(data["text"])

    async def on_text(data: dict[str, Any]) -> None:
        received.append(("response.text", data))

    async def on_delta(data: dict[str, Any]) -> None:
        received.append(("response.audio.delta", data))
        if data["final"]:
            done.set()

    async def on_outsider(data: Any) -> None:
        outsider_got.append("event")

    sender.on("request.transcribe.done", on_transcript)
    receiver.on("response.text", on_text)
    receiver.on("response.audio.delta", on_delta)
    outsider.on("response.text", on_outsider)
    outsider.on("response.audio.delta", on_outsider)
    await receiver.connect(
        node_b,
        socketio_path="/socketio",
        transports=["websocket"],
        auth={"role": "receiver", "sessionId": session},
    )
    await outsider.connect(
        node_b,
        socketio_path="/socketio",
        transports=["websocket"],
        auth={"role": "receiver", "sessionId": session + "-other"},
    )
    await sender.connect(
        node_a,
        socketio_path="/socketio",
        transports=["websocket"],
        auth={"role": "sender", "sessionId": session},
    )
    try:
        pcm, rate = parse_wav((AUDIO / "what_is_the_weather_like_today.wav").read_bytes())
        assert rate == 16000
        for offset in range(0, len(pcm), 640):
            await sender.emit("input.buffer.append", pcm[offset : offset + 640])
        await sender.emit("input.buffer.commit")
        await asyncio.wait_for(done.wait(), 30)
    finally:
        for client in (sender, receiver, outsider):
            await client.disconnect()
    assert transcript and "weather" in transcript[0]
    texts = [data["text"] for name, data in received if name == "response.text"]
    assert len(texts) == 1 and texts[0]
    deltas = [data for name, data in received if name == "response.audio.delta"]
    assert [d["sequence"] for d in deltas] == list(range(len(deltas)))
    assert sum(len(d["audio"]) for d in deltas) > 24000  # over half a second of 24 kHz PCM16
    assert outsider_got == []
