"""Estimated timings on real speech that espeak-ng did not make (the Piper fixtures)."""

from __future__ import annotations

import asyncio

from generated.models import TimingSource, Viseme
from handlers.animation.energy import agreement, frame_rms, voiced_frames
from handlers.animation.estimate import estimate_timeline
from handlers.animation.reference import espeak_timed, estimate_for_audio
from handlers.animation.timeline import Timeline
from tests.animation.conftest import Recording
from tests.animation.helpers import chunks, cut, frame_agreement


def spoken(timeline: Timeline) -> list[Viseme]:
    """The shapes other than silence, a shape held across a pause counted once."""
    out: list[Viseme] = []
    for mark in timeline.visemes:
        if mark.viseme != Viseme.SIL and (not out or out[-1] != mark.viseme):
            out.append(mark.viseme)
    return out


def estimate(recording: Recording) -> Timeline:
    return asyncio.run(estimate_for_audio(recording.text, recording.pcm, recording.sample_rate))


def test_estimated_visemes_agree_with_the_audio_energy(recordings: list[Recording]) -> None:
    agree = frames = voiced_open = voiced = 0
    for recording in recordings:
        timeline = estimate(recording)
        assert timeline.source is TimingSource.ESTIMATED
        sizes = chunks(len(recording.pcm) // 2, recording.sample_rate // 10)  # 100 ms deltas
        deltas = cut(timeline, sizes, recording.sample_rate)
        a, f, vo, v = frame_agreement(
            recording.pcm, recording.sample_rate, deltas, sizes, recording.sample_rate
        )
        agree, frames, voiced_open, voiced = agree + a, frames + f, voiced_open + vo, voiced + v
    assert frames > 1000
    assert agree / frames >= 0.90
    assert voiced_open / voiced >= 0.90


def test_the_estimate_keeps_espeaks_shapes_in_order_and_the_words(
    recordings: list[Recording],
) -> None:
    for recording in recordings:
        _, _, reference = asyncio.run(espeak_timed(recording.text))
        timeline = estimate_timeline(reference, recording.pcm, recording.sample_rate)
        # Its mouth shapes (pauses aside) are a subsequence of espeak-ng's: nothing invented.
        shapes = spoken(timeline)
        expected = iter(spoken(reference))
        assert len(shapes) >= len(spoken(reference)) // 2
        assert all(shape in expected for shape in shapes)
        assert "".join(w.text for w in timeline.words) == recording.text
        # The words lie where the recording speaks (0.25 s of silence around the words).
        voiced = voiced_frames(frame_rms(recording.pcm, recording.sample_rate)).tolist()
        first, last = voiced.index(True) * 10, (len(voiced) - voiced[::-1].index(True)) * 10
        assert timeline.words[0].start_ms >= first - 10
        assert timeline.words[-1].end_ms <= last + 10
        assert timeline.duration_ms == len(recording.pcm) / 2 * 1000 / recording.sample_rate


def test_the_estimate_beats_espeaks_own_clock_on_the_recording(
    recordings: list[Recording],
) -> None:
    # Without fitting, espeak-ng's marks placed on the recording as they are agree much less:
    # the fit is doing the work, not the energy test's leniency.
    fitted = raw = 0.0
    for recording in recordings:
        _, _, reference = asyncio.run(espeak_timed(recording.text))
        fitted += agreement(
            estimate_timeline(reference, recording.pcm, recording.sample_rate),
            recording.pcm,
            recording.sample_rate,
        )
        raw += agreement(reference, recording.pcm, recording.sample_rate)
    assert fitted > raw + 0.1 * len(recordings)


def test_silence_gets_a_resting_mouth_and_no_words_move() -> None:
    silence = b"\0\0" * 16000
    reference = Timeline((), (), 0.0, TimingSource.PROVIDER)
    timeline = estimate_timeline(reference, silence, 16000)
    assert [m.viseme for m in timeline.visemes] == [Viseme.SIL]
    assert timeline.duration_ms == 1000
