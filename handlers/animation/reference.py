"""espeak-ng syntheses with timings, run on the local TTS's one espeak-ng thread.

The library keeps global state, so every call into it must run on the thread of
``handlers.providers.tts.local``'s engine; :func:`espeak_timed` queues its job there (behind any
local synthesis in progress) and awaits it, never blocking the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from handlers.animation.espeak import TimedSynthesis
from handlers.animation.estimate import estimate_timeline
from handlers.animation.timeline import Timeline
from handlers.providers.tts.local import NORMAL_WORDS_PER_MINUTE, VOICES, _shared_engine

REFERENCE_VOICE = VOICES["en-us"]

_synthesis: TimedSynthesis | None = None  # created and used on the espeak-ng thread only


def _on_espeak_thread(
    text: str, voice: str, words_per_minute: int, timings: bool
) -> concurrent.futures.Future[tuple[bytes, int, Timeline | None]]:
    engine = _shared_engine()
    done: concurrent.futures.Future[tuple[bytes, int, Timeline | None]] = (
        concurrent.futures.Future()
    )

    def job() -> None:
        global _synthesis
        if not done.set_running_or_notify_cancel():
            return
        try:
            if _synthesis is None:
                _synthesis = TimedSynthesis()
            # The engine's callback goes back in after the synthesis (see TimedSynthesis.run).
            pcm, timeline = _synthesis.run(
                text,
                voice,
                words_per_minute,
                engine.sample_rate,
                engine._callback,
                timings=timings,
            )
            done.set_result((pcm, engine.sample_rate, timeline))
        except BaseException as exc:
            done.set_exception(exc)

    engine.submit(job)
    return done


async def espeak_timed(
    text: str,
    voice: str = REFERENCE_VOICE,
    words_per_minute: int = NORMAL_WORDS_PER_MINUTE,
) -> tuple[bytes, int, Timeline]:
    """espeak-ng's audio for ``text`` (PCM16), its sample rate and its exact timeline."""
    pcm, rate, timeline = await asyncio.wrap_future(
        _on_espeak_thread(text, voice, words_per_minute, True)
    )
    assert timeline is not None  # asked for
    return pcm, rate, timeline


async def estimate_for_audio(text: str, pcm16: bytes, sample_rate: int) -> Timeline:
    """Estimated timings for a provider's ``pcm16`` speaking ``text`` (one sentence or chunk)."""
    _, _, reference = await espeak_timed(text)
    return await asyncio.to_thread(estimate_timeline, reference, pcm16, sample_rate)
