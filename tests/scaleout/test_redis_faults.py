"""Redis faults: a start-up check, bounded publishes, one log line per outage, recovery.

Needs Redis on 127.0.0.1:6379 (.ci/run starts it); fails, never skips, without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from handlers.scaleout import RETRY_S, RedisManager, RedisUnavailable, check_redis

REDIS = ("127.0.0.1", 6379)


class Proxy:
    """A TCP proxy to Redis that can stop answering (accepting, never forwarding) and resume."""

    def __init__(self) -> None:
        self.answering = True
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        try:
            await self._serve(reader, writer)
        finally:
            self.tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.answering:
            # A black hole: hold the connection open, never answer.
            await asyncio.sleep(3600)
        up_reader, up_writer = await asyncio.open_connection(*REDIS)
        self.writers.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if not self.answering:
                        await asyncio.sleep(3600)
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in self.writers), return_exceptions=True)
        await self.server.wait_closed()


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    p = Proxy()
    await p.start()
    yield p
    await p.close()


async def test_check_passes_on_redis_and_fails_fast_on_a_closed_port() -> None:
    await check_redis(f"redis://{REDIS[0]}:{REDIS[1]}/0")
    started = time.monotonic()
    with pytest.raises(RedisUnavailable):
        await check_redis("redis://127.0.0.1:1/0", timeout_s=0.5)
    assert time.monotonic() - started < 2


async def test_check_gives_up_on_a_redis_that_never_answers(proxy: Proxy) -> None:
    proxy.answering = False
    started = time.monotonic()
    with pytest.raises(RedisUnavailable):
        await check_redis(proxy.url, timeout_s=0.5)
    assert time.monotonic() - started < 2


async def test_publish_is_bounded_logged_once_and_recovers(
    proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.scaleout")
    manager = RedisManager(proxy.url, channel="faults-test", timeout_s=0.3)
    try:
        assert await manager._publish({"method": "emit", "n": 0}) is not None
        assert manager.healthy
        proxy.answering = False
        started = time.monotonic()
        for n in range(20):
            await manager._publish({"method": "emit", "n": n})
        elapsed = time.monotonic() - started
        # One bounded attempt, then skipped until RETRY_S has passed: never 20 x the timeout.
        assert elapsed < 0.3 + 0.5, elapsed
        assert not manager.healthy
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        proxy.answering = True
        await asyncio.sleep(RETRY_S + 0.1)
        assert await manager._publish({"method": "emit", "n": 99}) is not None
        assert manager.healthy
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await manager.close()
