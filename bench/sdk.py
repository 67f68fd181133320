"""``python -m bench --only sdk``: the OpenAI SDK's CPU per turn on its two HTTP transports.

One turn is what the cloud stack asks of OpenAI: a streamed chat completion, a streamed speech
synthesis of the benchmark's reply and a transcription of 2 s of audio, through the providers'
SDK client, ``CONCURRENCY`` turns at a time against the loopback fake (``bench.cloud_fake``, its
own process on the other core). The SDK's default transport (httpx2 over anyio) and its
``aiohttp`` one (``DefaultAioHttpClient``, what ``handlers.providers.openai_common`` uses) take
turns, so that other work on the machine weighs on both alike.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable

from openai import AsyncOpenAI, DefaultAioHttpClient

from bench.cloud_fake import REPLY
from bench.common import JSON, Cpus, cpu_seconds, in_process, pin
from bench.conversation import cloud_fake
from handlers.audio import wav_bytes

CONCURRENCY = 50
TRANSPORTS = ("httpx2", "aiohttp")


async def one_turn(client: AsyncOpenAI, wav: bytes) -> None:
    chat = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for _ in chat:
        pass
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=REPLY, response_format="pcm"
    ) as speech:
        async for _ in speech.iter_bytes():
            pass
    await client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("a.wav", wav, "audio/wav")
    )


async def cpu_ms_per_turn(transport: str, env: dict[str, str], turns: int) -> float:
    """This process's CPU per turn with ``transport`` (after a warm-up that opens the pool)."""
    client = AsyncOpenAI(
        api_key=env["OPENAI_API_KEY"],
        base_url=env["OPENAI_BASE_URL"],
        http_client=DefaultAioHttpClient() if transport == "aiohttp" else None,
    )
    wav = wav_bytes(bytes(64_000), 16_000)  # 2 s of silence
    limit = asyncio.Semaphore(CONCURRENCY)

    async def turn() -> None:
        async with limit:
            await one_turn(client, wav)

    try:
        await asyncio.gather(*(turn() for _ in range(CONCURRENCY)))
        before = cpu_seconds()
        await asyncio.gather(*(turn() for _ in range(turns)))
        return (cpu_seconds() - before) / turns * 1000
    finally:
        await client.close()


async def _measure(cpu: int | None, env: dict[str, str], rounds: int, turns: int) -> JSON:
    pin(cpu)
    samples: dict[str, list[float]] = {name: [] for name in TRANSPORTS}
    for _ in range(rounds):
        for name in TRANSPORTS:
            samples[name].append(await cpu_ms_per_turn(name, env, turns))
    return samples


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    rounds, turns = (2, 100) if quick else (5, 300)
    async with cloud_fake(cpus.client) as (_, env):
        samples: dict[str, list[float]] = await in_process(
            cpus.server, _measure, cpus.server, env, rounds, turns
        )
    medians = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    ratio = round(medians["aiohttp"] / medians["httpx2"], 2)
    for name in TRANSPORTS:
        values = ", ".join(f"{value:.2f}" for value in samples[name])
        log(f"  {name:8s} CPU per turn: median {medians[name]} ms ({values})")
    log(f"  aiohttp / httpx2: {ratio}")
    return {"cpu_ms_per_turn": samples, "median_ms": medians, "aiohttp_over_httpx2": ratio}
