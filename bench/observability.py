"""``python -m bench.observability``: what metrics cost on the audio path, per chunk.

The one metric per ``input.buffer.append`` is ``AUDIO_CHUNKS.count += 1``. This times the whole
append (the server's handler -> the session -> the utterance) with that increment and with the
session's append alone, then the increment by itself beside a prometheus_client ``Counter.inc``.
Prints the figures; nothing is asserted (see HELPER_GUIDE: speed targets live in bench/).
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import time
import timeit
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from codegen.runtime import Client
from generated.models import ClientRole
from handlers import observability
from handlers.config import ServerConfig
from handlers.providers.base import SttRequest, Transcript
from handlers.providers.registry import ProviderRegistry
from handlers.server import create_app
from handlers.session import Session

CHUNK = bytes(640)  # 20 ms of 16 kHz PCM16
CHUNKS = 20_000
ROUNDS = 7


class DrainingStt:
    """Reads the audio as a recogniser would and hears nothing: no engine in the figures."""

    @classmethod
    def from_env(cls, env: Any) -> DrainingStt:
        return cls()

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        async for _ in audio:
            pass
        return Transcript(text="")

    async def aclose(self) -> None:
        pass


async def per_chunk_us(append: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    for _ in range(CHUNKS):
        await append()
    return (time.perf_counter() - start) / CHUNKS * 1e6


async def measure() -> dict[str, float]:
    config = ServerConfig(max_buffer_seconds=10 * CHUNKS)
    registry = ProviderRegistry({}, factories={"stt": {"local": DrainingStt.from_env}})
    _, server = create_app(config, registry)
    with_counter: list[float] = []
    without: list[float] = []
    for index in range(ROUNDS):
        session_id = f"bench-{index}"
        session = Session(session_id, server.defaults, server.services, lambda _: None)
        server.sessions[session_id] = session
        client = Client(sid=f"sid-{index}", role=ClientRole.SENDER, session_id=session_id)
        session.join(client.sid)
        with_counter.append(
            await per_chunk_us(functools.partial(server.on_input_buffer_append, client, CHUNK))
        )
        without.append(await per_chunk_us(functools.partial(session.append, client.sid, CHUNK)))
        await session.close("bench")
    await registry.aclose()
    chunks = observability.AUDIO_CHUNKS
    increment_ns = min(timeit.repeat("c.count += 1", globals={"c": chunks}, number=1_000_000)) * 1e3
    counter = Counter("bench_chunks", "", registry=CollectorRegistry())
    inc_ns = min(timeit.repeat("c.inc()", globals={"c": counter}, number=1_000_000)) * 1e3
    return {
        "append_with_counter_us": statistics.median(with_counter),
        "append_session_only_us": statistics.median(without),
        "counter_increment_ns": increment_ns,
        "prometheus_counter_inc_ns": inc_ns,
    }


def main() -> None:
    figures = asyncio.run(measure())
    share = figures["counter_increment_ns"] / 1000 / figures["append_with_counter_us"] * 100
    rows = (
        ("append per chunk, server handler with the counter", "append_with_counter_us", "us"),
        ("append per chunk, the session's append alone", "append_session_only_us", "us"),
        ("the counter increment alone", "counter_increment_ns", "ns"),
        ("a prometheus_client Counter.inc, for comparison", "prometheus_counter_inc_ns", "ns"),
    )
    for label, key, unit in rows:
        print(f"{label + ':':52} {figures[key]:8.2f} {unit}")
    print(f"the increment is {share:.1f}% of an append")


if __name__ == "__main__":
    main()
