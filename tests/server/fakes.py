"""In-process providers for the server tests, injected through ProviderRegistry factories.

They implement the provider protocols of handlers.providers.base and answer instantly (or when a
test lets them), so turns can be driven fast, held open, or made to fail on purpose.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator

from handlers.providers.base import (
    LlmRequest,
    PcmChunk,
    ProviderError,
    SttRequest,
    Transcript,
    TtsRequest,
)
from handlers.providers.toolkit import NothingToClose


def heard(n_bytes: int, sample_rate: int) -> str:
    """What InstantStt answers for ``n_bytes`` of PCM16 at ``sample_rate``."""
    return f"heard {n_bytes * 1000 // (2 * sample_rate)} milliseconds"


class InstantStt(NothingToClose):
    """Reads the audio as it arrives; the transcript says how much there was."""

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        size = 0
        async for chunk in audio:
            size += len(chunk)
        return Transcript(heard(size, request.sample_rate), request.language)


def scripted_reply(user_text: str) -> str:
    """Two or three sentences, derived from what the user said."""
    count = len(user_text.split())
    sentences = [f"You said {user_text}.", f"That is {count} words!"]
    if sum(map(ord, user_text)) % 2:
        sentences.append("Anything else?")
    return " ".join(sentences)


class ScriptedLlm(NothingToClose):
    """Streams ``scripted_reply`` word by word."""

    def __init__(self) -> None:
        self.calls = 0

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.calls += 1
        reply = scripted_reply(request.messages[-1].content)
        for index, word in enumerate(reply.split(" ")):
            yield word if index == 0 else " " + word
            await asyncio.sleep(0)


class GatedLlm(ScriptedLlm):
    """ScriptedLlm that holds each reply until ``release`` is set (or ``delay`` has passed)."""

    def __init__(self, delay: float | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled = 0

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.started.set()
        try:
            if self.delay is None:
                await self.release.wait()
            else:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        async for delta in super().respond(request):
            yield delta


def tone(n_samples: int, rate: int, freq: float = 440.0, start: int = 0) -> bytes:
    samples = (
        int(8000 * math.sin(2 * math.pi * freq * (start + i) / rate)) for i in range(n_samples)
    )
    return struct.pack(f"<{n_samples}h", *samples)


class ChunkTts(NothingToClose):
    """A few chunks of tone per text: 40 ms per word, in 3 chunks, at ``rate``."""

    def __init__(self, rate: int = 16_000) -> None:
        self.rate = rate

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        total = max(1, len(text.split())) * self.rate * 40 // 1000
        step = -(-total // 3)
        for start in range(0, total, step):
            yield PcmChunk(tone(min(step, total - start), self.rate, start=start), self.rate)
            await asyncio.sleep(0)


class FailingStt(NothingToClose):
    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        raise ProviderError("the fake recogniser is down")


class FailingLlm(NothingToClose):
    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        raise ProviderError("the fake language model is down")
        yield ""  # an async generator, like the real providers


class FailingTts(NothingToClose):
    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        raise ProviderError("the fake speech engine is down")
        yield PcmChunk(b"", request.sample_rate)  # an async generator, like the real providers


class HeldLlm(ScriptedLlm):
    """ScriptedLlm that writes the first sentence of each reply, then waits for ``go``.

    It counts its streams: ``opened``, ``closed`` (the generator's ``finally`` ran: it was
    closed or ran out) and ``finished`` (ran to its end); ``requests`` keeps what it was asked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.requests: list[LlmRequest] = []
        self.opened = self.closed = self.finished = 0

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        self.opened += 1
        try:
            first, _, rest = scripted_reply(request.messages[-1].content).partition(". ")
            yield first + "."
            await self.go.wait()
            yield " " + rest
            self.finished += 1
        finally:
            self.closed += 1


class CountedTts(ChunkTts):
    """ChunkTts that counts its streams: ``opened``, ``closed`` and ``finished`` (as HeldLlm)."""

    def __init__(self, rate: int = 16_000) -> None:
        super().__init__(rate)
        self.opened = self.closed = self.finished = 0

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        self.opened += 1
        try:
            async for chunk in super().synthesize(text, request):
                yield chunk
            self.finished += 1
        finally:
            self.closed += 1
