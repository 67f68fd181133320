"""A session outlives its node: settings and history go through Redis; Redis going away and
coming back. Uses a private redis-server on a free port (started here; fails, never skips, when
redis-server is not installed)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import socketio
from aiohttp import web

from handlers.config import ServerConfig
from handlers.server import ChatServer, create_app
from handlers.session_store import RedisSessionStore
from tests.scaleout.recording import Events, next_event, recording_sender


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class PrivateRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (.ci/run installs it)"
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            (self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE),
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            subprocess.run(["sleep", "0.05"], check=True)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def start_node(config: ServerConfig) -> tuple[web.AppRunner, str, ChatServer]:
    app, chat = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", chat


@pytest.fixture
async def nodes(redis_server: PrivateRedis) -> AsyncIterator[list[tuple[str, ChatServer]]]:
    config = ServerConfig(redis_url=redis_server.url, shutdown_grace_seconds=1.0)
    started = [await start_node(config) for _ in range(2)]
    yield [(url, chat) for _, url, chat in started]
    for runner, _, _ in started:
        await runner.cleanup()


async def connect(url: str, session_id: str) -> tuple[socketio.AsyncClient, Events]:
    return await recording_sender(url, session_id)


async def test_settings_and_history_survive_the_node(
    nodes: list[tuple[str, ChatServer]], redis_server: PrivateRedis
) -> None:
    (url_a, chat_a), (url_b, chat_b) = nodes
    session = "survive-" + str(free_port())
    sender, got = await connect(url_a, session)
    instructions = "Answer like a pirate."
    await sender.emit("session.update", {"llm": {"instructions": instructions}})
    await next_event(got, "session.updated")
    # A finished exchange, as a turn adds it (the turn machinery is tested elsewhere).
    chat_a.sessions[session].turns._remember("resp_x", "item_x", "hello there", "ahoy")
    await asyncio.sleep(0.3)
    await sender.disconnect()  # its node "dies": the session is forgotten on A
    store = RedisSessionStore(redis_server.url)
    stored = await store.load(session)
    await store.aclose()
    assert stored.settings is not None and stored.history[-1]["content"] == "ahoy"

    again, got_b = await connect(url_b, session)
    await again.emit("session.update", {})
    updated = await next_event(got_b, "session.updated")
    assert updated["llm"]["instructions"] == instructions
    history = [(m.role, m.content) for m in chat_b.sessions[session].turns.history]
    assert history == [("user", "hello there"), ("assistant", "ahoy")]

    # Redis goes away: readiness fails, an update's Sender hears of it; Redis returns: recovered.
    redis_server.stop()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url_b}/readyz") as answer:
            assert answer.status == 503
        mark = len(got_b)
        await again.emit("session.update", {"llm": {"instructions": "Be brief."}})
        error = await next_event(got_b, "custom.error", after=mark)
        assert error["code"] == "store_unavailable"
        redis_server.start()
        async with http.get(f"{url_b}/readyz") as answer:
            assert answer.status == 200
        mark = len(got_b)
        await again.emit("session.update", {"llm": {"instructions": "Be kind."}})
        await next_event(got_b, "session.updated", after=mark)
        await asyncio.sleep(0.3)
        assert not [e for e, _ in got_b[mark:] if e == "custom.error"]
    store = RedisSessionStore(redis_server.url)
    stored = await store.load(session)
    await store.aclose()
    assert stored.settings is not None
    assert stored.settings["llm"]["instructions"] == "Be kind."
    await again.disconnect()


def test_a_node_exits_when_redis_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    from handlers.server import EXIT_NO_REDIS, main

    with pytest.raises(SystemExit) as exited:
        main(["--redis-url", f"redis://:pw-secret-value@127.0.0.1:{free_port()}/0"], env={})
    assert exited.value.code == EXIT_NO_REDIS
    printed = capsys.readouterr().err
    assert "error: redis at" in printed and "pw-secret-value" not in printed
    assert "the server is open" in printed


async def test_what_was_heard_and_a_cleared_conversation_reach_the_store(
    nodes: list[tuple[str, ChatServer]], redis_server: PrivateRedis
) -> None:
    (url_a, chat_a), _ = nodes
    session = "revised-" + str(free_port())
    sender, got = await connect(url_a, session)
    await sender.emit("session.update", {})
    await next_event(got, "session.updated")
    live = chat_a.sessions[session]
    live.turns._remember("resp_1", "item_1", "tell me a story", "Once upon a time there was a fox.")
    # A barge-in cut the reply to what the Receiver played of it.
    assert live.turns.revise("resp_1", "Once upon a time")
    live.history_changed()
    store = RedisSessionStore(redis_server.url)
    try:
        for _ in range(50):
            stored = await store.load(session)
            if stored.history and stored.history[-1]["content"] == "Once upon a time":
                break
            await asyncio.sleep(0.05)
        assert [m["content"] for m in stored.history] == ["tell me a story", "Once upon a time"]
        # conversation.clear: the store forgets it too, so another node does not bring it back.
        mark = len(got)
        await sender.emit("conversation.clear")
        for _ in range(50):
            if not (await store.load(session)).history:
                break
            await asyncio.sleep(0.05)
        assert (await store.load(session)).history == []
        assert not [e for e, _ in got[mark:] if e == "custom.error"]
    finally:
        await store.aclose()
        await sender.disconnect()
