"""The local voice's visemes and words, from espeak-ng's own events, agree with its audio."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from generated.models import TimingSource, TtsLocalModel, Viseme
from handlers.animation.espeak import EspeakTimingCapture
from handlers.animation.reference import espeak_timed
from handlers.providers.base import TtsRequest
from handlers.providers.tts.local import CHUNK_SECONDS, LocalTextToSpeech
from tests.animation.conftest import Reply
from tests.animation.helpers import chunks, cut, frame_agreement

OUTPUT_RATE = 24000


def delta_sizes(reply: Reply, rate: int) -> list[int]:
    """The local TTS's 150 ms chunks, counted at ``rate`` (the session's output rate)."""
    native = chunks(len(reply.pcm) // 2, round(reply.sample_rate * CHUNK_SECONDS))
    return [round(n * rate / reply.sample_rate) for n in native]


@pytest.mark.parametrize("rate", [22050, OUTPUT_RATE, 16000])
def test_visemes_agree_with_the_audio_in_90_percent_of_frames(
    local_replies: list[Reply], rate: int
) -> None:
    agree = frames = voiced_open = voiced = 0
    for reply in local_replies:
        sizes = delta_sizes(reply, rate)
        a, f, vo, v = frame_agreement(
            reply.pcm, reply.sample_rate, cut(reply.timeline, sizes, rate), sizes, rate
        )
        assert a / f >= 0.85, reply.text  # no single reply far off
        agree, frames, voiced_open, voiced = agree + a, frames + f, voiced_open + vo, voiced + v
    assert frames > 1000  # several seconds of speech were judged
    assert agree / frames >= 0.90
    # Silence is closed from the audio; an open mouth where there is sound comes from the events.
    assert voiced_open / voiced >= 0.95


def test_offsets_lie_inside_each_delta_and_increase(local_replies: list[Reply]) -> None:
    for reply in local_replies:
        sizes = delta_sizes(reply, OUTPUT_RATE)
        deltas = cut(reply.timeline, sizes, OUTPUT_RATE)
        for n, delta in zip(sizes, deltas, strict=True):
            length_ms = n * 1000 / OUTPUT_RATE
            offsets = [m.offset_ms for m in delta.visemes]
            assert offsets and offsets[0] == 0  # each delta says the shape it starts in
            assert offsets == sorted(set(offsets))
            assert all(0 <= o < length_ms for o in offsets)
            shapes = [m.id for m in delta.visemes]
            assert all(a != b for a, b in itertools.pairwise(shapes))
            for word in delta.words:
                assert 0 <= word.offset_ms < length_ms
                assert word.offset_ms + word.duration_ms <= length_ms + 1
            assert delta.source is TimingSource.PROVIDER


def test_the_words_joined_are_the_text_and_in_order(local_replies: list[Reply]) -> None:
    for reply in local_replies:
        words = reply.timeline.words
        assert "".join(w.text for w in words) == reply.text
        assert len(words) == len(reply.text.split())
        starts = [w.start_ms for w in words]
        assert starts == sorted(starts)
        assert all(w.start_ms <= w.end_ms <= reply.timeline.duration_ms for w in words)
        assert all(a.end_ms <= b.start_ms for a, b in itertools.pairwise(words))
        # Across deltas, each word is counted once where it starts.
        sizes = delta_sizes(reply, OUTPUT_RATE)
        joined = ""
        for delta in cut(reply.timeline, sizes, OUTPUT_RATE):
            kept = delta.words[1:] if delta.continued_word else delta.words
            joined += "".join(w.text for w in kept)
        assert joined == reply.text


def test_every_viseme_the_voice_uses_is_known(local_replies: list[Reply]) -> None:
    used = {m.viseme for reply in local_replies for m in reply.timeline.visemes}
    assert Viseme.SIL in used
    assert len(used) >= 12  # the replies are ordinary English: most mouth shapes occur


def test_the_timeline_covers_the_audio(local_replies: list[Reply]) -> None:
    for reply in local_replies:
        duration = len(reply.pcm) / 2 * 1000 / reply.sample_rate
        assert reply.timeline.duration_ms == pytest.approx(duration, abs=1)
        assert reply.timeline.visemes[-1].viseme is Viseme.SIL
        times = [m.at_ms for m in reply.timeline.visemes]
        assert times == sorted(set(times))


def test_a_capture_without_events_has_no_words_and_rests() -> None:
    capture = EspeakTimingCapture("hello", 22050)
    capture.feed(None, b"\0\0" * 2205)
    timeline = capture.timeline()
    assert timeline.words == ()
    assert [m.viseme for m in timeline.visemes] == [Viseme.SIL]
    assert timeline.duration_ms == pytest.approx(100)


async def test_the_local_tts_still_speaks_after_a_timed_synthesis(
    local_replies: list[Reply],
) -> None:
    # The timed synthesis swaps espeak-ng's callback for its run: the engine's must be back.
    assert local_replies
    tts = LocalTextToSpeech.from_env({})
    request = TtsRequest(
        model=TtsLocalModel.ESPEAK_NG.value,
        voice="en-us",
        language="en-US",
        ssml_gender="unspecified",
        speed=1.0,
        sample_rate=OUTPUT_RATE,
    )
    audio = b"".join([chunk.pcm async for chunk in tts.synthesize("Still speaking.", request)])
    assert len(audio) > tts.sample_rate  # over half a second of PCM16


@pytest.mark.parametrize(
    ("voice", "words_per_minute"),
    [("en", 175), ("en-US+f3", 175), ("en-GB-scotland", 120), ("en-US", 350)],
)
def test_other_voices_and_rates_agree_too(voice: str, words_per_minute: int) -> None:
    text = "Please tell me about the weather in the city today, and whether it will rain."
    pcm, rate, timeline = asyncio.run(espeak_timed(text, voice, words_per_minute))
    sizes = chunks(len(pcm) // 2, round(rate * CHUNK_SECONDS))
    agree, frames, voiced_open, voiced = frame_agreement(
        pcm, rate, cut(timeline, sizes, rate), sizes, rate
    )
    assert agree / frames >= 0.90
    assert voiced_open / voiced >= 0.95
    assert "".join(w.text for w in timeline.words) == text
