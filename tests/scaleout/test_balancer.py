"""Two real server processes behind a real HAProxy (``balance url_param sessionId``, health checks
on /readyz) and a private Redis: kill the Sender's node mid-conversation, reconnect through the
balancer, settings and history intact; stop and restart Redis, the nodes recover.

Needs haproxy and redis-server (.ci/run installs them); fails, never skips, without them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from handlers.session_store import RedisSessionStore, StoredSession
from tests.scaleout.recording import Events, next_event, recording_sender
from tests.scaleout.test_survive_node import PrivateRedis, free_port
from tests.server.audio_checks import WEATHER, clip

ROOT = Path(__file__).resolve().parents[2]

HAPROXY_CONFIG = """
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 60s
frontend chat
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance url_param sessionId
    hash-type consistent
    option httpchk GET /readyz
    default-server inter 300ms fall 2 rise 2
    http-response set-header X-Node %s
{servers}
"""


class Node:
    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        flags = ("--redis-url", redis_url, "--shutdown-grace-seconds", "1")
        self.process = subprocess.Popen(
            (sys.executable, "-m", "handlers.server", "--port", str(self.port), *flags),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/readyz") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"node on {self.port} did not become ready")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def talk(url: str, session_id: str) -> tuple[socketio.AsyncClient, Events]:
    return await recording_sender(f"{url}?sessionId={session_id}", session_id, wait_timeout=10)


async def wait_for(got: Events, name: str, after: int, within: float = 30) -> Any:
    return await next_event(got, name, after, within=within, poll=0.05)


async def history_of(store: RedisSessionStore, session: str, messages: int) -> StoredSession:
    """What Redis holds once the session's history has ``messages`` messages (a turn's exchange
    is written when its reply has gone out)."""
    async with asyncio.timeout(60):
        while len((stored := await store.load(session)).history) < messages:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return stored


async def turn(client: socketio.AsyncClient, got: list[tuple[str, Any]]) -> Any:
    mark = len(got)
    pcm = clip(WEATHER)
    for offset in range(0, len(pcm), 640):
        await client.emit("input.buffer.append", pcm[offset : offset + 640])
    await client.emit("input.buffer.commit")
    return await wait_for(got, "request.transcribe.done", mark)


async def test_a_session_survives_its_node_behind_haproxy(redis_server: PrivateRedis) -> None:
    haproxy = shutil.which("haproxy")
    assert haproxy, "haproxy is not installed (.ci/run installs it)"
    nodes = [Node(redis_server.url) for _ in range(2)]
    port = free_port()
    servers = "\n".join(
        f"    server n{i} 127.0.0.1:{node.port} check" for i, node in enumerate(nodes)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as config:
        config.write(HAPROXY_CONFIG.format(port=port, servers=servers))
    balancer = subprocess.Popen(  # noqa: ASYNC220  # started once; it runs beside the test
        [haproxy, "-f", config.name, "-db"], stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for node in nodes:
            await node.ready()
        await asyncio.sleep(1.0)  # both nodes up in HAProxy's checks
        session = f"lb-{time.monotonic_ns()}"
        client, got = await talk(url, session)
        await client.emit("session.update", {"llm": {"instructions": "Answer like a pirate."}})
        await wait_for(got, "session.updated", 0)
        transcript = await turn(client, got)
        assert "weather" in transcript["text"]
        store = RedisSessionStore(redis_server.url)
        before = await history_of(store, session, 2)
        # Kill the node that holds the Sender: the one HAProxy hashes this sessionId to.
        async with aiohttp.ClientSession() as http:
            probe = f"{url}/socketio/?EIO=4&transport=polling&sessionId={session}"
            async with http.get(probe) as answer:
                holder = nodes[int(answer.headers["X-Node"].removeprefix("n"))]
        holder.kill()
        await client.disconnect()
        await asyncio.sleep(1.5)  # HAProxy marks the dead node down
        again, got2 = await talk(url, session)
        await again.emit("session.update", {})
        updated = await wait_for(got2, "session.updated", 0)
        assert updated["llm"]["instructions"] == "Answer like a pirate."
        await turn(again, got2)
        after = await history_of(store, session, 4)
        assert after.history[:2] == before.history
        # Redis away and back: the surviving node recovers by itself.
        redis_server.stop()
        await asyncio.sleep(0.5)
        redis_server.start()
        survivor = next(n for n in nodes if n is not holder)
        await survivor.ready()
        mark = len(got2)
        await again.emit("session.update", {"llm": {"instructions": "Be brief."}})
        await wait_for(got2, "session.updated", mark)
        await asyncio.sleep(0.5)
        stored = await store.load(session)
        assert stored.settings is not None
        assert stored.settings["llm"]["instructions"] == "Be brief."
        await again.disconnect()
        await store.aclose()
    finally:
        balancer.terminate()
        balancer.wait(10)
        for node in nodes:
            node.kill()
        os.unlink(config.name)
