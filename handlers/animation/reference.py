"""espeak-ng syntheses with timings, run on the local TTS's one espeak-ng thread.

The library keeps global state, so every call into it must run on the thread of
``handlers.providers.tts.local``'s engine; :func:`espeak_timed` queues its job there (behind any
local synthesis in progress) and awaits it, never blocking the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from time import perf_counter

from handlers.animation.espeak import TimedSynthesis
from handlers.animation.estimate import estimate_timeline
from handlers.animation.timeline import Timeline
from handlers.providers.tts.local import NORMAL_WORDS_PER_MINUTE, VOICES, shared_engine

REFERENCE_VOICE = VOICES["en-us"]

_synthesis: TimedSynthesis | None = None  # created and used on the espeak-ng thread only


@dataclass(frozen=True, slots=True)
class TimedAudio:
    pcm: bytes
    """PCM16 mono at ``sample_rate``."""
    sample_rate: int
    timeline: Timeline | None
    started_at: float
    """perf_counter() when the synthesis started on the espeak-ng thread."""
    first_audio_at: float | None
    """perf_counter() when its first audio buffer came out."""


def synthesize_on_espeak_thread(
    text: str,
    voice: str = REFERENCE_VOICE,
    words_per_minute: int = NORMAL_WORDS_PER_MINUTE,
    *,
    timings: bool = True,
) -> concurrent.futures.Future[TimedAudio]:
    """Queue one synthesis on the local engine's thread; its future resolves when it is done."""
    engine = shared_engine()
    done: concurrent.futures.Future[TimedAudio] = concurrent.futures.Future()

    def job() -> None:
        global _synthesis
        if not done.set_running_or_notify_cancel():
            return
        try:
            if _synthesis is None:
                _synthesis = TimedSynthesis()
            started_at = perf_counter()
            # The engine's callback goes back in after the synthesis (see TimedSynthesis.run).
            pcm, timeline = _synthesis.run(
                text,
                voice,
                words_per_minute,
                engine.sample_rate,
                engine.callback,
                timings=timings,
            )
            done.set_result(
                TimedAudio(pcm, engine.sample_rate, timeline, started_at, _synthesis.first_audio_at)
            )
        except BaseException as exc:
            done.set_exception(exc)

    engine.thread.submit(job)
    return done


async def espeak_timed(
    text: str,
    voice: str = REFERENCE_VOICE,
    words_per_minute: int = NORMAL_WORDS_PER_MINUTE,
) -> tuple[bytes, int, Timeline]:
    """espeak-ng's audio for ``text`` (PCM16), its sample rate and its exact timeline."""
    result = await asyncio.wrap_future(synthesize_on_espeak_thread(text, voice, words_per_minute))
    if result.timeline is None:
        raise RuntimeError("espeak-ng synthesis returned no timeline")
    return result.pcm, result.sample_rate, result.timeline


async def estimate_for_audio(text: str, pcm16: bytes, sample_rate: int) -> Timeline:
    """Estimated timings for a provider's ``pcm16`` speaking ``text`` (one sentence or chunk)."""
    _, _, reference = await espeak_timed(text)
    return await asyncio.to_thread(estimate_timeline, reference, pcm16, sample_rate)
