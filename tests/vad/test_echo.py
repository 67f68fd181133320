"""The echo guard: the avatar's reply heard by the Sender's microphone starts no turn; a person
talking over it still does. Measured with the real model on the repository's speech."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.vad import EchoGuard, SpeechStarted, TurnEvent, VadEngine
from handlers.vad.echo import SILENT_DB, level_db, levels_db
from tests.vad.signals import RATE, chunks, pcm16, speech_fixtures, with_echo

FIXTURES = {fixture.name: fixture for fixture in speech_fixtures()}
AVATAR = FIXTURES["tell_me_about_the_history_of.wav"]
PERSON = FIXTURES["what_is_the_weather_like_today.wav"]
PLAY_AT_MS = 1000


@pytest.fixture(scope="module")
def engine() -> VadEngine:
    return VadEngine()


def microphone(echo_db: float, delay_ms: int, person_at_s: float | None) -> np.ndarray:
    """The avatar's reply as echo, and a person talking at its level from ``person_at_s``."""
    if person_at_s is None:
        return with_echo(AVATAR.samples, echo_db, delay_ms, PLAY_AT_MS)
    return with_echo(AVATAR.samples, echo_db, delay_ms, PLAY_AT_MS, PERSON.samples, person_at_s)


def starts(engine: VadEngine, mic: np.ndarray, guard: EchoGuard | None) -> list[SpeechStarted]:
    events: list[TurnEvent] = []
    stream = engine.open_stream(RATE, events.extend, guard=guard)
    if guard is not None:
        guard.play(pcm16(AVATAR.samples), RATE, PLAY_AT_MS)
    for chunk in chunks(pcm16(mic)):
        stream.push(chunk)
        engine.process_pending()
    return [event for event in events if isinstance(event, SpeechStarted)]


@pytest.mark.parametrize("echo_db", [-30.0, -20.0, -10.0, -6.0])
@pytest.mark.parametrize("delay_ms", [60, 150, 350])
def test_the_avatars_echo_starts_no_turn(engine: VadEngine, echo_db: float, delay_ms: int) -> None:
    mic = microphone(echo_db, delay_ms, person_at_s=None)
    # Without the guard the echo does start a turn: Silero hears speech at any level.
    assert len(starts(engine, mic, guard=None)) >= 1
    guard = EchoGuard()
    assert starts(engine, mic, guard) == []
    assert guard.gated_frames > 0


@pytest.mark.parametrize("echo_db", [-30.0, -20.0, -10.0, -6.0])
def test_a_person_talking_over_the_avatar_still_starts_a_turn(
    engine: VadEngine, echo_db: float
) -> None:
    person_at_s = 2.5
    started = starts(engine, microphone(echo_db, 150, person_at_s), EchoGuard())
    assert len(started) == 1
    onset_ms = person_at_s * 1000 + PERSON.start_ms
    assert abs(started[0].audio_start_ms - onset_ms) <= 160
    # Confirmed within min_speech_ms (250) and a few frames of the person's first word.
    assert started[0].detected_ms - onset_ms <= 250 + 4 * 32


def test_the_guard_lets_everything_through_when_the_avatar_is_silent() -> None:
    guard = EchoGuard()
    assert guard.gate(10, 0.9, -30.0) == 0.9
    guard.play(np.zeros(RATE, dtype="<i2").tobytes(), RATE, 0)
    assert guard.gate(20, 0.9, -30.0) == 0.9
    # A played frame makes quieter input frames within the delay window echo, not speech.
    guard.play(pcm16(AVATAR.samples), RATE, 2000)
    frame = 2000 // 32 + 40
    assert guard.gate(frame, 0.9, guard.loudest_reference_db(frame) - 30.0) == 0.0
    assert guard.gate(frame, 0.9, guard.loudest_reference_db(frame) + 10.0) == 0.9


def test_level_db() -> None:
    assert level_db(np.zeros(512, dtype=np.float32)) == SILENT_DB
    assert level_db(np.ones(512, dtype=np.float32)) == pytest.approx(0.0)
    assert level_db(np.full(512, 0.1, dtype=np.float32)) == pytest.approx(-20.0)


def test_levels_db_matches_level_db_row_by_row() -> None:
    frames = np.stack([np.zeros(512), np.full(512, 0.1), np.linspace(-1, 1, 512)])
    frames = frames.astype(np.float32)
    expected = [level_db(row) for row in frames]
    assert levels_db(frames) == pytest.approx(expected, abs=1e-6)


def test_play_queues_replies_back_to_back_and_stop_drops_the_rest() -> None:
    guard = EchoGuard(max_delay_ms=64)
    second = np.full(RATE // 2, 8000, dtype="<i2").tobytes()  # 500 ms, loud
    assert guard.play(second, RATE, 1000) == 1000
    # Sent 100 ms later, but the first is still playing: it follows it.
    assert guard.play(second, RATE, 1100) == 1500
    # Nothing queued any more: plays when sent.
    assert guard.play(second, RATE, 5000) == 5000
    assert guard.loudest_reference_db(1700 // 32) > -20
    guard.stop(1200)
    assert guard.loudest_reference_db(1200 // 32) > -20  # played before the stop: echo expected
    assert guard.loudest_reference_db(1700 // 32) == SILENT_DB  # never played
    assert guard.play(second, RATE, 1300) == 1300


def test_an_idle_guard_is_skipped_without_changing_a_decision(engine: VadEngine) -> None:
    """A guard with nothing played is idle: the worker skips its levels, and every probability
    and event is the same as without a guard; once something is played it is not idle."""
    guard = EchoGuard(max_delay_ms=64)
    assert guard.idle
    mic = microphone(-10.0, 150, person_at_s=None)
    results = []
    for with_guard in (None, guard):
        events: list[TurnEvent] = []
        stream = engine.open_stream(RATE, events.extend, guard=with_guard)
        stream.probabilities = []
        for chunk in chunks(pcm16(mic)):
            stream.push(chunk)
            engine.process_pending()
        results.append((stream.probabilities, events))
    assert results[0] == results[1]
    assert results[0][1] != []  # the echo, unguarded, does start a turn
    assert guard.idle and guard.gated_frames == 0
    guard.play(pcm16(AVATAR.samples[:RATE]), RATE, 0)
    assert not guard.idle
    # The reply's frames (up to 1 s, frame 31) are forgotten once they are out of the delay
    # window (2 frames) at the next cleanup (every 32 frames): by frame 66.
    guard.gate(65, 0.9, -30.0)
    assert not guard.idle
    guard.gate(66, 0.9, -30.0)
    assert guard.idle
