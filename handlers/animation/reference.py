"""espeak-ng's work for timings, run on the local TTS's one espeak-ng thread.

The library keeps global state, so every call into it must run on the thread of
``handlers.providers.tts.local``'s engine; :func:`espeak_timed` (a synthesis with its exact
timeline) and :func:`reference_timeline` (the marks the estimate fits onto a provider's audio)
queue their jobs there (behind any local synthesis in progress) and await them, never blocking
the event loop.

The estimate's reference is, by default (``REFERENCE_METHOD = "text"``), espeak-ng's phonemes
for the text with typical lengths (:mod:`.text_reference`: a transcription, about 0.1 ms a
sentence); ``"synthesis"`` is the former way, a whole synthesis of the text read for its
phoneme events (a few ms a sentence), kept for comparison (``bench.lipsync_reference``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from time import perf_counter
from typing import Literal

from handlers.animation.espeak import TimedSynthesis
from handlers.animation.estimate import estimate_timeline
from handlers.animation.text_reference import PhonemeTranscriber, text_timeline
from handlers.animation.timeline import Timeline
from handlers.providers.tts.local import NORMAL_WORDS_PER_MINUTE, VOICES, shared_engine

REFERENCE_VOICE = VOICES["en-us"]

ReferenceMethod = Literal["text", "synthesis"]
REFERENCE_METHOD: ReferenceMethod = "text"
"""How the estimate's reference is made: a transcription with typical phoneme lengths
(``"text"``) or a whole synthesis (``"synthesis"``)."""

_synthesis: TimedSynthesis | None = None  # created and used on the espeak-ng thread only
_transcriber: PhonemeTranscriber | None = None  # likewise


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

    def job() -> TimedAudio:
        global _synthesis
        if _synthesis is None:
            _synthesis = TimedSynthesis()
        started_at = perf_counter()
        # The engine's callback goes back in after the synthesis (see TimedSynthesis.run).
        pcm, timeline = _synthesis.run(
            text, voice, words_per_minute, engine.sample_rate, engine.callback, timings=timings
        )
        return TimedAudio(pcm, engine.sample_rate, timeline, started_at, _synthesis.first_audio_at)

    # The executor skips a job whose future was cancelled before it started.
    return engine.thread.submit(job)


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


def transcribe_on_espeak_thread(
    text: str,
    voice: str = REFERENCE_VOICE,
    words_per_minute: int = NORMAL_WORDS_PER_MINUTE,
) -> concurrent.futures.Future[Timeline]:
    """Queue the text-only reference of ``text`` on the local engine's thread."""

    def job() -> Timeline:
        global _transcriber
        if _transcriber is None:
            _transcriber = PhonemeTranscriber()
        return text_timeline(_transcriber, text, voice, words_per_minute)

    return shared_engine().thread.submit(job)


async def reference_timeline(
    text: str,
    voice: str = REFERENCE_VOICE,
    words_per_minute: int = NORMAL_WORDS_PER_MINUTE,
    method: ReferenceMethod | None = None,
) -> Timeline:
    """The marks the estimate fits onto a provider's audio of ``text`` (``REFERENCE_METHOD``'s
    unless ``method`` says)."""
    if (method or REFERENCE_METHOD) == "synthesis":
        _, _, timeline = await espeak_timed(text, voice, words_per_minute)
        return timeline
    return await asyncio.wrap_future(transcribe_on_espeak_thread(text, voice, words_per_minute))


async def estimate_for_audio(
    text: str, pcm16: bytes, sample_rate: int, method: ReferenceMethod | None = None
) -> Timeline:
    """Estimated timings for a provider's ``pcm16`` speaking ``text`` (one sentence or chunk)."""
    reference = await reference_timeline(text, method=method)
    return await asyncio.to_thread(estimate_timeline, reference, pcm16, sample_rate)


async def warm_up() -> None:
    """Start espeak-ng and load its voice and phoneme tables now, not in the first reply's lip
    sync: that first estimate costs about 10 ms more than the next ones, and so did the first
    turn of a server."""
    await estimate_for_audio("Hello there.", bytes(2 * 24000 // 2), 24000)
