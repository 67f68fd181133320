"""Where audio is silent: RMS energy in 10 ms frames, and how well a viseme track agrees with it."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from generated.models import Viseme
from handlers.animation.timeline import Timeline, VisemeAt

FRAME_MS: Final = 10
SILENCE_BELOW_PEAK_DB: Final = 40.0
"""A frame quieter than the loudest frame by this much is silent: fricatives and nasals are
20-30 dB under the vowels, the synthesisers' pauses 60 dB or more."""
SILENCE_FLOOR: Final = 30.0 / 32768
"""Below this RMS (full scale 1.0) a frame is silent whatever the peak (dither, hiss)."""


def frame_rms(pcm16: bytes, sample_rate: int, frame_ms: int = FRAME_MS) -> npt.NDArray[np.float64]:
    """RMS of each whole ``frame_ms`` frame of mono PCM16, full scale 1.0."""
    samples = np.frombuffer(pcm16[: len(pcm16) - len(pcm16) % 2], dtype="<i2")
    frame = sample_rate * frame_ms // 1000
    count = len(samples) // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame) / 32768.0
    rms: npt.NDArray[np.float64] = np.sqrt(np.mean(frames * frames, axis=1))
    return rms


def voiced_frames(rms: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """True for each frame with sound in it, relative to the clip's loudest frame."""
    if len(rms) == 0:
        return np.zeros(0, dtype=np.bool_)
    threshold = max(SILENCE_FLOOR, float(rms.max()) * 10 ** (-SILENCE_BELOW_PEAK_DB / 20))
    voiced: npt.NDArray[np.bool_] = rms > threshold
    return voiced


def viseme_frames(timeline: Timeline, count: int, frame_ms: int = FRAME_MS) -> list[Viseme]:
    """The viseme at the middle of each of ``count`` frames."""
    out: list[Viseme] = []
    marks = timeline.visemes
    index, current = 0, Viseme.SIL
    for frame in range(count):
        middle = (frame + 0.5) * frame_ms
        while index < len(marks) and marks[index].at_ms <= middle:
            current = marks[index].viseme
            index += 1
        out.append(current)
    return out


def agreement(timeline: Timeline, pcm16: bytes, sample_rate: int) -> float:
    """Share of 10 ms frames where the mouth rests (``sil``) exactly when the audio is silent."""
    voiced = voiced_frames(frame_rms(pcm16, sample_rate))
    if len(voiced) == 0:
        return 1.0
    shapes = viseme_frames(timeline, len(voiced))
    agree = sum(
        (shape != Viseme.SIL) == bool(sound) for shape, sound in zip(shapes, voiced, strict=True)
    )
    return agree / len(voiced)


def silent_runs(
    pcm16: bytes, sample_rate: int, min_ms: int = 30, frame_ms: int = FRAME_MS
) -> list[tuple[float, float]]:
    """(start, end) in ms of each run of silent frames at least ``min_ms`` long."""
    voiced = voiced_frames(frame_rms(pcm16, sample_rate, frame_ms))
    runs: list[tuple[float, float]] = []
    start: int | None = None
    for index, sound in enumerate([*voiced.tolist(), True]):
        if not sound and start is None:
            start = index
        elif sound and start is not None:
            if (index - start) * frame_ms >= min_ms:
                runs.append((start * frame_ms, index * frame_ms))
            start = None
    return runs


def close_mouth_in_silence(timeline: Timeline, runs: list[tuple[float, float]]) -> Timeline:
    """The mouth rests (``sil``) through each silent run; marks inside a run move to its end.

    A stop consonant's closure is silent and espeak-ng reports the stop at its release, and a
    provider's pauses are where its audio says, not where the estimate put them: the audio decides.
    """
    if not runs:
        return timeline
    marks: list[VisemeAt] = []
    run_index = 0
    for mark in timeline.visemes:
        while run_index < len(runs) and runs[run_index][1] <= mark.at_ms:
            start, end = runs[run_index]
            _add(marks, VisemeAt(start, Viseme.SIL))
            _add(marks, VisemeAt(end, _resumed(timeline, end)))
            run_index += 1
        if run_index < len(runs) and runs[run_index][0] <= mark.at_ms:
            continue  # inside a silent run: its end restores the shape held then
        _add(marks, mark)
    for start, end in runs[run_index:]:
        _add(marks, VisemeAt(start, Viseme.SIL))
        _add(marks, VisemeAt(end, _resumed(timeline, end)))
    return Timeline(tuple(marks), timeline.words, timeline.duration_ms, timeline.source)


RESUME_WITHIN_MS: Final = 20.0


def _resumed(timeline: Timeline, end_ms: float) -> Viseme:
    """The shape after a silent run: the next mark's if it follows within a few ms (a stop's
    release), so the mouth does not flick through the shape held before it."""
    for mark in timeline.visemes:
        if end_ms <= mark.at_ms < end_ms + RESUME_WITHIN_MS:
            return mark.viseme
        if mark.at_ms >= end_ms + RESUME_WITHIN_MS:
            break
    return timeline.viseme_at(end_ms)


def _add(marks: list[VisemeAt], mark: VisemeAt) -> None:
    """Append keeping times increasing and no shape twice in a row; a later mark at the same
    time replaces the earlier one."""
    if marks and mark.at_ms < marks[-1].at_ms:
        return
    if marks and mark.at_ms == marks[-1].at_ms:
        marks.pop()
    if not marks or marks[-1].viseme != mark.viseme:
        marks.append(mark)
