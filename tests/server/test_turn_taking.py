"""Natural turn-taking through the server (issue 9): hands-free turns by server VAD,
response.cancel, barge-in by speech over the avatar, the echo guard, and a history of what was
heard.

Real clients on loopback; the VAD is the real Silero model (handlers/vad) on the server's shared
engine. Audio is sent faster than real time: VAD decides on the audio's own clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from handlers.heard import heard_text
from handlers.providers.base import LlmRequest, PcmChunk, TtsRequest
from handlers.vad import SpeechStarted, TurnEvent, VadEngine
from tests.server.audio_checks import TIME, WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import ChunkTts, HeldLlm, InstantStt, ScriptedLlm, heard, scripted_reply
from tests.server.harness import ChatClient, RunningServer
from tests.vad.signals import echo_path, noise, pcm16, speech_fixtures

RATE = 16_000
SILENCE_MS = 500
PREFIX_MS = 300


class RecordingLlm(ScriptedLlm):
    """ScriptedLlm that keeps each request (to see the history the model was given)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[LlmRequest] = []

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        async for delta in super().respond(request):
            yield delta


class SlowTts(ChunkTts):
    """Half a second of tone per word, in one chunk per word: replies that play for seconds."""

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        for _ in text.split():
            yield PcmChunk(b"\x10\x00" * (self.rate // 2), self.rate)
            await asyncio.sleep(0)


def padded(pcm: bytes, *, before_s: float, after_s: float, noise_db: float | None) -> bytes:
    """``pcm`` with silence (or low white noise) before and after it."""
    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    parts = [np.zeros(round(s * RATE), dtype=np.float32) for s in (before_s, after_s)]
    audio = np.concatenate((parts[0], speech, parts[1]))
    if noise_db is not None:
        audio = audio + noise(audio.size / RATE, noise_db, seed=3)
    return pcm16(audio)


async def start(
    serve: ServeFn,
    llm: ScriptedLlm,
    tts: ChunkTts | None = None,
    *,
    detection: dict[str, Any] | None = None,
    response_type: str = "chain",
    animation: dict[str, bool] | None = None,
) -> tuple[RunningServer, ChatClient, ChatClient]:
    server = await serve(
        factories={
            "stt": {"openai": lambda env: InstantStt()},
            "llm": {"openai": lambda env: llm},
            "tts": {"openai": lambda env: tts or ChunkTts()},
        }
    )
    sender, receiver = await server.pair()
    update: dict[str, Any] = {
        "stt": {"provider": "openai"},
        "llm": {"provider": "openai"},
        "tts": {"provider": "openai", "responseType": response_type},
    }
    if detection is not None:
        update["turnDetection"] = detection
    if animation is not None:
        update["animation"] = animation
    await sender.emit("session.update", update)
    updated = await sender.wait_for("session.updated")
    if detection is not None:
        assert updated["turnDetection"] == {**updated["turnDetection"], **detection}
    return server, sender, receiver


SERVER_VAD = {"type": "server_vad"}
NO_TIMINGS = {"visemes": False, "words": False}
"""The fake voice is a tone: it has no words to time, so the history's cut is the estimate from
the text's length (the cut by word timings: tests/server/test_heard.py)."""


def test_turn_detection_defaults_keep_explicit_commits() -> None:
    from handlers.settings import Settings

    shown = Settings.defaults().session_updated("s").model_dump(by_alias=True, mode="json")
    assert shown["turnDetection"] == {
        "type": "none",
        "threshold": 0.5,
        "prefixPaddingMs": 300,
        "silenceDurationMs": 500,
        "minSpeechMs": 250,
        "interruptResponse": True,
    }


@pytest.mark.parametrize("noise_db", [None, -55.0], ids=["silence", "low-noise"])
async def test_hands_free_turns_without_a_commit(serve: ServeFn, noise_db: float | None) -> None:
    """Two utterances padded with silence or low noise, no commit sent: each becomes a turn with
    its speech events, commit, transcript and reply; the utterance is cut around the speech.
    (Sent faster than real time, the second would interrupt the first reply, still playing.)"""
    llm = RecordingLlm()
    detection = {"type": "server_vad", "interruptResponse": False}
    _, sender, receiver = await start(serve, llm, detection=detection)
    first, second = clip(WEATHER), clip(TIME)
    audio = padded(first, before_s=0.6, after_s=1.0, noise_db=noise_db) + padded(
        second, before_s=0.0, after_s=1.2, noise_db=noise_db
    )
    await sender.send_pcm(audio)

    items = []
    for index in range(2):
        committed = await sender.wait_for(
            "input.buffer.committed", lambda p: p["itemId"] not in items
        )
        items.append(committed["itemId"])
        item = committed["itemId"]
        await receiver.wait_final(item)
        started = sender.named("input.speech.started")[index]
        stopped = sender.named("input.speech.stopped")[index]
        assert started["itemId"] == stopped["itemId"] == item
        names = [
            e.name
            for e in sender.events
            if isinstance(e.payload, dict) and e.payload.get("itemId") == item
        ]
        assert names[:4] == [
            "input.buffer.initialized",
            "input.speech.started",
            "input.speech.stopped",
            "input.buffer.committed",
        ], names
        assert names[4] == "request.transcribe.done"
        # The utterance begins prefixPaddingMs before the speech (the first had room for it).
        if index == 0:
            assert started["audioStartMs"] == PREFIX_MS
        assert started["audioStartMs"] < stopped["audioEndMs"]
    assert "custom.error" not in sender.names()
    assert "input.buffer.commit" not in sender.names()

    # Each utterance holds its speech, the padding before it and the silence that ended it,
    # not the whole stream: InstantStt says how much audio each turn had.
    transcripts = sender.named("request.transcribe.done")
    bounds = {speech.name: speech for speech in speech_fixtures()}
    for transcript, name in zip(transcripts, (WEATHER, TIME), strict=True):
        words_ms = bounds[name].end_ms - bounds[name].start_ms
        assert transcript["durationMs"] >= words_ms, (transcript, words_ms)
        assert transcript["durationMs"] <= words_ms + PREFIX_MS + SILENCE_MS + 300
        assert transcript["text"] == heard(transcript["durationMs"] * 2 * RATE // 1000, RATE)
    replies = receiver.named("response.text")
    assert [r["itemId"] for r in replies] == items
    assert replies[0]["text"] == scripted_reply(transcripts[0]["text"])
    # The second turn's model saw the first exchange.
    assert [m.role for m in llm.requests[-1].messages] == ["user", "assistant", "user"]


async def test_silence_and_noise_alone_start_no_turn(serve: ServeFn) -> None:
    _, sender, _ = await start(serve, RecordingLlm(), detection=SERVER_VAD)
    quiet = pcm16(np.concatenate((np.zeros(RATE * 2, np.float32), noise(3.0, -50.0, seed=5))))
    await sender.send_pcm(quiet)
    await sender.quiet(1.0)
    assert sender.names() == ["session.updated"]


async def test_manual_commit_still_works_with_server_vad(serve: ServeFn) -> None:
    """The Sender commits before the silence would have: that is the turn, and no second
    commit of it follows from VAD."""
    _, sender, receiver = await start(serve, RecordingLlm(), detection=SERVER_VAD)
    await sender.send_pcm(padded(clip(WEATHER), before_s=0.5, after_s=0.1, noise_db=None))
    await sender.wait_for("input.speech.started")
    await sender.commit()
    committed = await sender.wait_for("input.buffer.committed")
    await receiver.wait_final(committed["itemId"])
    await sender.send_pcm(bytes(RATE * 2 * 2))  # 2 s of the silence that would have ended it
    await sender.quiet(0.5)
    assert len(sender.named("input.buffer.committed")) == 1
    assert len(sender.named("input.speech.stopped")) == 0
    assert "custom.error" not in sender.names()
    # With no speech heard, a manual commit takes what came since the last commit.
    await sender.commit()
    again = await sender.wait_for("input.buffer.committed", lambda p: p != committed)
    transcript = await sender.wait_for(
        "request.transcribe.done", lambda p: p["itemId"] == again["itemId"]
    )
    assert transcript["durationMs"] == 2000


async def test_response_cancel_mid_reply(serve: ServeFn) -> None:
    """response.cancel while the model writes: response.cancelled at once to Receivers and the
    Sender, no delta of it after, the model's stream closed, the history cut to what played."""
    llm = HeldLlm()
    _, sender, receiver = await start(serve, llm, response_type="stream")
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    first = await receiver.wait_for("response.audio.delta")
    assert llm.opened == 1 and llm.closed == 0

    await sender.emit("response.cancel", {"responseId": first["responseId"]})
    cancelled = await receiver.wait_event("response.cancelled")
    assert cancelled.payload["responseId"] == first["responseId"]
    assert cancelled.payload["itemId"] == first["itemId"]
    assert cancelled.payload["reason"] == "client_cancel"
    assert await sender.wait_for("response.cancelled") == cancelled.payload
    assert llm.closed == 1 and llm.finished == 0  # the model's stream was closed

    await receiver.quiet(0.3)
    deltas = [
        p for p in receiver.named("response.audio.delta") if p["responseId"] == first["responseId"]
    ]
    after = [
        e for e in receiver.events if e.at >= cancelled.at and e.name == "response.audio.delta"
    ]
    assert after == []
    assert cancelled.payload["lastSequence"] == deltas[-1]["sequence"]
    assert not any(d["final"] for d in deltas)

    # Cancelled again, or an unknown response: errors, the connection stays.
    mark = sender.mark()
    await sender.emit("response.cancel", {"responseId": first["responseId"]})
    await sender.wait_error("response_not_active", after=mark)
    mark = sender.mark()
    await sender.emit("response.cancel", {"responseId": "resp_0000000000000000"})
    await sender.wait_error("unknown_response", after=mark)
    mark = sender.mark()
    await sender.emit("response.cancel", {})
    await sender.wait_error("response_not_active", after=mark)

    # The next turn's model sees what was heard of the cancelled reply (sent just now, so about
    # nothing of it had played: the estimate is of audio sent less audio still queued).
    llm.go.set()
    await sender.send_pcm(pcm)
    await sender.commit()
    await receiver.wait_for("response.audio.delta", lambda p: p["final"])
    roles = [m.role for m in llm.requests[-1].messages]
    assert roles in (["user", "user"], ["user", "assistant", "user"])


async def test_played_report_cuts_the_history_and_bad_reports_get_errors(serve: ServeFn) -> None:
    llm = RecordingLlm()
    server, sender, receiver = await start(serve, llm, SlowTts(), animation=NO_TIMINGS)
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    final = await receiver.wait_for("response.audio.delta", lambda p: p["final"])
    reply = (await receiver.wait_for("response.text"))["text"]
    deltas = receiver.named("response.audio.delta")
    audio_ms = sum(len(d["audio"]) for d in deltas) * 1000 // (2 * final["sampleRate"])
    assert audio_ms > 3000

    # The avatar was stopped on the Receiver's side after 1.6 s.
    await receiver.emit(
        "response.audio.played", {"responseId": final["responseId"], "playedMs": 1600}
    )
    # Reports the server must refuse: another session's response, a Sender reporting.
    _, other_receiver = await server.pair()
    mark = other_receiver.mark()
    await other_receiver.emit(
        "response.audio.played", {"responseId": final["responseId"], "playedMs": 10}
    )
    await other_receiver.wait_error("unknown_response", after=mark)
    mark = sender.mark()
    await sender.emit("response.audio.played", {"responseId": final["responseId"], "playedMs": 10})
    await sender.wait_error("role_not_allowed", after=mark)
    mark = receiver.mark()
    await receiver.emit("response.cancel", {})
    await receiver.wait_error("role_not_allowed", after=mark)

    await sender.send_pcm(pcm)
    await sender.commit()
    await receiver.wait_for("response.audio.delta", lambda p: p["final"] and p != final)
    history = [(m.role, m.content) for m in llm.requests[-1].messages]
    kept = history[1][1]
    assert history[1][0] == "assistant"
    assert kept == heard_text(reply, 1600, audio_ms)
    assert kept and reply.startswith(kept) and len(kept) < len(reply)


async def test_a_later_report_of_the_whole_reply_restores_it(
    serve: ServeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server may cut the history by its own estimate (a cancel as the Receiver played the
    # last of it); the Receiver's report that it played all of it has the last word.
    llm = RecordingLlm()
    server, sender, receiver = await start(serve, llm, SlowTts(), animation=NO_TIMINGS)
    session = server.chat.sessions[sender.session_id]
    writes: list[None] = []
    history_changed = session.history_changed
    monkeypatch.setattr(session, "history_changed", lambda: writes.append(history_changed()))
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    final = await receiver.wait_for("response.audio.delta", lambda p: p["final"])
    reply = (await receiver.wait_for("response.text"))["text"]
    audio_ms = (
        sum(len(d["audio"]) for d in receiver.named("response.audio.delta"))
        * 1000
        // (2 * final["sampleRate"])
    )
    played = {"responseId": final["responseId"], "playedMs": audio_ms}

    await receiver.emit("response.audio.played", played)  # all of it: nothing to write
    await receiver.emit("response.audio.played", {**played, "playedMs": 1000})
    await receiver.emit("response.audio.played", played)
    await sender.send_pcm(pcm)
    await sender.commit()
    await receiver.wait_for("response.audio.delta", lambda p: p["final"] and p != final)

    assert len(writes) == 2  # the cut, and the whole reply back
    history = [(m.role, m.content) for m in llm.requests[-1].messages]
    assert history[1] == ("assistant", reply)


async def test_barge_in_by_speech_during_playback(serve: ServeFn) -> None:
    """The reply has been written and sent but still plays (seconds of audio) when the person
    speaks: response.cancelled (barge_in) at once, and the history keeps what was heard."""
    llm = RecordingLlm()
    _, sender, receiver = await start(
        serve, llm, SlowTts(), detection=SERVER_VAD, animation=NO_TIMINGS
    )
    speech = clip(WEATHER)
    await sender.send_pcm(padded(speech, before_s=0.5, after_s=0.8, noise_db=None))
    committed = await sender.wait_for("input.buffer.committed")
    final = await receiver.wait_for("response.audio.delta", lambda p: p["final"])
    reply = (await receiver.wait_for("response.text"))["text"]
    assert final["itemId"] == committed["itemId"]

    # Speech over the avatar, while its reply plays.
    await sender.send_pcm(padded(clip(TIME), before_s=0.2, after_s=0.0, noise_db=None))
    cancelled = await receiver.wait_for("response.cancelled")
    assert cancelled["responseId"] == final["responseId"]
    assert cancelled["reason"] == "barge_in"
    assert cancelled["lastSequence"] == final["sequence"]
    assert await sender.wait_for("response.cancelled") == cancelled
    # The Receiver says how much it played; the new turn goes on.
    await receiver.emit(
        "response.audio.played", {"responseId": final["responseId"], "playedMs": 900}
    )
    await sender.send_pcm(bytes(RATE * 2))
    second = await sender.wait_for(
        "input.buffer.committed", lambda p: p["itemId"] != committed["itemId"]
    )
    await receiver.wait_final(second["itemId"])
    history = [(m.role, m.content) for m in llm.requests[-1].messages]
    assert [role for role, _ in history] == ["user", "assistant", "user"]
    assert history[1][1] == heard_text(reply, 900, cancelled["audioSentMs"])
    assert len(history[1][1]) < len(reply)
    assert "custom.error" not in sender.names()


async def test_speech_while_the_model_writes_interrupts_it(serve: ServeFn) -> None:
    llm = HeldLlm()
    _, sender, receiver = await start(serve, llm, detection=SERVER_VAD, response_type="stream")
    await sender.send_pcm(padded(clip(WEATHER), before_s=0.5, after_s=0.8, noise_db=None))
    first = await receiver.wait_for("response.audio.delta")
    await sender.send_pcm(padded(clip(TIME), before_s=0.1, after_s=0.0, noise_db=None))
    cancelled = await receiver.wait_event("response.cancelled")
    assert cancelled.payload["responseId"] == first["responseId"]
    assert cancelled.payload["reason"] == "barge_in"
    assert llm.closed == 1 and llm.finished == 0
    await receiver.quiet(0.3)
    assert not [
        e for e in receiver.events if e.at >= cancelled.at and e.name == "response.audio.delta"
    ]


async def test_interrupt_response_off_lets_the_reply_finish(serve: ServeFn) -> None:
    llm = HeldLlm()
    _, sender, receiver = await start(
        serve,
        llm,
        detection={"type": "server_vad", "interruptResponse": False},
        response_type="stream",
    )
    await sender.send_pcm(padded(clip(WEATHER), before_s=0.5, after_s=0.8, noise_db=None))
    await receiver.wait_for("response.audio.delta")
    mark = sender.mark()
    await sender.send_pcm(padded(clip(TIME), before_s=0.1, after_s=0.0, noise_db=None))
    await sender.wait_for("input.speech.started", after=mark)
    await sender.quiet(0.5)
    assert "response.cancelled" not in receiver.names()
    llm.go.set()
    await receiver.wait_for("response.audio.delta", lambda p: p["final"])


async def test_conversation_clear_starts_afresh(serve: ServeFn) -> None:
    llm = RecordingLlm()
    _, sender, receiver = await start(serve, llm)
    pcm = clip(WEATHER)
    for _ in range(2):
        mark = receiver.mark()
        await sender.send_pcm(pcm)
        await sender.commit()
        await receiver.wait_for("response.text", after=mark)
    await sender.emit("conversation.clear")
    mark = receiver.mark()
    await sender.send_pcm(pcm)
    await sender.commit()
    await receiver.wait_for("response.text", after=mark)
    assert [m.role for m in llm.requests[1].messages] == ["user", "assistant", "user"]
    assert [m.role for m in llm.requests[2].messages] == ["user"]


def _reply_echo(
    deltas: list[Any], echo_db: float, delay_ms: int, *, room: bool = False
) -> np.ndarray:
    """What the Sender's microphone hears of the Receiver's audio: the reply ``echo_db`` down,
    ``delay_ms`` late (with ``room``, through a small loudspeaker and a room's reverberation),
    at the input rate, over low room noise."""
    from handlers.audio import resample_pcm16

    pcm = b"".join(d["audio"] for d in deltas)
    heard_pcm = resample_pcm16(pcm, deltas[0]["sampleRate"], RATE)
    reply = echo_path(np.frombuffer(heard_pcm, dtype="<i2").astype(np.float32) / 32768.0, room)
    mic = noise(delay_ms / 1000 + reply.size / RATE + 1.0, -60.0, seed=11)
    start = delay_ms * RATE // 1000
    mic[start : start + reply.size] += reply * 10 ** (echo_db / 20)
    return mic


async def speaking_pair(server: RunningServer) -> tuple[ChatClient, ChatClient]:
    """A Sender and a Receiver on the real speech engine (its reply is the echo), server VAD on."""
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {
            "llm": {"provider": "openai"},
            "tts": {"responseType": "chain"},
            "turnDetection": SERVER_VAD,
        },
    )
    await sender.wait_for("session.updated")
    return sender, receiver


async def test_the_avatars_own_voice_does_not_interrupt_it(serve: ServeFn) -> None:
    """The real speech engine's reply fed back into the Sender's microphone (12 dB down, 120 ms
    late) while it plays starts no turn: the echo guard knows what was sent. The same audio
    without the guard does start one (so the test can fail)."""
    llm = HeldLlm()
    server = await serve(factories={"llm": {"openai": lambda env: llm}})
    sender, receiver = await speaking_pair(server)
    await sender.send_pcm(padded(clip(WEATHER), before_s=0.5, after_s=0.8, noise_db=None))
    delta = await receiver.wait_for("response.audio.delta")
    mic = _reply_echo([delta], echo_db=-12.0, delay_ms=120)
    mark = sender.mark()
    await sender.send_pcm(pcm16(mic))
    await sender.quiet(1.0)
    assert "input.speech.started" not in sender.names(after=mark)
    assert "response.cancelled" not in receiver.names()
    llm.go.set()

    engine = VadEngine()
    events: list[TurnEvent] = []
    stream = engine.open_stream(RATE, events.extend)
    stream.push(pcm16(mic))
    engine.process_pending()
    assert any(isinstance(e, SpeechStarted) for e in events), "the echo alone is not speech"


@pytest.mark.parametrize("delay_ms", [150, 300])
async def test_a_person_talking_over_the_avatars_echo_through_a_room_interrupts_it(
    serve: ServeFn, delay_ms: int
) -> None:
    """The real speech engine's reply heard through a room 6 dB down, ``delay_ms`` late: alone it
    starts no turn; with a person talking over it from 0.8 s on the person interrupts (issue 9's
    two misses; this reply needs both of the guard's mends: no gain learnt from the person's
    first frames, and a band far above the echo counting twice)."""
    llm = HeldLlm()
    server = await serve(factories={"llm": {"openai": lambda env: llm}})
    person = next(s for s in speech_fixtures() if s.name == "please_tell_me_a_joke.wav")
    for with_person in (False, True):
        sender, receiver = await speaking_pair(server)
        await sender.send_pcm(padded(clip(WEATHER), before_s=0.3, after_s=0.8, noise_db=None))
        delta = await receiver.wait_for("response.audio.delta")
        mic = _reply_echo([delta], echo_db=-6.0, delay_ms=delay_ms, room=True)
        if with_person:
            at = round(0.8 * RATE)
            end = min(mic.size, at + person.samples.size)
            mic[at:end] += person.samples[: end - at]
        mark = sender.mark()
        await sender.send_pcm(pcm16(mic))
        if with_person:
            await receiver.wait_for("response.cancelled")
            assert len(sender.named("input.speech.started", after=mark)) == 1
        else:
            await sender.quiet(1.0)
            assert "input.speech.started" not in sender.names(after=mark)
            assert "response.cancelled" not in receiver.names()
        llm.go.set()
        llm.go = asyncio.Event()
        await sender.disconnect()
        await receiver.disconnect()
