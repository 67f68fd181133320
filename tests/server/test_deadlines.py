"""Issue 12, finding 5: a dripping or hung upstream ends in `provider_error` within the stage's
whole-call deadline, not after the SDK's per-read timeout times its attempts, and the session's
next turn runs.

The upstream is a loopback HTTP server speaking OpenAI's wire protocol, driven by the real
OpenAI SDK adapters: the chat stream sends Server-Sent Events comments (``: keep-alive``, which
the SSE format allows and clients must ignore) forever, so every read succeeds and no per-read
timeout ever trips; the transcription endpoint accepts the request and never answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import (
    ChunkTts,
    CountedTts,
    HeldLlm,
    InstantStt,
    ScriptedLlm,
    heard,
    scripted_reply,
)

API_KEY = "sk-test-drip-0123456789"
DEADLINE_S = 1.5
SLACK_S = 1.5
"""The error comes within the deadline plus this (closing the stream, the event's trip)."""
TURN_DEADLINE_S = 1.0


class StallingOpenAI:
    """``/v1/chat/completions`` drips SSE comments forever; ``/v1/audio/transcriptions`` never
    answers. Counts requests and notices when the client hangs up."""

    def __init__(self) -> None:
        self.chat_requests = 0
        self.transcription_requests = 0
        self.hung_up = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        assert request.headers.get("Authorization") == f"Bearer {API_KEY}"
        body = await request.json()
        assert body.get("stream") is True
        self.chat_requests += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b": keep-alive\n\n")
                await asyncio.sleep(0.05)
        except (ConnectionResetError, asyncio.CancelledError):
            self.hung_up += 1
            raise

    async def _transcribe(self, request: web.Request) -> web.Response:
        await request.read()
        self.transcription_requests += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.hung_up += 1
            raise
        return web.json_response({"text": "never"})

    async def __aenter__(self) -> StallingOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        self._runner = web.AppRunner(
            app, shutdown_timeout=0.5, access_log=None, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/v1"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self) -> dict[str, str]:
        # A per-read timeout and retries that alone would take 30 s x 3 to give up.
        return {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": self.url,
            "METAHUMAN_PROVIDER_TIMEOUT_S": "30",
            "METAHUMAN_PROVIDER_MAX_RETRIES": "2",
        }


@pytest.fixture
async def stalling() -> AsyncIterator[StallingOpenAI]:
    async with StallingOpenAI() as upstream:
        yield upstream


async def test_a_dripping_language_model_ends_in_provider_error_within_its_deadline(
    serve: ServeFn, stalling: StallingOpenAI
) -> None:
    server = await serve(
        env=stalling.env(),
        llm_deadline_seconds=DEADLINE_S,
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "tts": {"local": lambda env: ChunkTts()},
        },
    )
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    mark = sender.mark()
    await sender.send_pcm(clip(WEATHER)[:16000])
    await sender.commit()
    await sender.wait_for("request.transcribe.done", after=mark)
    started = time.monotonic()
    error = await sender.wait_error("provider_error", after=mark, within=DEADLINE_S + 10)
    took = time.monotonic() - started
    print(f"dripping LLM: provider_error after {took:.2f} s (deadline {DEADLINE_S} s)")
    assert error["stage"] == "llm" and error["provider"] == "openai", error
    assert "deadline" in error["message"]
    assert took < DEADLINE_S + SLACK_S
    assert stalling.chat_requests == 1  # no retry after the stream had started
    await asyncio.sleep(0.3)
    assert stalling.hung_up == 1  # the stream was closed, not left dripping

    # The session's queue is not wedged: the next turn runs on another model.
    await sender.emit("session.update", {"llm": {"provider": "local"}})
    await sender.wait_for("session.updated", after=mark)
    r0 = receiver.mark()
    await sender.send_pcm(clip(WEATHER)[:16000])
    await sender.commit()
    await receiver.wait_for("response.text", after=r0, within=10)


