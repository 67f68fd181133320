"""The Sender's recent input audio, addressed by stream time, for cutting utterances out of it.

With ``server_vad`` the Sender never says where an utterance begins: the turn detector does, a
little later (``min_speech_ms`` after the onset, plus the worker's delay) and back-dated by
``prefix_padding_ms``. So the server keeps the last few seconds of what was appended and, on
``SpeechStarted``, takes the audio from ``utterance_start_ms`` on to start the utterance with.
Times are those of the ``VadStream`` fed the same bytes: milliseconds since the stream's first
sample, at the input sample rate (event loop side; only bytes are moved).
"""

from __future__ import annotations

from collections import deque


class AudioHistory:
    """The last ``keep_ms`` of PCM16 mono appended, and the stream time of each byte."""

    def __init__(self, sample_rate: int, keep_ms: int = 3000) -> None:
        self.sample_rate = sample_rate
        self.keep_bytes = sample_rate * keep_ms // 1000 * 2
        self._chunks: deque[bytes] = deque()
        self._kept = 0
        self.total_bytes = 0
        """Bytes appended since the stream began (the stream time of the end of the audio)."""

    @property
    def now_ms(self) -> int:
        return self._ms(self.total_bytes)

    def _ms(self, n_bytes: int) -> int:
        return n_bytes // 2 * 1000 // self.sample_rate

    def _byte_at(self, ms: int) -> int:
        return ms * self.sample_rate // 1000 * 2

    def append(self, pcm: bytes) -> None:
        self._chunks.append(pcm)
        self._kept += len(pcm)
        self.total_bytes += len(pcm)
        while self._chunks and self._kept - len(self._chunks[0]) >= self.keep_bytes:
            self._kept -= len(self._chunks.popleft())

    def since(self, ms: int) -> bytes:
        """The audio from stream time ``ms`` to now (as much of it as is still kept)."""
        first_kept = self.total_bytes - self._kept
        start = max(self._byte_at(max(ms, 0)), first_kept)
        if start >= self.total_bytes:
            return b""
        audio = b"".join(self._chunks)
        return audio[start - first_kept :]

    def between(self, start_ms: int, end_ms: int) -> bytes:
        """The audio from stream time ``start_ms`` to ``end_ms`` (as much of it as is kept).

        Walks back from the newest chunk only as far as ``start_ms``: cheap for the recent,
        short spans that server VAD feeds an utterance with on every append."""
        first_kept = self.total_bytes - self._kept
        start = max(self._byte_at(max(start_ms, 0)), first_kept)
        end = min(self._byte_at(max(end_ms, 0)), self.total_bytes)
        if start >= end:
            return b""
        pieces: list[bytes] = []
        chunk_end = self.total_bytes
        for chunk in reversed(self._chunks):
            chunk_start = chunk_end - len(chunk)
            if chunk_start < end:
                pieces.append(chunk[max(start - chunk_start, 0) : end - chunk_start])
            if chunk_start <= start:
                break
            chunk_end = chunk_start
        pieces.reverse()
        return b"".join(pieces)
