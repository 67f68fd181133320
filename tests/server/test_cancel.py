"""Session.cancel_response(): the turn in flight stops at once, its provider streams are closed,
nothing more of its response goes out, and the session goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from generated.models import ResponseAudioDelta
from handlers.providers.base import LlmRequest
from handlers.session import Session
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import CountedTts, HeldLlm, InstantStt, heard, scripted_reply
from tests.server.harness import ChatClient, RunningServer, check_response, run_turn

HELD_SEQUENCE = 1
"""The delta whose emit the first test holds: the turn is cancelled while it is being sent."""


class DeltaSpy:
    """Wraps the server's emitter: records each delta (and whether it came after the cancel
    returned), and, when ``hold`` says, holds the emit of the first response's delta
    HELD_SEQUENCE after handing it over, so the speech stream is suspended at a yield when the
    cancel comes."""

    def __init__(self, server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emit = server.chat.emitter.response_audio_delta
        self.sent: list[tuple[str, int, bool]] = []
        self.first_response: str | None = None
        self.holding = asyncio.Event()
        self.cancel_returned = False
        self.hold = True
        monkeypatch.setattr(server.chat.emitter, "response_audio_delta", self.spy)

    async def spy(self, session_id: str, payload: ResponseAudioDelta) -> None:
        self.sent.append((payload.response_id, payload.sequence, self.cancel_returned))
        self.first_response = self.first_response or payload.response_id
        await self.emit(session_id, payload)
        if (
            self.hold
            and payload.response_id == self.first_response
            and payload.sequence == HELD_SEQUENCE
        ):
            self.holding.set()
            await asyncio.Event().wait()  # until cancelled


@dataclass
class Rig:
    llm: HeldLlm
    tts: CountedTts
    spy: DeltaSpy
    sender: ChatClient
    receiver: ChatClient
    session: Session


async def start(serve: ServeFn, monkeypatch: pytest.MonkeyPatch) -> Rig:
    """A session on the fakes, in `stream` mode (a delta per chunk of speech)."""
    llm, tts = HeldLlm(), CountedTts()
    server = await serve(
        factories={
            "stt": {"openai": lambda env: InstantStt()},
            "llm": {"openai": lambda env: llm},
            "tts": {"openai": lambda env: tts},
        }
    )
    spy = DeltaSpy(server, monkeypatch)
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {
            "stt": {"provider": "openai"},
            "llm": {"provider": "openai"},
            "tts": {"provider": "openai", "responseType": "stream"},
        },
    )
    await sender.wait_for("session.updated")
    return Rig(llm, tts, spy, sender, receiver, server.chat.sessions[sender.session_id])


def deltas_of(receiver: ChatClient, response_id: str) -> list[Any]:
    return [p for p in receiver.named("response.audio.delta") if p["responseId"] == response_id]


async def test_cancel_mid_reply_closes_the_streams_and_sends_nothing_more(
    serve: ServeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await start(serve, monkeypatch)
    llm, tts, spy, session = rig.llm, rig.tts, rig.spy, rig.session
    sender, receiver = rig.sender, rig.receiver
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    async with asyncio.timeout(20):
        await spy.holding.wait()  # mid-reply: the model holds, a delta is being sent
    assert (llm.opened, llm.closed, tts.opened, tts.closed) == (1, 0, 1, 0)

    cancelled = await session.cancel_response("test")
    spy.cancel_returned = True

    # (a) Both provider streams were closed before cancel_response returned, mid-stream.
    assert (llm.opened, llm.closed, llm.finished) == (1, 1, 0)
    assert (tts.opened, tts.closed, tts.finished) == (1, 1, 0)
    # What it returns says what went out.
    assert cancelled is not None
    assert cancelled.response_id == spy.first_response
    assert cancelled.item_id == (await sender.wait_for("input.buffer.initialized"))["itemId"]
    assert cancelled.reason == "test"
    assert cancelled.last_sequence == HELD_SEQUENCE
    user_text = heard(len(pcm), 16000)
    first_sentence = scripted_reply(user_text).partition(". ")[0] + "."
    assert cancelled.spoken_text == first_sentence
    # Two of the three chunks of the sentence's speech (40 ms a word), less what the resampler
    # holds back.
    sentence_ms = 40 * len(first_sentence.split())
    assert sentence_ms // 2 <= cancelled.audio_sent_ms <= sentence_ms * 2 // 3
    assert session.turns.in_flight is None
    assert await session.cancel_response("again") is None

    # (b) Nothing of the response after the cancel: the Receiver gets exactly the deltas counted.
    await receiver.quiet(0.3)
    assert [(r, s) for r, s, after in spy.sent if after] == []
    deltas = deltas_of(receiver, cancelled.response_id)
    assert [d["sequence"] for d in deltas] == list(range(cancelled.last_sequence + 1))
    assert not any(d["final"] for d in deltas)
    assert deltas[0]["text"] == first_sentence
    assert receiver.named("response.text") == []  # the model never finished
    assert "custom.error" not in sender.names()

    # (c) The session goes on: the next turn runs whole, and its model sees what was said.
    llm.go.set()
    result = await run_turn(sender, receiver, pcm)
    check_response(result)
    assert result.reply["text"] == scripted_reply(user_text)
    assert result.reply["responseId"] != cancelled.response_id
    history = [(m.role, m.content) for m in llm.requests[-1].messages]
    assert history == [("user", user_text), ("assistant", first_sentence), ("user", user_text)]
    assert (llm.opened, llm.closed, llm.finished) == (2, 2, 1)
    assert tts.closed == tts.opened
    assert await session.cancel_response("idle") is None


async def test_cancel_before_any_audio_leaves_no_history(
    serve: ServeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while the model has not written a sentence yet: nothing was sent (sequence -1)
    and nothing is remembered; the turn waiting behind it runs next."""
    rig = await start(serve, monkeypatch)
    llm, session, sender, receiver = rig.llm, rig.session, rig.sender, rig.receiver
    rig.spy.hold = False
    respond = llm.respond
    started = asyncio.Event()

    async def held_before_writing(request: LlmRequest) -> AsyncIterator[str]:
        started.set()
        await llm.go.wait()
        async for delta in respond(request):
            yield delta

    monkeypatch.setattr(llm, "respond", held_before_writing)
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    await sender.send_pcm(pcm)
    await sender.commit()  # waits behind the first
    async with asyncio.timeout(20):
        await started.wait()
    for _ in range(2000):  # the second commit has no answer to wait for
        if len(session.turns) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(session.turns) == 2

    cancelled = await session.cancel_response("test")

    assert cancelled is not None
    assert (cancelled.last_sequence, cancelled.audio_sent_ms, cancelled.spoken_text) == (-1, 0, "")
    assert len(session.turns) == 1
    llm.go.set()
    second = await receiver.wait_for(
        "response.audio.delta", lambda p: p["final"] and p["responseId"] != cancelled.response_id
    )
    assert second["itemId"] != cancelled.item_id
    assert deltas_of(receiver, cancelled.response_id) == []
    # The second turn's model saw no trace of the first.
    assert [m.role for m in llm.requests[-1].messages] == ["user"]
