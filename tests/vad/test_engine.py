"""Silero VAD through the batched engine on the repository's speech: hands-free turns, no false
starts on silence or noise, the same decisions batched as alone, other sample rates, the worker
thread delivering events on the event loop."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import soxr

from handlers.vad import (
    FRAME_MS,
    Commit,
    SpeechStarted,
    SpeechStopped,
    TurnEvent,
    TurnSettings,
    VadEngine,
)
from tests.vad.signals import (
    RATE,
    Speech,
    blip,
    chunks,
    noise,
    pcm16,
    silence,
    speech_fixtures,
)

LEAD_S, TAIL_S = 1.0, 1.5
FIXTURES = speech_fixtures()


@pytest.fixture(scope="module")
def engine() -> VadEngine:
    return VadEngine()


def run_alone(
    engine: VadEngine, samples: np.ndarray, settings: TurnSettings | None = None, rate: int = RATE
) -> list[TurnEvent]:
    """Feed ``samples`` in 20 ms appends, a pass after each, and return the events."""
    events: list[TurnEvent] = []
    stream = engine.open_stream(rate, events.extend, settings=settings)
    for chunk in chunks(pcm16(samples), rate=rate):
        stream.push(chunk)
        engine.process_pending()
    return events


def padded(speech: Speech, noise_db: float | None) -> tuple[np.ndarray, float, float]:
    """The fixture with more silence (or low noise) around it, and its words' bounds in ms."""
    audio = np.concatenate((silence(LEAD_S), speech.samples, silence(TAIL_S)))
    if noise_db is not None:
        audio = audio + noise(audio.size / RATE, noise_db, seed=len(speech.name))
    return audio, LEAD_S * 1000 + speech.start_ms, LEAD_S * 1000 + speech.end_ms


def assert_one_turn(events: list[TurnEvent], start_ms: float, end_ms: float) -> None:
    assert [type(event) for event in events] == [SpeechStarted, SpeechStopped, Commit], events
    started, stopped, commit = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert isinstance(commit, Commit)
    assert abs(started.audio_start_ms - start_ms) <= 2 * FRAME_MS
    # Within a frame early or three late (Silero hears the fading tail in -50 dB noise longer).
    assert -FRAME_MS <= stopped.audio_end_ms - end_ms <= 3 * FRAME_MS
    assert commit.audio_end_ms == stopped.audio_end_ms
    assert commit.utterance_start_ms == started.audio_start_ms - 300
    # Committed once silence_duration_ms (500) has passed, within one frame.
    assert 500 <= commit.detected_ms - stopped.audio_end_ms < 500 + FRAME_MS


@pytest.mark.parametrize("noise_db", [None, -60.0, -50.0], ids=["silence", "noise60", "noise50"])
@pytest.mark.parametrize("speech", FIXTURES, ids=[fixture.name for fixture in FIXTURES])
def test_hands_free_turn(engine: VadEngine, speech: Speech, noise_db: float | None) -> None:
    audio, start_ms, end_ms = padded(speech, noise_db)
    assert_one_turn(run_alone(engine, audio), start_ms, end_ms)


def test_two_utterances_make_two_turns(engine: VadEngine) -> None:
    first, second = FIXTURES[0], FIXTURES[1]
    audio = np.concatenate((silence(0.5), first.samples, silence(1.0), second.samples, silence(1)))
    events = run_alone(engine, audio)
    assert [type(event) for event in events] == [SpeechStarted, SpeechStopped, Commit] * 2
    second_start = events[3]
    assert isinstance(second_start, SpeechStarted)
    expected = 1000 * (0.5 + first.samples.size / RATE + 1.0) + second.start_ms
    assert abs(second_start.audio_start_ms - expected) <= 2 * FRAME_MS


@pytest.mark.parametrize(
    "audio",
    [silence(10.0), noise(10.0, -50.0, seed=1), noise(10.0, -35.0, seed=2)],
    ids=["silence", "noise50", "noise35"],
)
def test_no_turn_without_speech(engine: VadEngine, audio: np.ndarray) -> None:
    assert run_alone(engine, audio) == []


def test_speech_shorter_than_min_speech_starts_nothing(engine: VadEngine) -> None:
    speech = FIXTURES[0]
    start = round(speech.start_ms * RATE / 1000)
    # 190 ms of real speech: Silero hears it, but it is shorter than min_speech_ms (250).
    short = speech.samples[start : start + round(0.19 * RATE)]
    audio = np.concatenate((silence(1.0), short, silence(1.5)))
    assert run_alone(engine, audio) == []
    # The same sound does start a turn when min_speech_ms allows it: the model did hear speech.
    permissive = run_alone(engine, audio, TurnSettings(min_speech_ms=64))
    assert [type(event) for event in permissive] == [SpeechStarted, SpeechStopped, Commit]
    tone = np.concatenate((silence(1.0), blip(0.15), silence(1.5)))
    assert run_alone(engine, tone) == []


