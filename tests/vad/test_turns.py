"""The turn detector's state machine, on hand-written probability sequences (no model)."""

from __future__ import annotations

import pytest

from handlers.vad.turns import (
    FRAME_MS,
    MODEL_LAG_MS,
    Commit,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnEvent,
    TurnSettings,
)

SPEECH, QUIET = 0.9, 0.05


def feed(detector: TurnDetector, probabilities: list[float]) -> list[tuple[int, TurnEvent]]:
    """Each event with the index of the frame that produced it."""
    out: list[tuple[int, TurnEvent]] = []
    for probability in probabilities:
        frame = detector.frames
        out.extend((frame, event) for event in detector.update(probability))
    return out


def test_a_turn_starts_after_min_speech_and_commits_after_the_silence() -> None:
    detector = TurnDetector(TurnSettings(min_speech_ms=250, silence_duration_ms=500))
    events = feed(detector, [QUIET] * 20 + [SPEECH] * 30 + [QUIET] * 20)
    assert [type(event) for _, event in events] == [SpeechStarted, SpeechStopped, Commit]
    (started_at, started), (stopped_at, stopped), (commit_at, commit) = events
    # 250 ms is 7.8 frames: the 8th speech frame (index 27) confirms the turn.
    assert started_at == 27
    assert started == SpeechStarted(20 * FRAME_MS, 20 * FRAME_MS - 300, 28 * FRAME_MS)
    # The speech is taken to end a frame (the model's lag) before its last speech frame does;
    # 500 ms from there is 15.6 frames: the 15th quiet frame (index 64) completes the silence.
    end_ms = 50 * FRAME_MS - MODEL_LAG_MS
    assert stopped_at == commit_at == 64
    assert stopped == SpeechStopped(end_ms, 20 * FRAME_MS - 300, 65 * FRAME_MS)
    assert commit == Commit(20 * FRAME_MS - 300, end_ms, 65 * FRAME_MS)
    assert not detector.speaking


def test_speech_shorter_than_min_speech_neither_starts_nor_interrupts() -> None:
    detector = TurnDetector(TurnSettings(min_speech_ms=250))
    assert feed(detector, [QUIET] * 5 + [SPEECH] * 7 + [QUIET] * 40) == []
    assert not detector.speaking
    # The same burst one frame longer does start a turn: the limit is where it should be.
    longer = TurnDetector(TurnSettings(min_speech_ms=250))
    assert [type(e) for _, e in feed(longer, [QUIET] * 5 + [SPEECH] * 8)] == [SpeechStarted]
    assert longer.speaking


def test_scattered_blips_do_not_add_up_but_dips_within_a_word_do() -> None:
    blips = [SPEECH] * 4 + [QUIET] * 4 + [SPEECH] * 4 + [QUIET] * 4 + [SPEECH] * 4
    assert feed(TurnDetector(), blips) == []
    dipping = [SPEECH] * 4 + [QUIET] * 2 + [SPEECH] * 4
    assert [type(e) for _, e in feed(TurnDetector(), dipping)] == [SpeechStarted]


def test_hysteresis_keeps_a_turn_going_between_release_and_start_thresholds() -> None:
    settings = TurnSettings(threshold=0.5, silence_duration_ms=100)
    detector = TurnDetector(settings)
    # 0.4 is below the start threshold but above the release one (0.35): speech continues.
    events = feed(detector, [SPEECH] * 10 + [0.4] * 10 + [QUIET] * 3)
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechStopped, Commit]
    assert events[1][1] == SpeechStopped(20 * FRAME_MS - MODEL_LAG_MS, 0, 23 * FRAME_MS)
    # ...but 0.4 does not start one.
    assert feed(TurnDetector(settings), [0.4] * 30) == []


def test_prefix_padding_never_reaches_before_the_previous_turn() -> None:
    settings = TurnSettings(prefix_padding_ms=300, silence_duration_ms=100, min_speech_ms=0)
    detector = TurnDetector(settings)
    first = feed(detector, [SPEECH] * 5 + [QUIET] * 3)
    assert isinstance(first[-1][1], Commit)
    committed_at = first[-1][1].detected_ms
    second = feed(detector, [QUIET] * 2 + [SPEECH])
    started = second[0][1]
    assert isinstance(started, SpeechStarted)
    assert started.audio_start_ms == committed_at + 2 * FRAME_MS
    assert started.utterance_start_ms == committed_at


def test_reset_drops_the_turn_in_progress() -> None:
    detector = TurnDetector()
    feed(detector, [SPEECH] * 10)
    assert detector.speaking
    detector.reset()
    assert not detector.speaking
    assert feed(detector, [QUIET] * 30) == []


def test_configure_applies_to_the_next_frames() -> None:
    detector = TurnDetector(TurnSettings(silence_duration_ms=500))
    feed(detector, [SPEECH] * 10)
    detector.configure(TurnSettings(silence_duration_ms=96))
    events = feed(detector, [QUIET] * 2)
    assert [type(e) for _, e in events] == [SpeechStopped, Commit]


@pytest.mark.parametrize(
    "settings",
    [
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"silence_duration_ms": -1},
        {"min_speech_ms": -5},
        {"prefix_padding_ms": -300},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TurnSettings(**settings)  # type: ignore[arg-type]
