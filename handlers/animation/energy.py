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
    frames = samples[: count * frame].reshape(count, frame).astype(np.float32)
    # float32 sums of squares (exact to ~1e-7 relative): 70x faster than float64 means, so a
    # reply's energies cost tens of microseconds per second of audio, on the event loop.
    power = np.einsum("ij,ij->i", frames, frames).astype(np.float64) / max(frame, 1)
    rms: npt.NDArray[np.float64] = np.sqrt(power) / 32768.0
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
    return silent_runs_of(voiced_frames(frame_rms(pcm16, sample_rate, frame_ms)), min_ms, frame_ms)


def silent_runs_of(
    voiced: npt.NDArray[np.bool_], min_ms: int = 30, frame_ms: int = FRAME_MS
) -> list[tuple[float, float]]:
    """``silent_runs`` of frames already classified by ``voiced_frames``."""
    # Edges of the silent runs: +1 where one starts, -1 just after one ends.
    silent = np.concatenate(([0], (~voiced).astype(np.int8), [0]))
    edges = np.diff(silent)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_enough = (ends - starts) * frame_ms >= min_ms
    return [
        (float(start * frame_ms), float(end * frame_ms))
        for start, end in zip(starts[long_enough].tolist(), ends[long_enough].tolist(), strict=True)
    ]


class FrameEnergy:
    """``frame_rms`` of audio that arrives in pieces, each frame computed once."""

    def __init__(self, sample_rate: int, frame_ms: int = FRAME_MS) -> None:
        self.sample_rate = sample_rate
        self._frame_bytes = 2 * (sample_rate * frame_ms // 1000)
        self._pending = bytearray()
        self._parts: list[npt.NDArray[np.float64]] = []
        self._rms: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self._received = 0

    @property
    def samples(self) -> int:
        """Samples received so far (whole frames or not)."""
        return self._received // 2

    def extend(self, pcm16: bytes) -> None:
        self._received += len(pcm16)
        self._pending += pcm16
        whole = len(self._pending) - len(self._pending) % self._frame_bytes
        if whole:
            self._parts.append(frame_rms(bytes(self._pending[:whole]), self.sample_rate))
            del self._pending[:whole]

    @property
    def rms(self) -> npt.NDArray[np.float64]:
        """RMS of each whole frame so far."""
        if self._parts:
            self._rms = np.concatenate([self._rms, *self._parts])
            self._parts.clear()
        return self._rms


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
