"""A Sender's utterance: decoding appended chunks, bounding the buffer, feeding recognition live.

Recognition starts at the first chunk and is fed every chunk as it arrives, so a streaming
recogniser has (nearly) finished when the Sender commits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from handlers.audio import AudioFormatError, check_pcm16, parse_wav, resample_pcm16
from handlers.providers.base import Transcript

WAV_MAGIC = b"RIFF"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def decode_chunk(raw: bytes | str, audio_format: str, sample_rate: int) -> bytes:
    """Turn one appended chunk into PCM16 LE mono at ``sample_rate``.

    ``raw`` is binary, or base64 text. WAV is recognised by its header in either format,
    so a client may send whole WAV files without announcing them.
    """
    if isinstance(raw, str):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AudioFormatError(f"audio is not valid base64: {exc}") from exc
    else:
        data = raw
    if audio_format == "wav" or data[:4] == WAV_MAGIC:
        pcm, rate = parse_wav(data)
        return resample_pcm16(pcm, rate, sample_rate)
    check_pcm16(data)
    return data


TranscribeFn = Callable[[AsyncIterator[bytes]], Coroutine[Any, Any, Transcript]]


class Utterance:
    """The audio of one utterance, from its first chunk to its commit."""

    def __init__(self, sample_rate: int, max_seconds: float, transcribe: TranscribeFn) -> None:
        self.item_id = new_id("item")
        self.sample_rate = sample_rate
        self.max_bytes = int(max_seconds * sample_rate) * 2
        self.size = 0
        self.overflowed = False
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.transcription: asyncio.Task[Transcript] = asyncio.create_task(
            transcribe(self._feed()), name=f"stt-{self.item_id}"
        )

    async def _feed(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    def append(self, pcm: bytes) -> int:
        """Buffer ``pcm`` up to the limit; return how many bytes did not fit."""
        kept = pcm[: max(0, self.max_bytes - self.size)]
        if kept:
            self.size += len(kept)
            self._chunks.put_nowait(kept)
        dropped = len(pcm) - len(kept)
        if dropped:
            self.overflowed = True
        return dropped

    @property
    def duration_ms(self) -> int:
        return self.size * 1000 // (2 * self.sample_rate)

    def commit(self) -> asyncio.Task[Transcript]:
        """End the audio; the returned task gives the transcript."""
        self._chunks.put_nowait(None)
        return self.transcription

    def cancel(self) -> None:
        self.transcription.cancel()
