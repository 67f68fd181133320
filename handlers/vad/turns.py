"""Turn detection from per-frame speech probabilities, with OpenAI Realtime ``server_vad`` rules.

A pure state machine: no audio, no model, no clock. It is fed one speech probability per VAD frame
(32 ms of audio) and says when a turn starts, when its speech stops and when to commit it. Times
are milliseconds of the stream's audio (0 = the stream's first sample), so a test can check them
against the true bounds of the speech it fed, and the server can cut the utterance from its audio.

- Speech is a frame whose probability is at least ``threshold``; once speaking, frames stay
  speech down to ``threshold - HYSTERESIS`` (as Silero's own segmenter does), so the dips between
  syllables do not end a word.
- A turn starts only after ``min_speech_ms`` of speech: shorter sounds (a cough, a click, a word
  of the avatar's echo) neither start a turn nor interrupt. ``SpeechStarted`` then reports the
  onset, back-dated to the first speech frame, and where the utterance's audio begins
  (``prefix_padding_ms`` earlier, never before the previous turn's end).
- ``silence_duration_ms`` of non-speech after a turn's speech ends it: ``SpeechStopped`` and
  ``Commit`` come out together, on the frame that completes the silence. Silero's probability
  stays up for a frame or two after the last word (on the repository's speech the last speech
  frame ends 56-84 ms after the words do), so the speech is taken to end ``MODEL_LAG_MS`` before
  the end of its last speech frame, and the silence is counted from there.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_MS = 32
"""Silero's frame: 512 samples at 16 kHz, 256 at 8 kHz."""

HYSTERESIS = 0.15
"""Once speaking, speech continues down to ``threshold - HYSTERESIS`` (Silero's neg_threshold)."""

MODEL_LAG_MS = FRAME_MS
"""How long after the words end Silero still says speech, at least (see the module's doc)."""

CANDIDATE_GAP_MS = 96
"""Before a turn has started, a gap longer than this discards the speech counted so far, so
scattered clicks do not add up to ``min_speech_ms``."""


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """The ``turnDetection`` parameters of ``server_vad`` (defaults as OpenAI Realtime's)."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    min_speech_ms: int = 250

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {self.threshold}")
        for name in ("prefix_padding_ms", "silence_duration_ms", "min_speech_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def release_threshold(self) -> float:
        return max(self.threshold - HYSTERESIS, 0.01)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """A turn's speech has lasted ``min_speech_ms``: a turn starts (and may interrupt a reply)."""

    audio_start_ms: int
    """Onset of the speech (start of its first speech frame)."""
    utterance_start_ms: int
    """Where the utterance's audio begins: the onset less the prefix padding."""
    detected_ms: int
    """The audio time at which this was decided (end of the frame that confirmed it)."""


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The turn's speech ended ``silence_duration_ms`` ago."""

    audio_end_ms: int
    """End of the speech: the end of its last speech frame less ``MODEL_LAG_MS``."""
    utterance_start_ms: int
    detected_ms: int


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit the utterance: its audio runs from ``utterance_start_ms`` to ``audio_end_ms``."""

    utterance_start_ms: int
    audio_end_ms: int
    detected_ms: int


TurnEvent = SpeechStarted | SpeechStopped | Commit


class TurnDetector:
    """One stream's turn state; ``update`` takes the next frame's speech probability."""

    def __init__(self, settings: TurnSettings | None = None) -> None:
        self.settings = settings or TurnSettings()
        self.frames = 0
        """Frames seen so far; the audio time is ``frames * FRAME_MS``."""
        self._voiced = False
        self._speaking = False
        self._onset_frame = -1
        self._voiced_frames = 0
        self._gap_frames = 0
        self._last_voiced_end = 0
        self._utterance_start_ms = 0
        self._floor_ms = 0
        """No utterance's audio begins before this (the end of the previous one)."""

    @property
    def now_ms(self) -> int:
        return self.frames * FRAME_MS

    @property
    def speaking(self) -> bool:
        """A turn has started (speech of at least ``min_speech_ms``) and not yet been committed:
        while this holds, the person is talking over whatever the avatar says (barge-in)."""
        return self._speaking

    def configure(self, settings: TurnSettings) -> None:
        """New parameters apply from the next frame; a turn in progress keeps going."""
        self.settings = settings

    def reset(self) -> None:
        """Forget any speech in progress (a manual commit, or turn detection switched off): the
        next turn starts from the next frame on."""
        self._speaking = False
        self._onset_frame = -1
        self._voiced_frames = 0
        self._gap_frames = 0
        self._floor_ms = self.now_ms

    def update(self, probability: float) -> list[TurnEvent]:
        """Take one frame's speech probability; return the events it completes (usually none)."""
        settings = self.settings
        frame = self.frames
        self.frames += 1
        limit = settings.release_threshold if self._voiced else settings.threshold
        self._voiced = probability >= limit
        return self._while_speaking() if self._speaking else self._while_waiting(frame)

    def _while_waiting(self, frame: int) -> list[TurnEvent]:
        if self._voiced:
            if self._onset_frame < 0:
                self._onset_frame = frame
            self._voiced_frames += 1
            self._gap_frames = 0
        elif self._onset_frame >= 0:
            self._gap_frames += 1
            if self._gap_frames * FRAME_MS > CANDIDATE_GAP_MS:
                self._onset_frame = -1
                self._voiced_frames = 0
                self._gap_frames = 0
        if self._onset_frame < 0 or self._voiced_frames * FRAME_MS < self.settings.min_speech_ms:
            return []
        self._speaking = True
        self._last_voiced_end = self.now_ms - MODEL_LAG_MS
        onset_ms = self._onset_frame * FRAME_MS
        self._utterance_start_ms = max(onset_ms - self.settings.prefix_padding_ms, self._floor_ms)
        return [SpeechStarted(onset_ms, self._utterance_start_ms, self.now_ms)]

    def _while_speaking(self) -> list[TurnEvent]:
        if self._voiced:
            self._last_voiced_end = self.now_ms - MODEL_LAG_MS
            return []
        if self.now_ms - self._last_voiced_end < self.settings.silence_duration_ms:
            return []
        end_ms, start_ms, now_ms = self._last_voiced_end, self._utterance_start_ms, self.now_ms
        self.reset()
        return [SpeechStopped(end_ms, start_ms, now_ms), Commit(start_ms, end_ms, now_ms)]
