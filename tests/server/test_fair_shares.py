"""Issue 12, findings 1 and 4: no client holds an engine it is not using, and turns nobody can
hear are not run.

* Decoder starvation: two Senders start utterances and never commit; five victim sessions each
  still get their transcript (committed speech takes a decoder back from an uncommitted one).
* An uncommitted utterance with no audio for the idle timeout is dropped with
  ``utterance_timeout`` and gives its decoder back.
* 100 throwaway sessions commit 4 turns each and disconnect: their turns are cancelled (no
  model stream left running), a server-wide bound keeps them from running all at once, and a
  real user's turn runs at once.
* That bound, by default, does not hold back ordinary sessions replying at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from handlers.providers.base import LlmRequest
from handlers.providers.stt.local import LocalSpeechToText
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import ChunkTts, InstantStt, ScriptedLlm
from tests.server.harness import ChatClient, RunningServer, new_session_id

FAKE_REPLIES = {
    "llm": {"local": lambda env: ScriptedLlm()},
    "tts": {"local": lambda env: ChunkTts()},
}
TENTH_S = 3200
"""0.1 s of 16 kHz PCM16."""


async def drip(sender: ChatClient, pcm: bytes, every_s: float) -> None:
    """Append a tenth of a second every ``every_s``, forever, never committing."""
    while True:
        await sender.emit("input.buffer.append", pcm[:TENTH_S])
        await asyncio.sleep(every_s)


async def victim_turn(server: RunningServer, pcm: bytes) -> float:
    """One victim session's turn: seconds from commit to its transcript (which must be right)."""
    sender, _receiver = await server.pair()
    await sender.send_pcm(pcm)
    started = time.monotonic()
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", within=30)
    assert "weather" in done["text"].split(), done
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("dripping", "idle_s"),
    [(False, 3.0), (True, 60.0)],
    ids=["silent-attackers", "dripping-attackers-no-idle-timeout"],
)
async def test_two_senders_that_never_commit_starve_no_victim(
    serve: ServeFn, local_stt: LocalSpeechToText, dripping: bool, idle_s: float
) -> None:
    assert local_stt.max_decoders == 2
    server = await serve(utterance_idle_seconds=idle_s, factories=FAKE_REPLIES)
    pcm = clip(WEATHER)
    attackers = [await server.connect("sender") for _ in range(2)]
    drips: list[asyncio.Task[None]] = []
    for attacker in attackers:
        await attacker.emit("input.buffer.append", pcm[:TENTH_S])
        await attacker.wait_for("input.buffer.initialized")
    # Each attacker speaks once more after the pool had time to build its second decoder.
    await asyncio.sleep(1.0)
    for attacker in attackers:
        if dripping:
            drips.append(asyncio.create_task(drip(attacker, pcm, 0.2)))
        else:
            await attacker.emit("input.buffer.append", pcm[TENTH_S : 2 * TENTH_S])
    await asyncio.sleep(0.3)
    assert local_stt.decoders_lent == 2, "the attack needs both decoders held"
    try:
        waits = await asyncio.gather(*(victim_turn(server, pcm) for _ in range(5)))
    finally:
        for task in drips:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    print(f"victims served: 5/5, commit -> transcript {', '.join(f'{w:.2f}' for w in waits)} s")
    assert max(waits) < 15.0
    for attacker in attackers:
        errors = attacker.named("custom.error")
        if dripping:  # speaking: their utterances were kept (decoded again at their commit)
            assert not errors, errors
        else:  # silent: the idle timeout dropped them
            assert [e["code"] for e in errors] in ([], ["utterance_timeout"]), errors


