"""ChatServer.shutdown(): turns in flight finish within the grace period or are cancelled, and
nothing is left running."""

from __future__ import annotations

import asyncio
import time

from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import GatedLlm
from tests.server.harness import ChatClient, RunningServer, lingering_server_tasks, server_tasks


async def start_slow(
    serve: ServeFn, llm: GatedLlm, grace: float
) -> tuple[RunningServer, ChatClient, ChatClient]:
    server = await serve(
        shutdown_grace_seconds=grace, factories={"llm": {"openai": lambda env: llm}}
    )
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    return server, sender, receiver


async def test_shutdown_cancels_what_outlives_the_grace_period(serve: ServeFn) -> None:
    llm = GatedLlm()  # never released
    server, sender, receiver = await start_slow(serve, llm, grace=0.3)
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()  # held in its language model
    await llm.started.wait()
    await sender.send_pcm(pcm)
    await sender.commit()  # queued behind it
    await sender.send_pcm(pcm[: len(pcm) // 2])  # an utterance still being spoken
    # Once the third utterance has begun, the second commit was handled (a client's events are
    # handled in order).
    seen: list[str] = []
    for _ in range(3):
        initialized = await sender.wait_for(
            "input.buffer.initialized", lambda p: p["itemId"] not in seen
        )
        seen.append(initialized["itemId"])
    await sender.quiet(0.1)
    session = server.chat.sessions[sender.session_id]
    assert session.turns.worker is not None and len(session.turns) == 2 and session.utterances
    names = {task.get_name() for task in server_tasks()}
    assert f"turns-{sender.session_id}" in names  # the detector sees the server's tasks
    assert any(name.startswith("stt-") for name in names)

    started = time.monotonic()
    async with asyncio.timeout(15):
        await server.chat.shutdown()
    took = time.monotonic() - started

    assert 0.3 <= took < 5.0, took
    assert llm.cancelled == 1
    assert session.turns.worker is None
    assert not session.turns and not session.utterances
    assert await lingering_server_tasks() == [], "the server left tasks running"
    # Cancelled, not failed: no error for the Sender, and no half response for the Receiver,
    # only the news that the response in flight was stopped (before any audio of it went out).
    assert "custom.error" not in sender.names()
    await receiver.quiet(0.1)
    assert receiver.names() == ["response.cancelled"]
    (cancelled,) = receiver.named("response.cancelled")
    assert cancelled["reason"] == "shutdown" and cancelled["lastSequence"] == -1
    assert sender.named("response.cancelled") == [cancelled]
    # The connections themselves are still open (the web server closes them).
    assert sender.connected and receiver.connected


async def test_shutdown_lets_a_turn_finish_within_the_grace_period(serve: ServeFn) -> None:
    llm = GatedLlm(delay=0.3)
    server, sender, receiver = await start_slow(serve, llm, grace=10.0)
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    item = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    await llm.started.wait()
    assert server_tasks()

    started = time.monotonic()
    async with asyncio.timeout(15):
        await server.chat.shutdown()
    took = time.monotonic() - started

    assert took < 5.0, took
    assert llm.cancelled == 0
    final = await receiver.wait_final(item, within=2.0)  # sent before shutdown returned
    assert final["final"]
    assert receiver.named("response.text")[0]["itemId"] == item
    assert await lingering_server_tasks() == []


async def test_stopping_the_web_server_mid_turn_leaves_nothing_running(serve: ServeFn) -> None:
    """The aiohttp shutdown path (on_shutdown -> ChatServer.shutdown, Socket.IO shutdown); the
    fixture then checks that no task is left once the clients are gone."""
    llm = GatedLlm()
    server, sender, _ = await start_slow(serve, llm, grace=0.2)
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    await llm.started.wait()
    await server.stop()
    assert llm.cancelled == 1
    assert server.chat.sessions == {} or all(
        s.turns.worker is None for s in server.chat.sessions.values()
    )


async def test_a_sender_leaving_mid_utterance_leaves_nothing_running(server: RunningServer) -> None:
    sender, receiver = await server.pair()
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm[: len(pcm) // 2])
    await sender.wait_for("input.buffer.initialized")
    assert any(task.get_name().startswith("stt-") for task in server_tasks())
    await sender.disconnect()
    assert await lingering_server_tasks() == []
    await receiver.disconnect()
    await receiver.quiet(0.1)
    assert sender.session_id not in server.chat.sessions  # an idle session is forgotten
    assert receiver.events == []
