"""Estimated timings for audio from a provider that reports none (OpenAI, Google without marks).

A reference gives each phoneme of the same text its viseme and relative duration (see
:mod:`handlers.animation.reference`: espeak-ng's transcription with typical phoneme lengths, or a
whole espeak-ng synthesis read for its phoneme events). It is then fitted onto the real audio:
its speech (first sound to last) is stretched linearly over the real audio's speech, found by
energy, and the mouth rests wherever the real audio is silent. Call it per sentence or per chunk
of text with that text's audio, so the stretch stays local.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from generated.models import TimingSource, Viseme
from handlers.animation.energy import (
    FRAME_MS,
    close_mouth_in_silence,
    frame_rms,
    silent_runs_of,
    voiced_frames,
)
from handlers.animation.timeline import Timeline, VisemeAt, WordSpan, samples_to_ms

FrameRms = npt.NDArray[np.float64]
"""``frame_rms`` of the audio: what the fits read of it, computed once per frame by the caller."""


def estimate_timeline(reference: Timeline, pcm16: bytes, sample_rate: int) -> Timeline:
    """``reference``'s marks (for the same text) fitted onto ``pcm16`` (mono PCM16)."""
    duration_ms = samples_to_ms(len(pcm16) // 2, sample_rate)
    return fit_timeline(reference, frame_rms(pcm16, sample_rate), duration_ms)


def fit_timeline(reference: Timeline, rms: FrameRms, duration_ms: float) -> Timeline:
    """``estimate_timeline`` of audio whose frame energies are ``rms``."""
    voiced = voiced_frames(rms)
    speech = np.flatnonzero(voiced).tolist()
    spoken = [m for m in reference.visemes if m.viseme != Viseme.SIL]
    if not speech or not spoken:
        words = tuple(WordSpan(w.text, 0.0, 0.0) for w in reference.words)
        return Timeline((VisemeAt(0.0, Viseme.SIL),), words, duration_ms, TimingSource.ESTIMATED)
    real_start, real_end = speech[0] * FRAME_MS, (speech[-1] + 1) * FRAME_MS
    ref_start = spoken[0].at_ms
    ref_end = next(
        (m.at_ms for m in reference.visemes if m.at_ms > spoken[-1].at_ms), reference.duration_ms
    )
    scale = (real_end - real_start) / max(ref_end - ref_start, 1e-6)

    def place(at_ms: float) -> float:
        return min(duration_ms, max(0.0, real_start + (at_ms - ref_start) * scale))

    visemes = [VisemeAt(0.0, Viseme.SIL)]
    for mark in reference.visemes:
        if mark.at_ms >= ref_start:
            visemes.append(VisemeAt(place(mark.at_ms), mark.viseme))
    if visemes[-1].viseme != Viseme.SIL:
        visemes.append(VisemeAt(float(real_end), Viseme.SIL))
    words = tuple(WordSpan(w.text, place(w.start_ms), place(w.end_ms)) for w in reference.words)
    fitted = Timeline(tuple(_increasing(visemes)), words, duration_ms, TimingSource.ESTIMATED)
    return close_mouth_in_silence(fitted, silent_runs_of(voiced))


def _increasing(marks: list[VisemeAt]) -> list[VisemeAt]:
    out: list[VisemeAt] = []
    for mark in marks:
        if out and mark.at_ms <= out[-1].at_ms:
            out.pop()
        if not out or out[-1].viseme != mark.viseme:
            out.append(mark)
    return out


def estimate_prefix(reference: Timeline, pcm16: bytes, sample_rate: int) -> Timeline:
    """``reference``'s marks for the first part of the audio, while the rest is still to come.

    Streamed audio cannot be stretched to fit before its end is known, so the reference keeps
    its own pace (espeak-ng's at the request's rate) and starts where ``pcm16``'s speech
    starts; the mouth rests wherever the audio so far is silent.
    """
    duration_ms = samples_to_ms(len(pcm16) // 2, sample_rate)
    return place_prefix(reference, prefix_voicing(frame_rms(pcm16, sample_rate)), duration_ms)


Voicing = tuple[int | None, tuple[tuple[float, float], ...]]
"""What a prefix fit reads of the audio: its first voiced frame and its silent runs."""


def prefix_voicing(rms: FrameRms) -> Voicing:
    """The part of ``rms`` a prefix fit depends on: a stream refits only when this changes."""
    voiced = voiced_frames(rms)
    speech = np.flatnonzero(voiced)
    return (int(speech[0]) if speech.size else None), tuple(silent_runs_of(voiced))


def place_prefix(reference: Timeline, voicing: Voicing, duration_ms: float) -> Timeline:
    """``reference``'s marks at its own pace from the first voiced frame, the mouth resting in
    the silent runs (``voicing``)."""
    first, runs = voicing
    spoken = [m for m in reference.visemes if m.viseme != Viseme.SIL]
    if first is None or not spoken:
        words = tuple(WordSpan(w.text, 0.0, 0.0) for w in reference.words)
        return Timeline((VisemeAt(0.0, Viseme.SIL),), words, duration_ms, TimingSource.ESTIMATED)
    shift = first * FRAME_MS - spoken[0].at_ms
    placed = reference.shifted(shift)
    visemes = [VisemeAt(0.0, Viseme.SIL)] + [
        VisemeAt(max(0.0, m.at_ms), m.viseme) for m in placed.visemes if m.at_ms >= 0.0
    ]
    words = tuple(WordSpan(w.text, max(0.0, w.start_ms), max(0.0, w.end_ms)) for w in placed.words)
    fitted = Timeline(tuple(_increasing(visemes)), words, duration_ms, TimingSource.ESTIMATED)
    return close_mouth_in_silence(fitted, list(runs))
