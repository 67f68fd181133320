"""Test audio for VAD: the repository's speech with its true bounds, silence, low noise, blips.

Everything is float32 mono in -1..1 at 16 kHz unless a function says otherwise; ``pcm16`` turns
it into what a Sender appends.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tests.data import SPEECH_DIR

RATE = 16000
Samples = npt.NDArray[np.float32]

ACTIVE_DB = -45.0
"""A 10 ms window louder than this is speech when finding a fixture's true bounds."""


@dataclass(frozen=True)
class Speech:
    name: str
    samples: Samples
    start_ms: float
    """Where the words begin and end within ``samples`` (by level, 10 ms resolution)."""
    end_ms: float


def speech_fixtures() -> list[Speech]:
    """Every fixture in tests/data/speech, with the bounds of its words."""
    manifest = json.loads((SPEECH_DIR / "manifest.json").read_text())
    fixtures = []
    for entry in manifest:
        with wave.open(str(SPEECH_DIR / entry["file"])) as wav:
            assert wav.getframerate() == RATE and wav.getnchannels() == 1
            pcm = wav.readframes(wav.getnframes())
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        windows = samples[: samples.size // 160 * 160].reshape(-1, 160)
        levels = 10 * np.log10(np.mean(np.square(windows), axis=1) + 1e-12)
        active = np.nonzero(levels > ACTIVE_DB)[0]
        fixtures.append(
            Speech(entry["file"], samples, float(active[0] * 10), float((active[-1] + 1) * 10))
        )
    return fixtures


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def noise(seconds: float, level_db: float, seed: int) -> Samples:
    """White noise at ``level_db`` dB re full scale (RMS)."""
    rms = 10 ** (level_db / 20)
    generator = np.random.default_rng(seed)
    return (generator.standard_normal(round(seconds * RATE)) * rms).astype(np.float32)


def blip(seconds: float, level_db: float = -20.0) -> Samples:
    """A short voice-like tone burst (150 Hz with harmonics)."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    tone = tone / np.sqrt(np.mean(np.square(tone))) * 10 ** (level_db / 20)
    return np.asarray(tone, dtype=np.float32)


def pcm16(samples: Samples) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def chunks(pcm: bytes, chunk_ms: int = 20, rate: int = RATE) -> list[bytes]:
    """``pcm`` cut into the Sender's appends."""
    size = rate * chunk_ms // 1000 * 2
    return [pcm[start : start + size] for start in range(0, len(pcm), size)]


def with_echo(
    reply: Samples,
    echo_db: float,
    delay_ms: int,
    played_at_ms: int,
    person: Samples | None = None,
    person_at_s: float = 0.0,
) -> Samples:
    """What the Sender's microphone hears: low room noise, the avatar's ``reply`` ``echo_db``
    down arriving ``delay_ms`` after it was played at ``played_at_ms``, and optionally a
    ``person`` talking (at their own level) from ``person_at_s``."""
    total_s = played_at_ms / 1000 + reply.size / RATE + 2.0
    mic = noise(total_s, -60.0, seed=7)
    start = (played_at_ms + delay_ms) * RATE // 1000
    mic[start : start + reply.size] += reply * 10 ** (echo_db / 20)
    if person is not None:
        at = round(person_at_s * RATE)
        mic[at : at + person.size] += person
    return mic
