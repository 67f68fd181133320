"""Random sequences of valid and invalid client events over several sessions and roles.

A hypothesis RuleBasedStateMachine connects and disconnects Senders and Receivers of three
sessions, streams audio in every accepted shape, sends broken audio and payloads, commits,
updates the session (validly or not), lets Receivers speak out of turn and sends unknown events;
and, for turn taking (issue 9), cancels responses (in flight, or unknown ones), reports playback
from Receivers, clears the conversation and changes the turn detection parameters.
The server runs on fast in-process providers (fakes.py) in an event loop on a background thread;
each rule waits there for the server's answer.

Invariants:
* every event any client gets validates against its schema and is for its role (harness);
* every answer that the contract promises arrives within ANSWER_S (the server is never silent),
  with the code the model expects; and no error arrives that the model does not expect;
* events reach only their own session: every itemId a client sees belongs to its session;
* no connection is dropped;
* every committed turn reaches each Receiver that was there at the commit: responses are whole
  (sequence 0, 1, 2 ... with one final delta, the last), one at a time, in commit order; unless
  it was cancelled (response.cancelled): then no delta of it follows the cancel.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.server.audio_checks import make_wav
from tests.server.fakes import ChunkTts, InstantStt, ScriptedLlm, heard, scripted_reply
from tests.server.harness import (
    ChatClient,
    Received,
    RunningServer,
    lingering_server_tasks,
    make_config,
    make_registry,
    server_tasks,
)

T = TypeVar("T")

ANSWER_S = 5.0
"""The longest the server may take to answer a request (or to finish a fake-provider turn)."""
RATE = 16000
MAX_BUFFER_S = 0.5
MAX_BUFFER_BYTES = int(MAX_BUFFER_S * RATE) * 2
MAX_CLIENTS = 7
SESSIONS = 3


class LoopThread:
    """An event loop on a daemon thread; ``run`` executes a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 3 * ANSWER_S) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.run(_cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _server_tasks() -> list[asyncio.Task[Any]]:
    return server_tasks()


async def _cancel_the_rest() -> None:
    """Cancel what is left (Engine.IO's ping sleeps) so that closing the loop destroys nothing."""
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@dataclass
class Tracked:
    """The model of one client."""

    client: ChatClient
    session: str
    role: str
    utterance: str | None = None
    """itemId of the utterance this Sender is speaking (from input.buffer.initialized)."""
    size: int = 0
    """PCM bytes the server kept of it."""
    overflowed: bool = False
    errors: list[str] = field(default_factory=list)
    """custom.error codes this client must have received."""

    @property
    def name(self) -> str:
        return repr(self.client)


@dataclass(frozen=True)
class Commit:
    session: str
    item_id: str
    transcript: str
    receivers: tuple[Tracked, ...]
    """The session's Receivers when it was committed: each must get the whole response."""


# Valid and invalid payloads. Valid updates get a unique llm.instructions marker so that each
# answer can be told from other Senders' answers.
VALID_UPDATES = st.fixed_dictionaries(
    {},
    optional={
        "tts": st.one_of(
            st.fixed_dictionaries(
                {"responseType": st.sampled_from(["single", "chain", "stream"])},
                optional={"speed": st.sampled_from([0.5, 1.0, 2.0])},
            ),
            st.fixed_dictionaries(
                {"provider": st.just("local")},
                optional={"voice": st.sampled_from(["en-us", "en-gb", "en-029"])},
            ),
        ),
        "outputAudio": st.fixed_dictionaries(
            {},
            optional={
                "format": st.sampled_from(["pcm16", "wav", "mp3"]),
                "sampleRate": st.sampled_from([16000, 22050, 24000]),
            },
        ),
        "stt": st.just({"language": "en-US"}),
        "turnDetection": st.fixed_dictionaries(
            {},
            optional={
                "type": st.just("none"),
                "threshold": st.sampled_from([0.3, 0.5, 0.9]),
                "silenceDurationMs": st.sampled_from([200, 500, 1200]),
                "minSpeechMs": st.sampled_from([0, 250]),
                "interruptResponse": st.booleans(),
            },
        ),
    },
)
INVALID_UPDATES: list[tuple[Any, str]] = [
    ({"stt": {"provider": "nosuch"}}, "invalid_payload"),
    ({"tts": {"provider": "local", "voice": "alloy"}}, "invalid_payload"),
    ({"llm": {"model": "eliza"}}, "invalid_payload"),
    ({"outputAudio": {"sampleRate": 100}}, "invalid_payload"),
    ({"tts": {"speed": None}}, "invalid_payload"),
    ([], "invalid_payload"),
    ({"llm": {"provider": "openai"}}, "provider_unavailable"),
    ({"turnDetection": {"type": "semantic"}}, "invalid_payload"),
    ({"turnDetection": {"threshold": 1.5}}, "invalid_payload"),
]
INVALID_APPENDS: list[tuple[Any, str]] = [
    (b"\x00" * 3, "invalid_audio"),
    ("AAAAA", "invalid_audio"),
    ({"audio": "A"}, "invalid_audio"),
    (b"RIFF" + b"\x01" * 20, "invalid_audio"),
    (12, "invalid_payload"),
    ({"audio": 1}, "invalid_payload"),
    ("not base64 at all!", "invalid_payload"),
    (None, "invalid_payload"),
]
CLIENT_EVENTS = [
    ("input.buffer.append", (b"\x00\x00" * 8,)),
    ("input.buffer.commit", ()),
    ("session.update", ({},)),
    ("response.cancel", ({},)),
    ("conversation.clear", ()),
]
UNKNOWN_RESPONSE = "resp_ffffffffffffffff"

_examples = itertools.count()


def pcm(size: int) -> bytes:
    return bytes((i * 37) % 256 for i in range(size))


class ServerMachine(RuleBasedStateMachine):
    loop: ClassVar[LoopThread]
    server: ClassVar[RunningServer]

    def __init__(self) -> None:
        super().__init__()
        example = next(_examples)
        self.sessions = [f"hyp-{example}-{i}" for i in range(SESSIONS)]
        self.clients: list[Tracked] = []
        self.gone: list[Tracked] = []
        self.items: dict[str, str] = {}
        """itemId -> session: every utterance the model has seen begin."""
        self.commits: list[Commit] = []
        self.markers = itertools.count()
        self.tasks_before = set(self.run(_server_tasks()))

    # -- helpers -------------------------------------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine)

    def of_role(self, role: str) -> list[Tracked]:
        return [t for t in self.clients if t.role == role]

    def expect_error(self, tracked: Tracked, code: str, mark: int) -> Any:
        tracked.errors.append(code)
        error = self.run(tracked.client.wait_error(code, after=mark, within=ANSWER_S))
        return error

    def connect(self, role: str, session: str) -> None:
        client = self.server.client(role, session)
        self.run(client.connect())
        self.clients.append(Tracked(client, session, role))

    # -- rules ---------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        for session in self.sessions[:2]:
            self.connect("receiver", session)
            self.connect("sender", session)

    @precondition(lambda self: len(self.clients) < MAX_CLIENTS)
    @rule(role=st.sampled_from(["sender", "receiver"]), session=st.integers(0, SESSIONS - 1))
    def connect_client(self, role: str, session: int) -> None:
        self.connect(role, self.sessions[session])

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def disconnect_client(self, data: st.DataObject) -> None:
        tracked = data.draw(st.sampled_from(self.clients))
        self.run(tracked.client.disconnect())
        self.clients.remove(tracked)
        self.gone.append(tracked)

    def append(self, tracked: Tracked, payload: Any, size: int) -> None:
        """Send a valid chunk holding ``size`` bytes of PCM; check the answers it must get."""
        client = tracked.client
        mark = client.mark()
        self.run(client.emit("input.buffer.append", payload))
        if tracked.utterance is None:
            init = self.run(
                client.wait_for(
                    "input.buffer.initialized",
                    lambda p: p["itemId"] not in self.items,
                    after=mark,
                    within=ANSWER_S,
                )
            )
            assert init["sampleRate"] == RATE
            tracked.utterance, tracked.size, tracked.overflowed = init["itemId"], 0, False
            self.items[init["itemId"]] = tracked.session
        kept = min(size, MAX_BUFFER_BYTES - tracked.size)
        tracked.size += kept
        if kept < size and not tracked.overflowed:
            tracked.overflowed = True
            error = self.expect_error(tracked, "buffer_overflow", mark)
            assert error["itemId"] == tracked.utterance

    @precondition(lambda self: self.of_role("sender"))
    @rule(data=st.data(), size=st.sampled_from([0, 2, 640, 1282, 4000, 9000]))
    def append_pcm(self, data: st.DataObject, size: int) -> None:
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        self.append(tracked, pcm(size), size)

    @precondition(lambda self: self.of_role("sender"))
    @rule(
        data=st.data(),
        shape=st.sampled_from(["base64", "object", "wav", "wav-base64"]),
        size=st.sampled_from([320, 2000]),
    )
    def append_other_shape(self, data: st.DataObject, shape: str, size: int) -> None:
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        raw = pcm(size)
        payload: Any = {
            "base64": base64.b64encode(raw).decode(),
            "object": {"audio": base64.b64encode(raw).decode()},
            "wav": make_wav(raw, RATE),
            "wav-base64": base64.b64encode(make_wav(raw, RATE)).decode(),
        }[shape]
        self.append(tracked, payload, size)

    @precondition(lambda self: self.of_role("sender"))
    @rule(data=st.data(), chunks=st.integers(1, 4))
    def speak_and_commit(self, data: st.DataObject, chunks: int) -> None:
        """The common case: a short utterance in 20 ms chunks, then its commit."""
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        for _ in range(chunks):
            self.append(tracked, pcm(640), 640)
        self.commit_as(tracked)

    def speaking(self) -> list[Tracked]:
        return [t for t in self.of_role("sender") if t.utterance is not None]

    @precondition(lambda self: self.speaking())
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        self.commit_as(data.draw(st.sampled_from(self.speaking())))

    def commit_as(self, tracked: Tracked) -> None:
        client = tracked.client
        mark = client.mark()
        self.run(client.commit())
        if tracked.utterance is None or tracked.size == 0:
            self.expect_error(tracked, "empty_buffer", mark)
            return
        item = tracked.utterance

        def answer(event: Received) -> bool:
            return (
                event.name == "request.transcribe.done" and event.payload["itemId"] == item
            ) or (event.name == "custom.error" and event.payload["code"] == "turn_queue_full")

        got = self.run(
            client.wait_match(answer, after=mark, within=ANSWER_S, what="commit's answer")
        )
        if got.name == "custom.error":
            tracked.errors.append("turn_queue_full")  # the audio stays buffered
            return
        assert got.payload["text"] == heard(tracked.size, RATE)
        assert got.payload["durationMs"] == tracked.size * 1000 // (2 * RATE)
        receivers = tuple(t for t in self.of_role("receiver") if t.session == tracked.session)
        self.commits.append(Commit(tracked.session, item, got.payload["text"], receivers))
        tracked.utterance, tracked.size = None, 0

    @precondition(lambda self: self.of_role("sender"))
    @rule(data=st.data(), update=VALID_UPDATES)
    def update_valid(self, data: st.DataObject, update: dict[str, Any]) -> None:
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        marker = f"marker {next(self.markers)}"
        payload = {**update, "llm": {"instructions": marker}}
        mark = tracked.client.mark()
        self.run(tracked.client.emit("session.update", payload))
        updated = self.run(
            tracked.client.wait_for(
                "session.updated",
                lambda p: p["llm"]["instructions"] == marker,
                after=mark,
                within=ANSWER_S,
            )
        )
        assert updated["sessionId"] == tracked.session
        for key, value in update.items():
            assert updated[key] == {**updated[key], **value}

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def misbehave(self, data: st.DataObject) -> None:
        """Something the server must refuse: broken audio or payloads, an invalid or impossible
        session.update, a Receiver sending, an event not in the contract."""
        tracked = data.draw(st.sampled_from(self.clients))
        client = tracked.client
        mark = client.mark()
        args: tuple[Any, ...]
        if tracked.role == "receiver":
            kind = data.draw(st.sampled_from(["receiver_sends", "unknown"]))
        else:
            kind = data.draw(st.sampled_from(["append", "update", "unknown", "commit", "played"]))
        if kind == "commit":
            self.commit_as(tracked)  # empty_buffer, unless it is speaking
            return
        if kind == "append":
            payload, code = data.draw(st.sampled_from(INVALID_APPENDS))
            name, args = "input.buffer.append", (payload,)
        elif kind == "update":
            payload, code = data.draw(st.sampled_from(INVALID_UPDATES))
            name, args = "session.update", (payload,)
        elif kind == "played":
            name, args = "response.audio.played", ({"responseId": UNKNOWN_RESPONSE, "playedMs": 0},)
            code = "role_not_allowed"
        elif kind == "receiver_sends":
            name, args = data.draw(st.sampled_from(CLIENT_EVENTS))
            code = "role_not_allowed"
        else:
            name = data.draw(st.sampled_from(["ping", "response.text", "input.buffer"]))
            args, code = ({"x": 1},), "unknown_event"
        self.run(client.emit(name, *args))
        assert self.expect_error(tracked, code, mark)["event"] == name

    @precondition(lambda self: self.of_role("sender"))
    @rule(data=st.data(), named=st.booleans())
    def cancel_response(self, data: st.DataObject, named: bool) -> None:
        """response.cancel: of whatever is in flight or playing (response.cancelled, or
        response_not_active when nothing is), or of a response the session never had."""
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        client = tracked.client
        mark = client.mark()
        if named:
            self.run(client.emit("response.cancel", {"responseId": UNKNOWN_RESPONSE}))
            assert (
                self.expect_error(tracked, "unknown_response", mark)["event"] == "response.cancel"
            )
            return
        self.run(client.emit("response.cancel", {}))

        def answer(event: Received) -> bool:
            return event.name == "response.cancelled" or (
                event.name == "custom.error" and event.payload["code"] == "response_not_active"
            )

        got = self.run(client.wait_match(answer, after=mark, within=ANSWER_S, what="cancel"))
        if got.name == "custom.error":
            tracked.errors.append("response_not_active")
        else:
            assert got.payload["reason"] == "client_cancel"
            assert self.items[got.payload["itemId"]] == tracked.session

    @precondition(lambda self: self.of_role("receiver"))
    @rule(data=st.data(), played=st.sampled_from([0, 40, 100_000]), known=st.booleans())
    def report_played(self, data: st.DataObject, played: int, known: bool) -> None:
        """response.audio.played: for the last response this Receiver got (no answer), or for
        one its session never had (unknown_response)."""
        tracked = data.draw(st.sampled_from(self.of_role("receiver")))
        client = tracked.client
        # Not drawn from: what has arrived is not the same when hypothesis replays an example.
        seen = [p["responseId"] for p in client.named("response.audio.delta")]
        response = seen[-1] if known and seen else UNKNOWN_RESPONSE
        mark = client.mark()
        self.run(client.emit("response.audio.played", {"responseId": response, "playedMs": played}))
        if response == UNKNOWN_RESPONSE:
            self.expect_error(tracked, "unknown_response", mark)

    @precondition(lambda self: self.of_role("sender"))
    @rule(data=st.data())
    def clear_conversation(self, data: st.DataObject) -> None:
        """conversation.clear: no answer (a reply still in flight or playing is cancelled)."""
        tracked = data.draw(st.sampled_from(self.of_role("sender")))
        self.run(tracked.client.emit("conversation.clear"))

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def contract_holds(self) -> None:
        for tracked in self.clients + self.gone:
            assert not tracked.client.violations, tracked.client.violations
        for tracked in self.clients:
            assert tracked.client.connected, f"{tracked.name} was disconnected by the server"
            assert tracked.client.disconnects == 0

    def teardown(self) -> None:
        try:
            self.run(self._settle())
            for tracked in self.clients + self.gone:
                self.check_client(tracked)
        finally:
            for tracked in self.clients:
                self.run(tracked.client.disconnect())
        # With its clients gone and its turns done, this example left nothing running.
        left = set(self.run(lingering_server_tasks(within=0.25))) - self.tasks_before
        assert not left, left

    async def _settle(self) -> None:
        """Wait until every committed turn has reached the Receivers that must get it (whole,
        or up to its response.cancelled)."""
        for commit in self.commits:
            for receiver in commit.receivers:
                if receiver in self.clients:

                    def ended(event: Received, item: str = commit.item_id) -> bool:
                        payload = event.payload
                        return (
                            event.name == "response.audio.delta"
                            and payload["itemId"] == item
                            and payload["final"]
                        ) or (event.name == "response.cancelled" and payload["itemId"] == item)

                    await receiver.client.wait_match(ended, within=ANSWER_S, what="its end")
        await asyncio.sleep(0.05)

    def check_client(self, tracked: Tracked) -> None:
        client = tracked.client
        assert not client.violations, client.violations
        for event in client.events:
            payload = event.payload
            if isinstance(payload, dict) and "itemId" in payload and event.name != "custom.error":
                owner = self.items.get(payload["itemId"])
                assert owner == tracked.session, (tracked.name, event)
            if event.name == "session.updated":
                assert payload["sessionId"] == tracked.session
        errors = client.named("custom.error")
        if tracked in self.clients:
            # Exactly the errors the model expects: none unasked for (no provider_error or
            # internal_error on these providers), none missing.
            assert [e["code"] for e in errors] == tracked.errors, (tracked.name, errors)
        if tracked.role == "receiver":
            self.check_responses(tracked)

    def check_responses(self, tracked: Tracked) -> None:
        client = tracked.client
        texts = {p["responseId"]: p for p in client.named("response.text")}
        order: list[str] = []
        by_response: dict[str, list[Any]] = {}
        cancelled: set[str] = set()
        for event in client.events:
            if event.name == "response.cancelled":
                cancelled.add(event.payload["responseId"])
            if event.name != "response.audio.delta":
                continue
            delta = event.payload
            response = delta["responseId"]
            # Nothing of a response after its response.cancelled.
            assert response not in cancelled, (tracked.name, delta)
            if response not in by_response:
                # Responses do not interleave: the previous one had ended (or was cancelled).
                assert not order or by_response[order[-1]][-1]["final"] or order[-1] in cancelled, (
                    tracked.name,
                    delta,
                )
                order.append(response)
                by_response[response] = []
            by_response[response].append(delta)
        for group in by_response.values():
            assert len({d["itemId"] for d in group}) == 1
            first = group[0]["sequence"]
            assert [d["sequence"] for d in group] == list(range(first, first + len(group)))
            assert [d["final"] for d in group[:-1]] == [False] * (len(group) - 1)
        must_get = [c for c in self.commits if tracked in c.receivers]
        if tracked not in self.clients:
            return
        got = {group[0]["itemId"]: response for response, group in by_response.items()}
        stopped = {p["itemId"] for p in client.named("response.cancelled")}
        must_get = [c for c in must_get if c.item_id not in stopped]
        for commit in must_get:
            response = got[commit.item_id]
            group = by_response[response]
            assert group[0]["sequence"] == 0 and group[-1]["final"]
            assert texts[response]["itemId"] == commit.item_id
            assert texts[response]["text"] == scripted_reply(commit.transcript)
        # The session's turns reached this Receiver in commit order.
        committed = [c.item_id for c in must_get]
        seen = [by_response[r][0]["itemId"] for r in order]
        seen = [item for item in seen if item in committed]
        assert seen == committed


@pytest.fixture
def machine_server() -> Iterator[tuple[LoopThread, RunningServer]]:
    loop = LoopThread()
    registry = make_registry(
        {
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: ScriptedLlm()},
            "tts": {"local": lambda env: ChunkTts()},
        }
    )
    server = RunningServer(make_config(max_buffer_seconds=MAX_BUFFER_S), registry)
    loop.run(server.start())
    try:
        yield loop, server
    finally:
        loop.run(server.stop())
        loop.close()


def test_random_client_sessions(machine_server: tuple[LoopThread, RunningServer]) -> None:
    ServerMachine.loop, ServerMachine.server = machine_server
    run_state_machine_as_test(
        ServerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
