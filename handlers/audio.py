"""PCM16 helpers shared by the session buffer, the pipeline and the providers.

Everything inside the server is PCM16 LE mono; WAV and MP3 exist only at the edges.
"""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import AsyncIterable
from dataclasses import dataclass

import numpy as np
import soxr


class AudioFormatError(ValueError):
    """Bytes that are not the audio they claim to be (odd PCM length, bad WAV header)."""


def check_pcm16(pcm: bytes) -> None:
    if len(pcm) % 2:
        raise AudioFormatError(f"PCM16 needs an even number of bytes, got {len(pcm)}")


def pcm16_seconds(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / 2 / sample_rate


class WholeSamples:
    """``chunks`` re-cut so that every chunk holds whole PCM16 samples.

    A network read, or a client's chunk, may end in the middle of a sample; its odd byte waits for
    the next chunk. A half sample left at the very end is dropped. An async iterator rather than
    an async generator, so a consumer that stops early leaves nothing to finalise; the source
    stays the caller's to close.
    """

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._odd_byte = b""

    def __aiter__(self) -> WholeSamples:
        return self

    async def __anext__(self) -> bytes:
        while True:
            data = self._odd_byte + await anext(self._chunks)
            whole = len(data) - len(data) % 2
            self._odd_byte = data[whole:]
            if whole:
                return data[:whole]


async def read_whole_samples(chunks: AsyncIterable[bytes]) -> bytes:
    """All of ``chunks`` as one clip of whole PCM16 samples (a trailing half sample is dropped)."""
    return b"".join([chunk async for chunk in WholeSamples(chunks)])


def resample_pcm16(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole PCM16 clip (use Pcm16Resampler for a stream of chunks)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype="<i2").tobytes()


class Pcm16Resampler:
    """Streaming resampler: chunk boundaries leave no clicks, unlike resampling each chunk alone."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16", quality="HQ")
        )

    def process(self, pcm: bytes, *, last: bool = False) -> bytes:
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        out = self._stream.resample_chunk(samples, last=last)
        return np.asarray(out, dtype="<i2").tobytes()


@dataclass(frozen=True, slots=True)
class WavLimits:
    """What a WAV from a client may claim; checked on the header, before any audio is read.

    A header is a promise about the allocations to come: a 120 KB file claiming 1 Hz asks the
    resampler for 16,000 output samples per input sample (gigabytes). Rates outside the
    contract's SampleRate range, more than two channels, or other than 16-bit are refused.
    """

    min_rate: int = 8000
    max_rate: int = 48000
    max_channels: int = 2


CLIENT_WAV = WavLimits()


def parse_wav(data: bytes, limits: WavLimits | None = None) -> tuple[bytes, int]:
    """Return (PCM16 LE mono, sample rate) from a WAV file; stereo is mixed down. With
    ``limits`` (audio from clients) the header is checked against them before reading."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            _check_wav_header(channels, width, rate, limits)
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, struct.error) as exc:
        raise AudioFormatError(f"not a readable WAV file: {exc}") from exc
    if len(frames) % (2 * channels):
        frames = frames[: len(frames) - len(frames) % (2 * channels)]
    if channels > 1:
        samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
        frames = samples.mean(axis=1).astype("<i2").tobytes()
    return frames, rate


def _check_wav_header(channels: int, width: int, rate: int, limits: WavLimits | None) -> None:
    if width != 2:
        raise AudioFormatError(f"WAV must be 16-bit PCM, got {8 * width}-bit")
    if channels < 1 or rate <= 0:
        raise AudioFormatError("WAV header has no channels or no sample rate")
    if limits is None:
        return
    if not limits.min_rate <= rate <= limits.max_rate:
        raise AudioFormatError(
            f"WAV sample rate {rate} Hz is outside {limits.min_rate}-{limits.max_rate} Hz"
        )
    if channels > limits.max_channels:
        raise AudioFormatError(f"WAV has {channels} channels; at most {limits.max_channels}")


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap PCM16 LE mono in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


class Mp3Encoder:
    """Incremental MP3 encoder (LAME) for PCM16 mono; ``flush`` ends the stream."""

    def __init__(self, sample_rate: int, bitrate_kbps: int = 64) -> None:
        import lameenc

        self._encoder = lameenc.Encoder()
        self._encoder.set_bit_rate(bitrate_kbps)
        self._encoder.set_in_sample_rate(sample_rate)
        self._encoder.set_channels(1)
        self._encoder.set_quality(5)

    def encode(self, pcm: bytes) -> bytes:
        return bytes(self._encoder.encode(pcm))

    def flush(self) -> bytes:
        return bytes(self._encoder.flush())
