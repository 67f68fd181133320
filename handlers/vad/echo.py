"""Echo guard: the avatar's own voice reaching the Sender's microphone must not start a turn.

Silero is nearly level-blind: the avatar's reply heard 20 dB down through the kiosk's microphone
is speech to it, so ``threshold`` and ``min_speech_ms`` alone let the avatar interrupt itself. The
server knows what the avatar says (it sent that audio), so the guard compares levels: while the
avatar is playing, a microphone frame counts as speech only if it is louder than the loudest echo
that the reference audio could explain, that is louder than the reference's loudest frame within
the last ``max_delay_ms`` (the echo's delay: network, playback buffer, room, unknown to us) plus
the echo's gain plus ``margin_db``. The gain (how much quieter the echo is than what we sent) is
learnt while the avatar plays: the ``GAIN_PERCENTILE`` th percentile, over the last
``LEARN_FRAMES`` frames with reference audio, of the microphone's level less that loudest reference
level (``echo_gain_db`` until enough frames are in). A high percentile follows the echo's loud
frames, not its pauses or the time before it arrives, yet ignores the few frames of a person
starting to talk over the avatar, who near the microphone is louder than the echo: so barge-in
still works, and the echo is ignored.

Pure and single-threaded except ``play`` and ``stop``: the event loop tells it the audio it sends
to the Receivers (and when a reply is cut short), placed on the input stream's timeline (input
audio time, ``VadStream.pushed_ms``); the worker thread turns it into levels when it needs them.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from handlers.vad.turns import FRAME_MS

SILENT_DB = -100.0
ACTIVE_REFERENCE_DB = -45.0
"""Reference frames quieter than this teach nothing about the echo's gain."""
LEARN_FRAMES = 94
"""About 3 s of frames: the window of the learnt echo gain."""
MIN_LEARNT_FRAMES = 16
GAIN_PERCENTILE = 70.0


def level_db(samples: np.ndarray) -> float:
    """Mean power of float samples in dB re full scale (-100 for silence)."""
    if not samples.size:
        return SILENT_DB
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(10.0 * math.log10(power), SILENT_DB) if power > 0 else SILENT_DB


def levels_db(frames: np.ndarray) -> list[float]:
    """``level_db`` of each row of ``frames`` (one numpy pass for a stream's frames)."""
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    levels = 10.0 * np.log10(np.maximum(power, 1e-10))
    return np.maximum(levels, SILENT_DB).tolist()  # type: ignore[no-any-return]


class EchoGuard:
    """Gates speech probabilities of frames that the avatar's known output can explain."""

    def __init__(
        self, *, echo_gain_db: float = -10.0, margin_db: float = 4.5, max_delay_ms: int = 400
    ) -> None:
        self.echo_gain_db = echo_gain_db
        self.margin_db = margin_db
        self._observed_gains: deque[float] = deque(maxlen=LEARN_FRAMES)
        self.max_delay_frames = max(1, -(-max_delay_ms // FRAME_MS))
        self._incoming: deque[tuple[bytes, int, int]] = deque()
        """(PCM16, sample rate, input ms it starts at); empty PCM: the avatar stopped there."""
        self._queued_until_ms = 0
        self._reference_db: dict[int, float] = {}
        self.gated_frames = 0
        """Frames whose speech probability the guard zeroed (for tests and metrics)."""

    def play(self, pcm: bytes, sample_rate: int, now_ms: int) -> int:
        """The avatar was sent ``pcm`` (PCM16 mono) at input time ``now_ms`` (event loop side).

        A Receiver plays what it gets back to back, so the audio is placed right after what is
        still queued, or at ``now_ms`` when nothing is. Returns where it was placed (input ms).
        """
        at_ms = max(now_ms, self._queued_until_ms)
        if pcm:
            self._incoming.append((pcm, sample_rate, at_ms))
            self._queued_until_ms = at_ms + len(pcm) // 2 * 1000 // sample_rate
        return at_ms

    def stop(self, now_ms: int) -> None:
        """The avatar stopped at input time ``now_ms`` (reply cancelled): forget what is queued
        after it; the echo of what was already played stays expected for ``max_delay_ms``."""
        self._queued_until_ms = min(self._queued_until_ms, now_ms)
        self._incoming.append((b"", 0, now_ms))

    def _absorb(self) -> None:
        while self._incoming:
            pcm, rate, at_ms = self._incoming.popleft()
            first = round(at_ms / FRAME_MS)
            if not pcm:
                for frame in [index for index in self._reference_db if index >= first]:
                    del self._reference_db[frame]
                continue
            samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
            samples = samples.astype(np.float32) / 32768.0
            per_frame = max(1, rate * FRAME_MS // 1000)
            for index, start in enumerate(range(0, samples.size, per_frame)):
                frame = first + index
                level = level_db(samples[start : start + per_frame])
                self._reference_db[frame] = max(level, self._reference_db.get(frame, SILENT_DB))

    @property
    def idle(self) -> bool:
        """Nothing played is known or waiting to be placed (worker side): ``gate`` would return
        every probability unchanged. ``play`` places new audio after the input pushed so far,
        so audio played after this is read cannot reach frames already taken from the inbox."""
        return not self._incoming and not self._reference_db

    def loudest_reference_db(self, frame: int) -> float:
        """The loudest reference frame whose echo may reach input frame ``frame``."""
        self._absorb()
        reference = self._reference_db
        return max(
            reference.get(frame - delay, SILENT_DB) for delay in range(self.max_delay_frames + 1)
        )

    @property
    def gain_db(self) -> float:
        """The echo's gain: learnt, or ``echo_gain_db`` until enough frames have been heard."""
        if len(self._observed_gains) < MIN_LEARNT_FRAMES:
            return self.echo_gain_db
        observed = np.fromiter(self._observed_gains, dtype=np.float64)
        return float(np.percentile(observed, GAIN_PERCENTILE))

    def gate(self, frame: int, probability: float, input_db: float) -> float:
        """The probability to give the turn detector for input frame ``frame`` (worker side)."""
        loudest = self.loudest_reference_db(frame)
        self._forget_before(frame - self.max_delay_frames)
        if loudest <= SILENT_DB:
            return probability
        ceiling = loudest + self.gain_db + self.margin_db
        if loudest > ACTIVE_REFERENCE_DB:
            self._observed_gains.append(input_db - loudest)
        if input_db <= ceiling:
            self.gated_frames += 1
            return 0.0
        return probability

    def _forget_before(self, frame: int) -> None:
        # Every 32 frames (about a second), not every frame: a whole reply may be queued ahead.
        if frame % 32 == 0:
            for old in [index for index in self._reference_db if index < frame]:
                del self._reference_db[old]
