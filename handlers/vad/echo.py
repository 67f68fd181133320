"""Echo guard: the avatar's own voice reaching the Sender's microphone must not start a turn.

Silero is nearly level-blind: the avatar's reply heard 20 dB down through the kiosk's microphone
is speech to it, so ``threshold`` and ``min_speech_ms`` alone let the avatar interrupt itself. The
server knows what the avatar says (it sent that audio), so the guard compares levels: while the
avatar is playing, a microphone frame counts as speech only if it is louder than the loudest echo
that the reference audio could explain, that is louder than the reference's level within the last
``max_delay_ms`` (the echo's delay: network, playback buffer, room) plus ``echo_gain_db`` (how
much quieter the echo is at most) plus ``margin_db``. A person talking over the avatar near the
microphone is far louder than its echo, so barge-in still works; a quiet echo is ignored.

Pure and single-threaded except ``play``: the event loop places the reference audio on the input
stream's timeline (``at_ms``: the input audio time at which that audio starts playing), the worker
thread turns it into levels when it next needs them.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from handlers.vad.turns import FRAME_MS

SILENT_DB = -100.0


def level_db(samples: np.ndarray) -> float:
    """Mean power of float samples in dB re full scale (-100 for silence)."""
    if not samples.size:
        return SILENT_DB
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(10.0 * math.log10(power), SILENT_DB) if power > 0 else SILENT_DB


class EchoGuard:
    """Gates speech probabilities of frames that the avatar's known output can explain."""

    def __init__(
        self, *, echo_gain_db: float = -10.0, margin_db: float = 6.0, max_delay_ms: int = 400
    ) -> None:
        self.echo_gain_db = echo_gain_db
        self.margin_db = margin_db
        self.max_delay_frames = max(1, -(-max_delay_ms // FRAME_MS))
        self._incoming: deque[tuple[bytes, int, int]] = deque()
        self._reference_db: dict[int, float] = {}
        self.gated_frames = 0
        """Frames whose speech probability the guard zeroed (for tests and metrics)."""

    def play(self, pcm: bytes, sample_rate: int, at_ms: int) -> None:
        """The avatar plays ``pcm`` (PCM16 mono) from input time ``at_ms`` on (event loop side)."""
        if pcm:
            self._incoming.append((pcm, sample_rate, at_ms))

    def _absorb(self) -> None:
        while self._incoming:
            pcm, rate, at_ms = self._incoming.popleft()
            samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
            samples = samples.astype(np.float32) / 32768.0
            per_frame = max(1, rate * FRAME_MS // 1000)
            first = round(at_ms / FRAME_MS)
            for index, start in enumerate(range(0, samples.size, per_frame)):
                frame = first + index
                level = level_db(samples[start : start + per_frame])
                self._reference_db[frame] = max(level, self._reference_db.get(frame, SILENT_DB))

    def echo_ceiling_db(self, frame: int) -> float:
        """The loudest echo the reference can explain in input frame ``frame``."""
        self._absorb()
        loudest = max(
            (self._reference_db.get(frame - delay, SILENT_DB) for delay in self._window()),
            default=SILENT_DB,
        )
        if loudest <= SILENT_DB:
            return SILENT_DB
        return loudest + self.echo_gain_db + self.margin_db

    def _window(self) -> range:
        return range(self.max_delay_frames + 1)

    def gate(self, frame: int, probability: float, input_db: float) -> float:
        """The probability to give the turn detector for input frame ``frame`` (worker side)."""
        ceiling = self.echo_ceiling_db(frame)
        self._forget_before(frame - self.max_delay_frames)
        if ceiling > SILENT_DB and input_db <= ceiling:
            self.gated_frames += 1
            return 0.0
        return probability

    def _forget_before(self, frame: int) -> None:
        # Every 32 frames (about a second), not every frame: a whole reply may be queued ahead.
        if frame % 32 == 0:
            for old in [index for index in self._reference_db if index < frame]:
                del self._reference_db[old]
