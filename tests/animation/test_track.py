"""ReplyTimings, the pipeline's hook: which marks each delta gets, under the session's flags."""

from __future__ import annotations

import pytest

from generated.models import Animation, TimingSource, TtsResponseType, Viseme
from handlers.animation import reference
from handlers.animation.espeak import TimedSynthesis
from handlers.animation.timeline import Timeline, VisemeAt, WordSpan
from handlers.animation.track import NO_FIELDS, DeltaFields, ReplyTimings
from handlers.providers.base import PcmChunk
from tests.animation.conftest import Recording

RATE = 16_000
HELLO = Timeline(
    (VisemeAt(0, Viseme.SIL), VisemeAt(20, Viseme.KK), VisemeAt(300, Viseme.SIL)),
    (WordSpan("Hello.", 20, 300),),
    310,  # a provider's last mark a little past its audio: the audio's length wins
    TimingSource.PROVIDER,
)


def chunks(ms: int, timeline: Timeline | None) -> list[PcmChunk]:
    half = bytes(2 * RATE * ms // 2000)
    return [PcmChunk(half, RATE), PcmChunk(half, RATE, timeline)]


async def test_with_both_flags_off_nothing_is_asked_or_sent() -> None:
    timings = ReplyTimings(Animation(visemes=False, words=False), "local", 1.0)

    async with timings.stretch("Hello.") as stretch:
        await stretch.add_clip(chunks(300, HELLO))

    assert timings.wanted(TtsResponseType.STREAM) == "none"
    assert timings.take(300 * 24, 24_000) == NO_FIELDS
    assert timings.word_spans == ()


async def test_clips_follow_one_another_on_the_response_clock() -> None:
    timings = ReplyTimings(Animation(visemes=True, words=False), "local", 1.0)
    assert timings.wanted(TtsResponseType.CHAIN) == "final"
    assert timings.wanted(TtsResponseType.STREAM) == "each_chunk"

    for _ in range(2):
        async with timings.stretch("Hello.") as stretch:
            await stretch.add_clip(chunks(300, HELLO))
    first = timings.take(300 * 24, 24_000)
    second = timings.take(300 * 24, 24_000)

    for visemes, words, source in (first, second):
        assert visemes is not None
        # The closing sil falls at the clip's end, so it opens the next delta instead.
        assert [(m.offset_ms, m.id) for m in visemes] == [(0, Viseme.SIL), (20, Viseme.KK)]
        assert words is None  # words are off
        assert source is TimingSource.PROVIDER
    # The second clip starts where the first one's audio ended (300 ms), not at its last mark;
    # the first clip's last word runs up to it (the space between the sentences).
    spans = [(w.text, w.start_ms) for w in timings.word_spans]
    assert spans == [("Hello. ", 20), ("Hello.", 320)]


async def estimate_whole_recording(recording: Recording) -> DeltaFields:
    """A voice without timings (as OpenAI's) speaking ``recording``: the one delta's fields."""
    timings = ReplyTimings(Animation(visemes=True, words=True), "openai", 1.0)
    async with timings.stretch(recording.text) as stretch:
        await stretch.add_clip([PcmChunk(recording.pcm, recording.sample_rate)])
    return timings.take(len(recording.pcm) // 2, recording.sample_rate)


async def test_an_estimate_costs_no_espeak_synthesis(
    monkeypatch: pytest.MonkeyPatch, recordings: list[Recording]
) -> None:
    def no_synthesis(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a synthesis was asked for")

    monkeypatch.setattr(TimedSynthesis, "run", no_synthesis)
    visemes, words, source = await estimate_whole_recording(recordings[0])
    assert source is TimingSource.ESTIMATED
    assert words is not None and "".join(w.text for w in words) == recordings[0].text
    assert visemes is not None and any(mark.id != Viseme.SIL for mark in visemes)

    # The former reference (a whole synthesis) is still there to choose; here it fails, and the
    # reply goes on with a resting mouth.
    monkeypatch.setattr(reference, "REFERENCE_METHOD", "synthesis")
    visemes, words, source = await estimate_whole_recording(recordings[0])
    assert visemes is not None and all(mark.id == Viseme.SIL for mark in visemes)
    assert not words
