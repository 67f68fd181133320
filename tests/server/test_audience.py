"""Who gets what: events go to their x-audience role, and only within their own session."""

from __future__ import annotations

import asyncio

from tests.server.audio_checks import WEATHER, clip
from tests.server.harness import RunningServer, check_response, new_session_id, run_turn

SENDER_EVENTS = {
    "session.updated",
    "input.buffer.initialized",
    "input.buffer.committed",
    "request.transcribe.done",
}
RECEIVER_EVENTS = {"response.text", "response.audio.delta"}


async def test_events_reach_only_their_role_in_their_session(server: RunningServer) -> None:
    session = new_session_id("talking")
    sender, receiver = await server.pair(session)
    second_receiver = await server.connect("receiver", session)
    second_sender = await server.connect("sender", session)
    # Another session, as busy as this one would be if leaked into.
    other_sender, other_receiver = await server.pair()

    await sender.emit("session.update", {"tts": {"responseType": "chain"}})
    await sender.wait_for("session.updated")
    result = await run_turn(sender, receiver, clip(WEATHER))
    check_response(result)
    await second_receiver.wait_final(result.item_id)
    await receiver.quiet()

    # The session's Senders get the Sender events, and nothing for Receivers.
    for client in (sender, second_sender):
        assert set(client.names()) == SENDER_EVENTS, client.names()
    # session.updated goes to every Sender of the session (x-audience: sender).
    assert second_sender.named("session.updated") == sender.named("session.updated")
    assert second_sender.named("request.transcribe.done") == [result.transcript]
    # Both Receivers get the same whole response, and no Sender events.
    for client in (receiver, second_receiver):
        assert set(client.names()) == RECEIVER_EVENTS, client.names()
    assert second_receiver.named("response.audio.delta") == result.deltas
    assert second_receiver.named("response.text") == [result.reply]
    # The other session hears nothing at all.
    assert other_sender.events == []
    assert other_receiver.events == []


async def test_concurrent_sessions_do_not_cross(server: RunningServer) -> None:
    """Two sessions speak at once: each Receiver gets exactly its own session's response."""
    pairs = [await server.pair() for _ in range(2)]
    results = await asyncio.gather(
        *(run_turn(sender, receiver, clip(WEATHER)) for sender, receiver in pairs)
    )
    for (sender, receiver), result in zip(pairs, results, strict=True):
        check_response(result)
        items = {p["itemId"] for p in receiver.named("response.audio.delta")}
        items |= {p["itemId"] for p in receiver.named("response.text")}
        assert items == {result.item_id}
        assert {p["itemId"] for p in sender.named("request.transcribe.done")} == {result.item_id}
        assert not RECEIVER_EVENTS & set(sender.names())
        assert not SENDER_EVENTS & set(receiver.names())
