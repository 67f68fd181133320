"""A Sender's utterance: decoding appended chunks, bounding the buffer, feeding recognition live.

Recognition starts at the first chunk and is fed the audio while it arrives, in pieces of about
``FEED_SECONDS`` (and the rest at the commit), so a streaming recogniser has (nearly) finished
when the Sender commits. Pieces rather than every 20 ms chunk wake the recognition task a fifth
as often: that wake-up was about 2 us of CPU per chunk (as much as the rest of our handling of an
append), and is about 0.5 us now.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from handlers.audio import CLIENT_WAV, AudioFormatError, check_pcm16, parse_wav, resample_pcm16
from handlers.ids import new_item_id
from handlers.providers.base import Transcript

WAV_MAGIC = b"RIFF"
WAV_MAGIC_BASE64 = "UklGR"
"""How base64 text of a WAV file starts ("RIFF" is "UklGRg" and more)."""


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
    if is_wav(data, audio_format):
        pcm, rate = parse_wav(data, CLIENT_WAV)
        return resample_pcm16(pcm, rate, sample_rate)
    check_pcm16(data)
    return data


def is_wav(raw: bytes | str, audio_format: str) -> bool:
    """Whether the chunk is (announced or recognised as) a WAV file: decoding it may resample,
    which is heavy work for the event loop (run ``decode_chunk`` in a thread then)."""
    return audio_format == "wav" or (
        raw.startswith(WAV_MAGIC) if isinstance(raw, bytes) else raw.startswith("UklGR")
    )


TranscribeFn = Callable[[AsyncIterator[bytes]], Coroutine[Any, Any, Transcript]]

FEED_SECONDS = 0.1
"""Recognition gets the audio in pieces of about this much (the usual frame of streaming STT)."""


class Utterance:
    """The audio of one utterance, from its first chunk to its commit."""

    def __init__(
        self, audio_format: str, sample_rate: int, max_seconds: float, transcribe: TranscribeFn
    ) -> None:
        self.item_id = new_item_id()
        self.audio_format = audio_format
        self.sample_rate = sample_rate
        self.max_bytes = int(max_seconds * sample_rate) * 2
        self.size = 0
        self.overflowed = False
        self._piece_bytes = max(2, int(FEED_SECONDS * sample_rate) * 2)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._ended = False
        self._wakeup: asyncio.Future[None] | None = None
        self.transcription: asyncio.Task[Transcript] = asyncio.create_task(
            transcribe(self._feed()), name=f"stt-{self.item_id}"
        )

    async def _feed(self) -> AsyncIterator[bytes]:
        """The audio so far in pieces of at least ``FEED_SECONDS``, then the rest at the commit."""
        while True:
            if self._pending and (self._ended or self._pending_bytes >= self._piece_bytes):
                pending, self._pending, self._pending_bytes = self._pending, [], 0
                yield pending[0] if len(pending) == 1 else b"".join(pending)
            elif self._ended:
                return
            else:
                self._wakeup = asyncio.get_running_loop().create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def append(self, pcm: bytes) -> int:
        """Buffer ``pcm`` up to the limit; return how many bytes did not fit."""
        room = self.max_bytes - self.size
        kept = pcm if len(pcm) <= room else pcm[: max(0, room)]
        if kept:
            self.size += len(kept)
            self._pending.append(kept)
            self._pending_bytes += len(kept)
            if self._pending_bytes >= self._piece_bytes:
                self._wake()
        dropped = len(pcm) - len(kept)
        if dropped:
            self.overflowed = True
        return dropped

    @property
    def duration_ms(self) -> int:
        return self.size * 1000 // (2 * self.sample_rate)

    def commit(self) -> asyncio.Task[Transcript]:
        """End the audio; the returned task gives the transcript."""
        self._ended = True
        self._wake()
        return self.transcription

    def cancel(self) -> None:
        self.transcription.cancel()
