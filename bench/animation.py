"""``python -m bench.animation [--quick]``: lip-sync figures.

* visemes per second of speech (how often the mouth changes shape), for the local voice's exact
  timings and for the estimate on the Piper recordings;
* agreement with audio energy: the share of 10 ms frames where the mouth rests exactly when the
  audio is silent, judged per 150 ms delta on that delta's clock;
* what timings cost the local TTS: time to first audio with and without espeak-ng's phoneme
  events captured (target: under 5 ms more), and the whole synthesis's extra time (reading the
  events and building the reply's timeline included).

The estimate's own cost (an espeak-ng synthesis of the sentence plus the fit) is printed too: for
a provider without timings it is work beside the provider's synthesis, not on its first audio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import wave
from collections.abc import Callable
from typing import Any

from generated.models import Viseme
from handlers.animation.energy import FRAME_MS, frame_rms, voiced_frames
from handlers.animation.estimate import estimate_timeline
from handlers.animation.reference import TimedAudio, synthesize_on_espeak_thread
from handlers.animation.timeline import DeltaAligner, DeltaTimings, Timeline
from tests.data import SPEECH_DIR

DELTA_SECONDS = 0.15
EXTRA_TEXTS = (
    "Hello, how are you? I cannot see the sky from here; what would you like it to be?",
    "The museum opens at nine in the morning and closes at six, except on public holidays.",
)


def texts_and_recordings() -> tuple[list[str], list[tuple[str, bytes, int]]]:
    manifest: list[dict[str, Any]] = json.loads((SPEECH_DIR / "manifest.json").read_text())
    recordings = []
    for entry in manifest:
        with wave.open(str(SPEECH_DIR / entry["file"])) as wav:
            recordings.append((entry["text"], wav.readframes(wav.getnframes()), wav.getframerate()))
    return [entry["text"] for entry in manifest] + list(EXTRA_TEXTS), recordings


def synth(text: str, *, timings: bool) -> TimedAudio:
    return synthesize_on_espeak_thread(text, timings=timings).result()


def judge(timeline: Timeline, pcm: bytes, rate: int) -> tuple[int, int, int, float]:
    """(agreeing frames, frames, shape changes, seconds of speech) with 150 ms deltas."""
    voiced = voiced_frames(frame_rms(pcm, rate)).tolist()
    size = round(rate * DELTA_SECONDS)
    aligner = DeltaAligner()
    aligner.append(timeline)
    deltas: list[tuple[float, DeltaTimings]] = []
    for start in range(0, len(pcm) // 2, size):
        n = min(size, len(pcm) // 2 - start)
        deltas.append((start * 1000 / rate, aligner.take(n, rate)))
    agree, index = 0, 0
    for frame, sound in enumerate(voiced):
        middle = (frame + 0.5) * FRAME_MS
        while index + 1 < len(deltas) and deltas[index + 1][0] <= middle:
            index += 1
        start_ms, delta = deltas[index]
        shape = Viseme.SIL
        for mark in delta.visemes:
            if mark.offset_ms > middle - start_ms:
                break
            shape = mark.id
        agree += (shape != Viseme.SIL) == sound
    changes = sum(1 for m in timeline.visemes if m.viseme != Viseme.SIL)
    return agree, len(voiced), changes, sum(voiced) * FRAME_MS / 1000


def summarise(rows: list[tuple[int, int, int, float]]) -> tuple[float, float]:
    agree = sum(r[0] for r in rows) / sum(r[1] for r in rows)
    per_second = sum(r[2] for r in rows) / sum(r[3] for r in rows)
    return per_second, agree


def first_audio_costs(texts: list[str], rounds: int) -> dict[str, float]:
    plain_first: list[float] = []
    timed_first: list[float] = []
    plain_total: list[float] = []
    timed_total: list[float] = []
    for _ in range(rounds):
        for text in texts:
            # Alternate, so drift in the machine's load hits both alike.
            for timings, firsts, totals in (
                (False, plain_first, plain_total),
                (True, timed_first, timed_total),
            ):
                began = time.perf_counter()
                result = synth(text, timings=timings)
                ended = time.perf_counter()
                assert result.first_audio_at is not None
                firsts.append((result.first_audio_at - result.started_at) * 1000)
                totals.append((ended - began) * 1000)
    return {
        "first_audio_ms_without": statistics.median(plain_first),
        "first_audio_ms_with": statistics.median(timed_first),
        "first_audio_extra_ms": statistics.median(timed_first) - statistics.median(plain_first),
        "synthesis_extra_ms": statistics.median(timed_total) - statistics.median(plain_total),
    }


def run(quick: bool, log: Callable[[str], None] = print) -> dict[str, float]:
    texts, recordings = texts_and_recordings()
    local_rows = []
    for text in texts:
        result = synth(text, timings=True)
        assert result.timeline is not None
        local_rows.append(judge(result.timeline, result.pcm, result.sample_rate))
    local_vps, local_agree = summarise(local_rows)

    estimated_rows, estimate_ms = [], []
    for text, pcm, rate in recordings:
        began = time.perf_counter()
        reference = synth(text, timings=True).timeline
        assert reference is not None
        timeline = estimate_timeline(reference, pcm, rate)
        estimate_ms.append((time.perf_counter() - began) * 1000)
        estimated_rows.append(judge(timeline, pcm, rate))
    estimated_vps, estimated_agree = summarise(estimated_rows)

    costs = first_audio_costs(texts, 3 if quick else 15)
    figures = {
        "local_visemes_per_second": local_vps,
        "local_agreement_percent": 100 * local_agree,
        "estimated_visemes_per_second": estimated_vps,
        "estimated_agreement_percent": 100 * estimated_agree,
        "estimate_ms_per_sentence": statistics.median(estimate_ms),
        **costs,
    }
    log(
        f"local (espeak-ng events): {local_vps:.1f} visemes/s of speech, "
        f"{100 * local_agree:.1f}% of 10 ms frames agree with audio energy"
    )
    log(
        f"estimated (Piper recordings): {estimated_vps:.1f} visemes/s, "
        f"{100 * estimated_agree:.1f}% agree; {figures['estimate_ms_per_sentence']:.1f} ms "
        "per sentence (espeak-ng reference + fit, beside the provider's synthesis)"
    )
    log(
        f"local TTS first audio: {costs['first_audio_ms_without']:.2f} ms without timings, "
        f"{costs['first_audio_ms_with']:.2f} ms with (+{costs['first_audio_extra_ms']:.2f} ms; "
        f"target < 5 ms); whole synthesis +{costs['synthesis_extra_ms']:.2f} ms"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    asyncio.run(asyncio.to_thread(run, args.quick))


if __name__ == "__main__":
    main()
