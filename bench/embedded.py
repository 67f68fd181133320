"""The embedded stack: the offline ``local`` providers (pocketsphinx, the demo responder,
espeak-ng) on real speech from tests/data/speech/, streamed in real time in 20 ms chunks.

Reports commit -> `request.transcribe.done` and commit -> first `response.audio.delta`, p50 and
p95, over every file and for the ~2 s utterance the target names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import JSON, REPO_ROOT, Cpus, in_process, percentile, running_server
from bench.loadgen import SAMPLE_RATE, TurnsSpec, turns_load
from handlers.audio import parse_wav, resample_pcm16

AUDIO_DIR_ENV = "METAHUMAN_BENCH_AUDIO"
TWO_SECOND_FILE = "what_is_the_weather_like_today.wav"
TARGET_FIRST_AUDIO_MS = 250.0


def audio_dir() -> Path:
    return Path(os.environ.get(AUDIO_DIR_ENV, REPO_ROOT / "tests" / "data" / "speech"))


def load_utterances(directory: Path) -> tuple[tuple[str, bytes], ...]:
    manifest = json.loads((directory / "manifest.json").read_text())
    utterances = []
    for entry in manifest:
        pcm, rate = parse_wav((directory / entry["file"]).read_bytes())
        utterances.append((str(entry["file"]), resample_pcm16(pcm, rate, SAMPLE_RATE)))
    return tuple(utterances)


@dataclass(frozen=True, slots=True)
class Plan:
    modes: tuple[str, ...] = ("chain", "stream")
    rounds: int = 3
    """Each file is spoken this many times per mode."""

    @classmethod
    def quick(cls) -> Plan:
        return cls(modes=("chain",), rounds=1)


def _of(turns: list[JSON], label: str, key: str) -> list[float]:
    return [t[key] for t in turns if t["label"] == label and t[key] is not None]


def _stats(values: list[float]) -> JSON:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1) if values else None,
        "p95": round(percentile(values, 95), 1) if values else None,
    }


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    directory = audio_dir()
    if not (directory / "manifest.json").exists():
        log(f"  skipped: no speech fixtures at {directory} (set {AUDIO_DIR_ENV})")
        return {"skipped": f"no speech fixtures at {directory}"}
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    utterances = load_utterances(directory)
    seconds = {label: len(pcm) / 2 / SAMPLE_RATE for label, pcm in utterances}
    rows: list[JSON] = []
    for mode in plan.modes:
        async with running_server("app", "local", cpus.server) as server:
            spec = TurnsSpec(
                url=server.url,
                sessions=1,
                turns=plan.rounds * len(utterances),
                utterances=utterances,
                mode=mode,
                stagger_s=0.0,
                pause_s=0.3,
                session_prefix=f"embedded-{mode}",
            )
            result: JSON = await in_process(cpus.client, turns_load, spec)
        turns = result["turns"]
        transcript = [t["transcript_ms"] for t in turns if t["transcript_ms"] is not None]
        first_audio = [t["first_audio_ms"] for t in turns if t["first_audio_ms"] is not None]
        two_second = [
            t["first_audio_ms"]
            for t in turns
            if t["label"] == TWO_SECOND_FILE and t["first_audio_ms"] is not None
        ]
        per_file: dict[str, JSON] = {
            label: {
                "seconds": round(seconds[label], 2),
                "transcripts": sorted({str(t["transcript"]) for t in turns if t["label"] == label}),
                "commit_to_transcript_ms": _stats(_of(turns, label, "transcript_ms")),
                "commit_to_first_audio_ms": _stats(_of(turns, label, "first_audio_ms")),
            }
            for label, _ in utterances
        }
        row: JSON = {
            "mode": mode,
            "turns": len(turns),
            "commit_to_transcript_ms": _stats(transcript),
            "commit_to_first_audio_ms": _stats(first_audio),
            "two_second_utterance_first_audio_ms": _stats(two_second),
            "per_file": per_file,
            "errors": result["errors"],
        }
        rows.append(row)
        transcript_ms, audio_ms = row["commit_to_transcript_ms"], row["commit_to_first_audio_ms"]
        log(
            f"  {mode:6} commit->transcript p50 {transcript_ms['p50']} p95 {transcript_ms['p95']}"
            f" ms; commit->first audio p50 {audio_ms['p50']} p95 {audio_ms['p95']} ms"
            f" (2 s utterance p95 {row['two_second_utterance_first_audio_ms']['p95']} ms)"
        )
        for label, figures in per_file.items():
            log(
                f"    {label:38} {figures['seconds']:.2f} s  transcript"
                f" p50 {figures['commit_to_transcript_ms']['p50']} ms  first audio"
                f" p50 {figures['commit_to_first_audio_ms']['p50']} ms  heard"
                f" {figures['transcripts']}"
            )
    return {
        "audio_dir": str(directory),
        "target": f"commit -> first audio < {TARGET_FIRST_AUDIO_MS:g} ms for a 2 s utterance",
        "pinning": cpus.describe(),
        "rows": rows,
    }
