"""The shared speech recordings, and independent decoders for what the server sends back.

The checks here use the standard library (``wave``) and a small MPEG frame walker rather than the
server's own audio helpers, so a bug in those cannot hide itself.
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from functools import cache
from typing import Any

from tests.data import SPEECH_DIR

AUDIO_DIR = SPEECH_DIR
WEATHER = "what_is_the_weather_like_today.wav"
TIME = "what_time_is_it.wav"
CHUNK_BYTES = 640
"""20 ms of PCM16 at 16 kHz."""


@cache
def manifest() -> dict[str, dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((AUDIO_DIR / "manifest.json").read_text())
    return {entry["file"]: entry for entry in entries}


@cache
def clip_wav(name: str) -> bytes:
    return (AUDIO_DIR / name).read_bytes()


@cache
def clip(name: str) -> bytes:
    """The recording's PCM16 LE mono at 16 kHz."""
    pcm, rate = read_wav(clip_wav(name))
    assert rate == 16_000, rate
    return pcm


def read_wav(data: bytes) -> tuple[bytes, int]:
    """(frames, rate) of a whole WAV file; fails unless it is PCM16 mono and complete."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1, wav.getnchannels()
        assert wav.getsampwidth() == 2, wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    # The header's data size must account for every byte: no second file glued on.
    assert len(data) == 44 + len(frames), (len(data), len(frames))
    return frames, rate


def make_wav(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def downsample_by_2(pcm: bytes) -> bytes:
    """16 kHz -> 8 kHz by averaging sample pairs (a crude but adequate low-pass)."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) - len(pcm) % 4])
    pairs = [(samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples) - 1, 2)]
    return struct.pack(f"<{len(pairs)}h", *pairs)


def rms(pcm: bytes) -> float:
    count = len(pcm) // 2
    if count == 0:
        return 0.0
    samples = struct.unpack(f"<{count}h", pcm[: 2 * count])
    return math.sqrt(sum(s * s for s in samples) / count)


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


# MPEG audio layer III: bitrates (kbps) by version, and sample rates by version.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}


def mp3_frames(data: bytes) -> tuple[int, int, float]:
    """Walk an MPEG-1/2/2.5 layer III stream frame by frame from byte 0.

    Every frame must start with the 11-bit sync word right where the previous one ended, and
    the last frame must end exactly at the end of ``data``. Returns (frames, sample rate,
    seconds).
    """
    offset = frames = 0
    rates: set[int] = set()
    samples = 0
    while offset < len(data):
        assert len(data) - offset >= 4, f"truncated header at byte {offset}"
        header = int.from_bytes(data[offset : offset + 4], "big")
        assert header >> 21 == 0x7FF, (
            f"no MPEG sync word at byte {offset}: {data[offset : offset + 4]!r}"
        )
        version = {0b00: 25, 0b10: 2, 0b11: 1}[(header >> 19) & 0b11]
        assert (header >> 17) & 0b11 == 0b01, "not layer III"
        bitrate = _BITRATES[1 if version == 1 else 2][(header >> 12) & 0xF] * 1000
        rate = _RATES[version][(header >> 10) & 0b11]
        padding = (header >> 9) & 1
        assert bitrate > 0, "free-format or bad bitrate"
        length = (144 if version == 1 else 72) * bitrate // rate + padding
        offset += length
        frames += 1
        samples += 1152 if version == 1 else 576
        rates.add(rate)
    assert offset == len(data), f"last frame overruns the data by {offset - len(data)} bytes"
    assert len(rates) <= 1, rates
    rate = rates.pop() if rates else 0
    return frames, rate, (samples / rate if rate else 0.0)