async def test_an_idle_uncommitted_utterance_is_dropped_and_its_decoder_returned(
    serve: ServeFn, local_stt: LocalSpeechToText
) -> None:
    server = await serve(utterance_idle_seconds=0.5, factories=FAKE_REPLIES)
    sender, _receiver = await server.pair()
    pcm = clip(WEATHER)
    await sender.emit("input.buffer.append", pcm[:TENTH_S])
    item = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    error = await sender.wait_error("utterance_timeout", within=5)
    assert error["itemId"] == item
    await asyncio.sleep(0.2)
    assert local_stt.decoders_lent == 0
    # Nothing is left to commit; the next utterance is a new one and works.
    mark = sender.mark()
    await sender.commit()
    assert (await sender.wait_error("empty_buffer", after=mark))["code"] == "empty_buffer"
    mark = sender.mark()
    await sender.send_pcm(pcm)
    await sender.commit()
    new_item = (await sender.wait_for("input.buffer.initialized", after=mark))["itemId"]
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert done["itemId"] == new_item != item
    assert "weather" in done["text"].split()


class SlowLlm(ScriptedLlm):
    """A reply of ``words`` words, one every ``pause_s``; counts streams open now and ever."""

    def __init__(self, words: int = 20, pause_s: float = 0.05) -> None:
        super().__init__()
        self.words = words
        self.pause_s = pause_s
        self.active = self.started = self.most_active = 0

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.started += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            for index in range(self.words):
                await asyncio.sleep(self.pause_s)
                yield f"Word{index} " if index < self.words - 1 else "end."
        finally:
            self.active -= 1


async def throwaway(server: RunningServer) -> None:
    sender = server.client("sender", new_session_id("throwaway"))
    await sender.connect()
    for _ in range(4):
        await sender.emit("input.buffer.append", b"\x01\x00" * 1600)
        await sender.commit()
    await sender.disconnect()


async def test_throwaway_sessions_leave_no_turns_running(serve: ServeFn) -> None:
    llm = SlowLlm()
    server = await serve(
        turns_in_flight=4,
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: llm},
            "tts": {"local": lambda env: ChunkTts()},
        },
    )
    started = time.monotonic()
    await asyncio.gather(*(throwaway(server) for _ in range(100)))
    left_after = time.monotonic() - started
    await asyncio.sleep(0.5)
    print(
        f"100 throwaway sessions x 4 commits in {left_after:.1f} s: {llm.started} model streams"
        f" started (of 400 turns), at most {llm.most_active} at once, {llm.active} left running"
    )
    assert llm.active == 0
    assert llm.most_active <= 4
    assert llm.started < 100  # most turns never ran: their sessions were gone
    assert not server.chat.sessions, list(server.chat.sessions)
    assert server.chat.services.admission.slots.busy == 0
    # A real user is served at once.
    sender, receiver = await server.pair()
    turn_started = time.monotonic()
    await sender.send_pcm(b"\x01\x00" * 16000)
    await sender.commit()
    await sender.wait_for("request.transcribe.done", within=5)
    await receiver.wait_for("response.text", within=10)
    print(f"then a real user's turn: reply in {time.monotonic() - turn_started:.2f} s")


async def test_sessions_replying_at_once_are_not_held_back_by_the_default_bound(
    serve: ServeFn,
) -> None:
    """The turn bound guards against floods; by default it does not queue ordinary sessions
    whose replies take a while (at 4 a core, 50 sessions on 2 cores waited up to 30 s)."""
    llm = SlowLlm(words=10, pause_s=0.1)  # a reply streams for about a second
    server = await serve(
        factories={
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: llm},
            "tts": {"local": lambda env: ChunkTts()},
        },
    )
    pairs = [await server.pair() for _ in range(40)]
    for sender, _ in pairs:
        await sender.emit("input.buffer.append", b"\x01\x00" * 1600)
    started = time.monotonic()
    await asyncio.gather(*(sender.commit() for sender, _ in pairs))
    await asyncio.gather(*(receiver.wait_for("response.text", within=20) for _, receiver in pairs))
    took = time.monotonic() - started
    print(f"40 sessions replying at once: {llm.most_active} streams at once, all in {took:.2f} s")
    assert llm.started == 40
    assert llm.most_active == 40
    assert took < 5.0
