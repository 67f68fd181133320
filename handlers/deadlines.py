"""Whole-call deadlines for the stages of a turn, and for the whole turn.

An SDK's timeout bounds each read: an upstream that drips (SSE comments, a byte a minute) or
retries a hung request three times never trips it. These bound the whole call instead, wherever
the time goes (waiting for a decoder, connecting, retrying, streaming), and turn it into a
``ProviderError``, which the pipeline reports as ``provider_error`` with the stage and provider.
Retries (``handlers.providers.retry`` and the SDKs' own) run inside the deadline: whatever
attempt is running when it passes is cancelled, and its stream closed.

The pipeline applies them in one place each: the transcript (from when the turn needs it), the
language model's stream, and each speech synthesis call (``handlers.pipeline.Reply``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

from handlers.config import ServerConfig
from handlers.providers.base import ProviderError

T = TypeVar("T")


class DeadlineExceeded(ProviderError):
    """A provider call did not finish within its stage's deadline."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not finish within its {seconds:g} s deadline", transient=True)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds each stage (and a whole turn) may take; see ServerConfig for what each bounds."""

    stt_s: float = 20.0
    llm_s: float = 60.0
    tts_s: float = 30.0
    turn_s: float = 180.0

    @classmethod
    def from_config(cls, config: ServerConfig) -> Deadlines:
        return cls(
            stt_s=config.stt_deadline_seconds,
            llm_s=config.llm_deadline_seconds,
            tts_s=config.tts_deadline_seconds,
            turn_s=config.turn_deadline_seconds,
        )


DEFAULT_DEADLINES = Deadlines()


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """``await awaitable``, cancelled after ``seconds`` with DeadlineExceeded."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError as exc:
        raise DeadlineExceeded(what, seconds) from exc


async def stream_within(
    stream: AsyncIterator[T], seconds: float, what: str
) -> AsyncGenerator[T, None]:
    """Yield from ``stream`` until ``seconds`` after the first read; then DeadlineExceeded.

    The deadline is absolute: each read waits only for what is left of it, so an upstream that
    sends keep-alives forever ends on time. No timeout spans a ``yield`` (the consumer's time
    between items counts, but the consumer is never cancelled by it). ``stream`` is closed
    however this ends.
    """
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise DeadlineExceeded(what, seconds) from exc
            yield item
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()
