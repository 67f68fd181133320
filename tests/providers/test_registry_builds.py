"""The registry builds a provider once, in a worker thread, and closes what it built."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Mapping

from handlers.providers.base import PcmChunk, ProviderUnavailable, TtsRequest
from handlers.providers.registry import ProviderRegistry


class RecordingTts:
    def __init__(self) -> None:
        self.closed = False

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        yield PcmChunk(b"\x00\x00", 16000)

    async def aclose(self) -> None:
        self.closed = True


async def test_concurrent_callers_share_one_build_that_runs_off_the_loop() -> None:
    loop_thread = threading.get_ident()
    build_threads: list[int] = []
    built: list[RecordingTts] = []

    def slow_factory(env: Mapping[str, str]) -> RecordingTts:
        build_threads.append(threading.get_ident())
        time.sleep(0.3)  # a blocking build: credential files, an SDK import, a model load
        built.append(RecordingTts())
        return built[-1]

    registry = ProviderRegistry({}, factories={"tts": {"slow": slow_factory}})
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    reasons = await asyncio.gather(*(registry.unavailable_reason("tts", "slow") for _ in range(5)))
    ticking.cancel()

    assert reasons == [None] * 5
    assert len(build_threads) == 1 and build_threads[0] != loop_thread
    assert ticks >= 5  # the loop kept running while the provider was built
    provider: object = registry.tts("slow")
    assert provider is built[0]
    assert await registry.unavailable_reason("tts", "slow") is None
    assert len(build_threads) == 1  # built once, not again

    await registry.aclose()
    assert built[0].closed


async def test_unavailable_providers_give_their_reason_and_are_tried_again() -> None:
    attempts = 0

    def failing_factory(env: Mapping[str, str]) -> RecordingTts:
        nonlocal attempts
        attempts += 1
        raise ProviderUnavailable("missing environment variable ACME_KEY")

    registry = ProviderRegistry({}, factories={"tts": {"acme": failing_factory}})

    assert await registry.unavailable_reason("tts", "acme") == (
        "missing environment variable ACME_KEY"
    )
    assert await registry.unavailable_reason("tts", "acme") is not None
    assert attempts == 2
    reason = await registry.unavailable_reason("tts", "nonexistent")
    assert reason is not None and "unknown tts provider" in reason