def test_batched_streams_decide_as_each_alone(engine: VadEngine) -> None:
    audios = [padded(speech, -55.0)[0] for speech in FIXTURES]
    alone = [run_alone(engine, audio) for audio in audios]
    batched_engine = VadEngine()
    events: list[list[TurnEvent]] = [[] for _ in audios]
    streams = [batched_engine.open_stream(RATE, sink.extend) for sink in events]
    for stream in streams:
        stream.probabilities = []
    # Each stream appends its own chunk sizes, so the batches mix streams at different points.
    pieces = [chunks(pcm16(audio), chunk_ms=20 + 10 * index) for index, audio in enumerate(audios)]
    for step in range(max(len(stream_pieces) for stream_pieces in pieces)):
        for stream, stream_pieces in zip(streams, pieces, strict=True):
            if step < len(stream_pieces):
                stream.push(stream_pieces[step])
        batched_engine.process_pending()
    assert events == alone
    assert all(len(turn) == 3 for turn in events)
    # Batching did happen: far fewer model calls than frames.
    assert batched_engine.model_calls * 2 < batched_engine.frames_processed


def test_audio_pushed_during_a_pass_waits_for_the_next_one(engine: VadEngine) -> None:
    """The loop may push while the worker drains the queue: the stream is queued again at once.
    The pass must not take it twice (two rows of one stream in a batch run from the same LSTM
    state, and the second chunk's frames are judged out of context); the next pass takes it."""
    audio = pcm16(padded(FIXTURES[0], -55.0)[0])
    whole = engine.open_stream(RATE, lambda events: None)
    whole.probabilities = []
    whole.push(audio)
    engine.process_pending()

    raced = engine.open_stream(RATE, lambda events: None)
    raced.probabilities = []
    pieces = chunks(audio, chunk_ms=200)
    take_frames = raced._take_frames

    def take_then_push() -> np.ndarray:
        # What the event loop's push does when it runs between the worker's dequeue and the
        # end of its pass.
        frames = take_frames()
        if pieces:
            raced.push(pieces.pop(0))
        return frames

    raced._take_frames = take_then_push  # type: ignore[method-assign]
    raced.push(pieces.pop(0))
    passes = 0
    while pieces or raced._inbox:
        engine.process_pending()
        passes += 1
    engine.process_pending()
    assert passes > 10  # a pass per pushed piece: never two of them in one pass
    assert raced.probabilities == pytest.approx(whole.probabilities, abs=1e-4)


@pytest.mark.parametrize("rate", [8000, 24000, 44100])
def test_other_sample_rates(engine: VadEngine, rate: int) -> None:
    speech = FIXTURES[0]
    audio, start_ms, end_ms = padded(speech, None)
    resampled = np.asarray(soxr.resample(audio, RATE, rate), dtype=np.float32)
    assert_one_turn(run_alone(engine, resampled, rate=rate), start_ms, end_ms)


async def test_worker_thread_delivers_events_on_the_loop() -> None:
    engine = VadEngine(tick_s=0.005)
    engine.start()
    try:
        loop = asyncio.get_running_loop()
        received: list[tuple[TurnEvent, bool]] = []
        done = asyncio.Event()

        def on_events(events: list[TurnEvent]) -> None:
            # Called by the event loop itself, not the worker thread.
            in_loop = asyncio.get_running_loop() is loop
            received.extend((event, in_loop) for event in events)
            if any(isinstance(event, Commit) for event in events):
                done.set()

        stream = engine.open_stream(RATE, on_events, loop=loop)
        audio, start_ms, end_ms = padded(FIXTURES[0], None)
        for chunk in chunks(pcm16(audio), chunk_ms=100):
            stream.push(chunk)
            await asyncio.sleep(0)
        await asyncio.wait_for(done.wait(), timeout=10)
        assert all(in_loop for _, in_loop in received)
        assert_one_turn([event for event, _ in received], start_ms, end_ms)
        stream.close()
        stream.push(pcm16(audio))
        await asyncio.sleep(0.2)
        assert len(received) == 3
    finally:
        engine.close()


def test_reset_turn_drops_the_turn_and_pushed_ms_counts_the_audio(engine: VadEngine) -> None:
    events: list[TurnEvent] = []
    stream = engine.open_stream(RATE, events.extend)
    speech = FIXTURES[0]
    audio = np.concatenate((silence(1.0), speech.samples, silence(1.5)))
    pieces = chunks(pcm16(audio))
    half = len(pieces) // 2  # the middle of the words: a turn is in progress
    for piece in pieces[:half]:
        stream.push(piece)
        engine.process_pending()
    assert stream.speaking and [type(event) for event in events] == [SpeechStarted]
    stream.reset_turn()  # the Sender committed by hand
    for piece in pieces[half:]:
        stream.push(piece)
        engine.process_pending()
    assert not stream.speaking
    # The rest of the words may start a new turn, but the dropped one is never committed.
    assert not any(isinstance(event, Commit) and event.audio_end_ms < half * 20 for event in events)
    assert stream.pushed_ms == round(audio.size / RATE * 1000)


def test_a_failing_stream_is_closed_and_the_others_go_on() -> None:
    engine = VadEngine(tick_s=0.001)
    events: list[TurnEvent] = []
    broken = engine.open_stream(RATE, events.extend)
    healthy = engine.open_stream(RATE, events.extend)

    def fail() -> np.ndarray:
        raise RuntimeError("boom")

    broken._take_frames = fail  # type: ignore[method-assign]
    engine.start()
    try:
        broken.push(pcm16(silence(0.1)))
        audio, start_ms, end_ms = padded(FIXTURES[0], None)
        healthy.push(pcm16(audio))
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert_one_turn(events, start_ms, end_ms)
        assert broken.closed and not healthy.closed
    finally:
        engine.close()
