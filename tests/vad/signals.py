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


def echo_path(reply: Samples, room: bool) -> Samples:
    """``reply`` as the microphone picks it up before its gain: as sent, or through the loudspeaker
    and the room (``room_response``; the result is longer by the reverberation's tail)."""
    if not room:
        return reply
    response = room_response()
    size = reply.size + response.size - 1
    heard = np.fft.irfft(np.fft.rfft(reply, size) * np.fft.rfft(response, size), size)
    return heard.astype(np.float32)


def pcm16(samples: Samples) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def chunks(pcm: bytes, chunk_ms: int = 20, rate: int = RATE) -> list[bytes]:
    """``pcm`` cut into the Sender's appends."""
    size = rate * chunk_ms // 1000 * 2
    return [pcm[start : start + size] for start in range(0, len(pcm), size)]


ROOM_RT60_S = 0.25
"""Reverberation time of ``room_response``: a small furnished room."""
DIRECT_TO_REVERBERANT_DB = -3.0
"""The room's reverberation a little louder than the direct sound (a loudspeaker a metre or two
from the microphone)."""
LOUDSPEAKER_BAND_HZ = (250.0, 5000.0)
"""A small loudspeaker's band (the kiosk's or a laptop's): little bass, soft highs."""


def room_response(seed: int = 3, rt60_s: float = ROOM_RT60_S, rate: int = RATE) -> Samples:
    """A synthetic echo path: the direct sound, then exponentially decaying noise (the room's
    reverberation: -60 dB after ``rt60_s``, ``DIRECT_TO_REVERBERANT_DB``), band-limited like a
    small loudspeaker (second-order high- and low-pass at ``LOUDSPEAKER_BAND_HZ``), scaled to
    unit energy so that an echo through it keeps the level it is given."""
    length = round(rt60_s * rate)
    t = np.arange(length) / rate
    generator = np.random.default_rng(seed)
    # -60 dB of amplitude after rt60_s: exp(-6.9 t / rt60).
    tail = generator.standard_normal(length) * np.exp(-6.9 * t / rt60_s)
    tail[:16] = 0.0  # the first reflections come a millisecond or so after the direct sound
    tail *= 10 ** (-DIRECT_TO_REVERBERANT_DB / 20) / np.sqrt(np.sum(np.square(tail)))
    tail[0] = 1.0
    spectrum = np.fft.rfft(tail, 2 * length)
    f = np.fft.rfftfreq(2 * length, 1 / rate)
    low, high = LOUDSPEAKER_BAND_HZ
    high_pass = (f / low) ** 2 / np.sqrt(1 + (f / low) ** 4)
    low_pass = 1 / np.sqrt(1 + (f / high) ** 4)
    response = np.fft.irfft(spectrum * high_pass * low_pass)[:length]
    return np.asarray(response / np.sqrt(np.sum(np.square(response))), dtype=np.float32)


def with_echo(
    reply: Samples,
    echo_db: float,
    delay_ms: int,
    played_at_ms: int,
    person: Samples | None = None,
    person_at_s: float = 0.0,
    *,
    room: bool = False,
) -> Samples:
    """What the Sender's microphone hears: low room noise, the avatar's ``reply`` ``echo_db``
    down arriving ``delay_ms`` after it was played at ``played_at_ms`` (with ``room``, through
    ``room_response``: a loudspeaker's band and the room's reverberation), and optionally a
    ``person`` talking (at their own level) from ``person_at_s``."""
    total_s = played_at_ms / 1000 + reply.size / RATE + 2.0
    if person is not None:
        total_s = max(total_s, person_at_s + person.size / RATE + 1.0)
    mic = noise(total_s, -60.0, seed=7)
    start = (played_at_ms + delay_ms) * RATE // 1000
    heard = echo_path(reply, room)
    end = min(mic.size, start + heard.size)
    mic[start:end] += heard[: end - start] * 10 ** (echo_db / 20)
    if person is not None:
        at = round(person_at_s * RATE)
        mic[at : at + person.size] += person
    return mic


def without_echo(
    seconds: float, person: Speech, words_at_s: float, noise_db: float | None = -60.0
) -> Samples:
    """What a microphone that never hears the avatar picks up (a headset, a browser's echo
    canceller): ``person`` talking at their own level, their words starting at ``words_at_s``,
    over white noise at ``noise_db`` (None: digital silence, as from headless Chromium's fake
    microphone between the WAV's words)."""
    at = round((words_at_s - person.start_ms / 1000) * RATE)
    size = max(round(seconds * RATE), at + person.samples.size)
    mic = silence(size / RATE) if noise_db is None else noise(size / RATE, noise_db, seed=7)
    mic[at : at + person.samples.size] += person.samples
    return mic