async def test_a_hung_recogniser_ends_in_provider_error_within_its_deadline(
    serve: ServeFn, stalling: StallingOpenAI
) -> None:
    server = await serve(
        env=stalling.env(),
        stt_deadline_seconds=DEADLINE_S,
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: ScriptedLlm()},
            "tts": {"local": lambda env: ChunkTts()},
        },
    )
    sender, _receiver = await server.pair()
    await sender.emit("session.update", {"stt": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    mark = sender.mark()
    await sender.send_pcm(clip(WEATHER)[:16000])
    started = time.monotonic()
    await sender.commit()
    error = await sender.wait_error("provider_error", after=mark, within=DEADLINE_S + 10)
    took = time.monotonic() - started
    print(
        f"hung STT: provider_error after {took:.2f} s (deadline {DEADLINE_S} s; 30 s x 3 without)"
    )
    assert error["stage"] == "stt" and error["provider"] == "openai", error
    assert took < DEADLINE_S + SLACK_S
    assert stalling.transcription_requests >= 1
    await asyncio.sleep(0.3)
    assert stalling.hung_up == stalling.transcription_requests  # every request closed

    await sender.emit("session.update", {"stt": {"provider": "local"}})
    await sender.wait_for("session.updated", after=mark)
    s1 = sender.mark()
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=s1, within=10)
    assert done["provider"] == "local" and done["text"].startswith("heard ")


async def test_a_turn_past_its_deadline_ends_its_reply_and_says_so(serve: ServeFn) -> None:
    """The whole-turn deadline stops a reply mid-speech: the Receiver gets the response's final
    delta (it learns nothing more follows), Sender and Receiver get `turn_timeout`, the history
    keeps what was sent, and the session goes on."""
    llm, tts = HeldLlm(), CountedTts()  # the model writes one sentence, then hangs
    server = await serve(
        turn_deadline_seconds=TURN_DEADLINE_S,
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: llm},
            "tts": {"local": lambda env: tts},
        },
    )
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"tts": {"responseType": "stream"}})
    await sender.wait_for("session.updated")
    pcm = clip(WEATHER)[:16000]
    user_text = heard(len(pcm), 16000)
    first_sentence = scripted_reply(user_text).partition(". ")[0] + "."
    s0, r0 = sender.mark(), receiver.mark()
    await sender.send_pcm(pcm)
    started = time.monotonic()
    await sender.commit()
    item_id = (await sender.wait_for("input.buffer.committed", after=s0))["itemId"]
    first = await receiver.wait_for("response.audio.delta", after=r0)
    assert first["text"] == first_sentence and not first["final"]

    final = await receiver.wait_final(item_id, after=r0, within=TURN_DEADLINE_S + 10)
    error = await receiver.wait_error("turn_timeout", after=r0, within=SLACK_S)
    took = time.monotonic() - started
    print(f"turn deadline: final delta and turn_timeout after {took:.2f} s")
    assert TURN_DEADLINE_S <= took < TURN_DEADLINE_S + SLACK_S
    assert error["itemId"] == item_id and "deadline" in error["message"]
    sender_error = await sender.wait_error("turn_timeout", after=s0, within=SLACK_S)
    assert sender_error["itemId"] == item_id
    # The final delta closes the response that was going out, and comes before the error.
    deltas = receiver.named("response.audio.delta", after=r0)
    assert all(d["responseId"] == first["responseId"] for d in deltas)
    assert [d["sequence"] for d in deltas] == list(range(len(deltas)))
    assert [d["final"] for d in deltas] == [False] * (len(deltas) - 1) + [True]
    assert final["sequence"] == len(deltas) - 1
    events = receiver.events[r0:]
    at_final = next(i for i, e in enumerate(events) if e.payload is final)
    assert [e.name for e in events[at_final + 1 :]] == ["custom.error"]
    assert receiver.named("response.text", after=r0) == []  # the model never finished
    # Both provider streams were closed.
    assert (llm.opened, llm.closed, llm.finished) == (1, 1, 0)
    assert tts.closed == tts.opened
    await receiver.quiet(0.3)
    assert len(receiver.named("response.audio.delta", after=r0)) == len(deltas)

    # The next turn runs whole, and its model sees what was sent of the stopped reply.
    llm.go.set()
    r1 = receiver.mark()
    await sender.send_pcm(pcm)
    await sender.commit()
    reply = await receiver.wait_for("response.text", after=r1)
    assert reply["text"] == scripted_reply(user_text)
    history = [(m.role, m.content) for m in llm.requests[-1].messages]
    assert history == [("user", user_text), ("assistant", first_sentence), ("user", user_text)]
