"""Turn order within a session, utterances during a running turn, independence of sessions."""

from __future__ import annotations

from tests.server.audio_checks import WEATHER, clip, manifest
from tests.server.conftest import ServeFn
from tests.server.fakes import GatedLlm
from tests.server.harness import ChatClient, Received, RunningServer

CLIP_MS = manifest()[WEATHER]["seconds"] * 1000


def index_of(client: ChatClient, name: str, item_id: str, *, final: bool | None = None) -> int:
    for index, event in enumerate(client.events):
        if (
            event.name == name
            and event.payload["itemId"] == item_id
            and (final is None or event.payload.get("final") == final)
        ):
            return index
    raise AssertionError(f"{client!r} got no {name} for {item_id}")


def of_item(client: ChatClient, item_id: str) -> list[Received]:
    return [
        e
        for e in client.events
        if isinstance(e.payload, dict) and e.payload.get("itemId") == item_id
    ]


async def test_two_commits_back_to_back_run_in_commit_order(server: RunningServer) -> None:
    sender, receiver = await server.pair()
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    await sender.send_pcm(pcm)
    await sender.commit()
    first = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    second = (await sender.wait_for("input.buffer.initialized", lambda p: p["itemId"] != first))[
        "itemId"
    ]
    await receiver.wait_final(second)
    await receiver.quiet()

    # The Sender: two utterances, transcribed in commit order, each whole.
    transcripts = sender.named("request.transcribe.done")
    assert [t["itemId"] for t in transcripts] == [first, second]
    assert all(abs(t["durationMs"] - CLIP_MS) < 5 for t in transcripts)
    # The Receiver: the whole first response, then the whole second one.
    end_of_first = index_of(receiver, "response.audio.delta", first, final=True)
    first_events = of_item(receiver, first)
    second_events = of_item(receiver, second)
    assert first_events and second_events
    assert max(receiver.events.index(e) for e in first_events) == end_of_first
    assert min(receiver.events.index(e) for e in second_events) > end_of_first
    assert second_events[0].at >= first_events[-1].at
    assert len({e.payload.get("responseId") for e in first_events + second_events}) == 2


async def test_appends_during_a_running_turn_start_the_next_utterance(serve: ServeFn) -> None:
    llm = GatedLlm()
    server = await serve(factories={"llm": {"openai": lambda env: llm}})
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    pcm = clip(WEATHER)
    await sender.send_pcm(pcm)
    await sender.commit()
    first = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    await llm.started.wait()  # the first turn is running, held in its language model

    mark = sender.mark()
    await sender.send_pcm(pcm)
    second = (await sender.wait_for("input.buffer.initialized", after=mark))["itemId"]
    assert second != first
    await sender.commit()
    await sender.quiet()
    assert receiver.events == []  # nothing has been answered yet
    assert [t["itemId"] for t in sender.named("request.transcribe.done")] == [first]

    llm.release.set()
    await receiver.wait_final(second)
    transcripts = sender.named("request.transcribe.done")
    assert [t["itemId"] for t in transcripts] == [first, second]
    # Neither utterance lost audio to, or took audio from, the other.
    assert all(abs(t["durationMs"] - CLIP_MS) < 5 for t in transcripts)
    assert all("weather" in t["text"].split() for t in transcripts)
    assert index_of(receiver, "response.audio.delta", first, final=True) < index_of(
        receiver, "response.text", second
    )


async def test_a_slow_session_does_not_hold_up_another(serve: ServeFn) -> None:
    llm = GatedLlm()
    server = await serve(factories={"llm": {"openai": lambda env: llm}})
    slow_sender, slow_receiver = await server.pair()
    await slow_sender.emit("session.update", {"llm": {"provider": "openai"}})
    await slow_sender.wait_for("session.updated")
    await slow_sender.send_pcm(clip(WEATHER))
    await slow_sender.commit()
    await llm.started.wait()

    sender, receiver = await server.pair()
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    item = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    await receiver.wait_final(item, within=10)
    # The other session's turn is still held: this one did not wait for it.
    assert not llm.release.is_set()
    assert slow_receiver.events == []

    llm.release.set()
    slow_item = (await slow_sender.wait_for("input.buffer.initialized"))["itemId"]
    await slow_receiver.wait_final(slow_item)
    assert {e.payload["itemId"] for e in receiver.events} == {item}
    assert {e.payload["itemId"] for e in slow_receiver.events} == {slow_item}
