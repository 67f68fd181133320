"""Checks shared by the animation tests: a delta's marks against the audio it was cut from."""

from __future__ import annotations

from generated.models import Viseme
from handlers.animation.energy import FRAME_MS, frame_rms, voiced_frames
from handlers.animation.timeline import DeltaAligner, DeltaTimings, Timeline


def cut(timeline: Timeline, delta_samples: list[int], rate: int) -> list[DeltaTimings]:
    aligner = DeltaAligner()
    aligner.append(timeline)
    return [aligner.take(n, rate) for n in delta_samples]


def chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def shape_at(delta: DeltaTimings, offset_ms: float) -> Viseme:
    current = Viseme.SIL
    for mark in delta.visemes:
        if mark.offset_ms > offset_ms:
            break
        current = mark.id
    return current


def frame_agreement(
    pcm: bytes, rate: int, deltas: list[DeltaTimings], delta_samples: list[int], delta_rate: int
) -> tuple[int, int, int, int]:
    """Frames of the reply judged against the delta they fall in, on that delta's clock.

    Returns (agreeing frames, frames, voiced frames with a non-sil shape, voiced frames).
    """
    voiced = voiced_frames(frame_rms(pcm, rate)).tolist()
    starts, at = [], 0.0
    for n in delta_samples:
        starts.append(at)
        at += n * 1000 / delta_rate
    agree = voiced_open = voiced_count = 0
    index = 0
    for frame, sound in enumerate(voiced):
        middle = (frame + 0.5) * FRAME_MS
        while index + 1 < len(starts) and starts[index + 1] <= middle:
            index += 1
        shape = shape_at(deltas[index], middle - starts[index])
        agree += (shape != Viseme.SIL) == sound
        if sound:
            voiced_count += 1
            voiced_open += shape != Viseme.SIL
    return agree, len(voiced), voiced_open, voiced_count
