"""codegen.runtime's dispatcher and the generated handler/emitter with a real python-socketio server
(aiohttp, 127.0.0.1) and real clients."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web
import pytest
import socketio

from codegen.runtime import Client, ClientError, ConnectionRefused, Dispatcher, register
from generated.dispatch import ClientEventHandler, Emitter
from generated.models import (
    AudioObject,
    ClientRole,
    ConnectErrorCode,
    CustomError,
    ErrorCode,
    Handshake,
    InputBufferAppend,
    OutputAudioFormat,
    ResponseAudioDelta,
    ResponseAudioPlayed,
    ResponseCancel,
    ResponseText,
    SessionUpdate,
    SttUpdateOpenAi,
    TtsUpdateAws,
)
from tests.contract.validation import validate_event

TIMEOUT = 5.0
Received = tuple[str, tuple[Any, ...]]


class RecordingHandler(ClientEventHandler):
    """Records every call; a few payloads make it fail on purpose."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Client, Any]] = []
        self.called = asyncio.Event()

    def _record(self, name: str, client: Client, payload: Any = None) -> None:
        self.calls.append((name, client, payload))
        self.called.set()

    async def on_connect(self, client: Client, handshake: Handshake) -> None:
        if handshake.token == "wrong":
            raise ConnectionRefused(ConnectErrorCode.UNAUTHORIZED, "invalid or missing token")
        if handshake.token == "crash":
            raise RuntimeError("on_connect bug")
        self._record("connect", client, handshake)

    async def on_disconnect(self, client: Client) -> None:
        self._record("disconnect", client)

    async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
        self._record("session.update", client, payload)
        if payload.llm is not None and payload.llm.instructions == "unavailable":
            raise ClientError(ErrorCode.PROVIDER_UNAVAILABLE, "no such LLM here", provider="aws")
        if payload.llm is not None and payload.llm.instructions == "crash":
            raise RuntimeError("handler bug")

    async def on_input_buffer_append(self, client: Client, payload: InputBufferAppend) -> None:
        self._record("input.buffer.append", client, payload)

    async def on_input_buffer_commit(self, client: Client) -> None:
        self._record("input.buffer.commit", client)

    async def on_response_cancel(self, client: Client, payload: ResponseCancel) -> None:
        self._record("response.cancel", client, payload)

    async def on_response_audio_played(self, client: Client, payload: ResponseAudioPlayed) -> None:
        self._record("response.audio.played", client, payload)

    async def on_conversation_clear(self, client: Client) -> None:
        self._record("conversation.clear", client)


@dataclass
class Server:
    url: str
    sio: socketio.AsyncServer
    handler: RecordingHandler
    emitter: Emitter
    dispatcher: Dispatcher
    clients: list[socketio.AsyncClient] = field(default_factory=list)


@dataclass
class Peer:
    client: socketio.AsyncClient
    inbox: asyncio.Queue[Received]

    @property
    def sid(self) -> str:
        sid = self.client.get_sid()
        assert isinstance(sid, str)
        return sid

    async def next(self) -> Received:
        return await asyncio.wait_for(self.inbox.get(), TIMEOUT)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    sio = socketio.AsyncServer(async_mode="aiohttp", async_handlers=False)
    app = aiohttp.web.Application()
    sio.attach(app, socketio_path="socketio")
    handler = RecordingHandler()
    emitter = Emitter(sio)
    dispatcher = register(sio, handler, emitter)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port, chosen by the OS
    port = sock.getsockname()[1]
    await aiohttp.web.SockSite(runner, sock).start()
    srv = Server(f"http://127.0.0.1:{port}", sio, handler, emitter, dispatcher)
    try:
        yield srv
    finally:
        for client in srv.clients:
            if client.connected:
                await client.disconnect()
        await runner.cleanup()


def _client(server: Server) -> tuple[socketio.AsyncClient, asyncio.Queue[Received]]:
    client = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue[Received] = asyncio.Queue()

    async def any_event(event: str, *args: Any) -> None:
        inbox.put_nowait((event, args))

    async def connect_error(data: Any) -> None:
        inbox.put_nowait(("connect_error", (data,)))

    client.on("*", any_event)
    client.on("connect_error", connect_error)
    server.clients.append(client)
    return client, inbox


async def connect(server: Server, **auth: Any) -> Peer:
    client, inbox = _client(server)
    await client.connect(server.url, socketio_path="socketio", auth=auth, wait_timeout=TIMEOUT)
    return Peer(client, inbox)


async def refused(server: Server, auth: Any) -> dict[str, Any]:
    client, inbox = _client(server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, socketio_path="socketio", auth=auth, wait_timeout=TIMEOUT)
    event, (data,) = await asyncio.wait_for(inbox.get(), TIMEOUT)
    assert event == "connect_error"
    assert isinstance(data, dict)
    return data


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def error_for(peer: Peer, send: Awaitable[None]) -> dict[str, Any]:
    await send
    event, (payload,) = await peer.next()
    assert event == "custom.error"
    validate_event("custom.error", payload)
    assert isinstance(payload, dict)
    return payload


# -- connect ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {"role": "sender"},
        {"role": "boss", "sessionId": "s1"},
        {"role": "sender", "sessionId": "a b"},
        {"role": "sender", "sessionId": "s1", "extra": 1},
        {"role": "sender", "sessionId": "s1", "token": None},
    ],
)
async def test_an_invalid_handshake_gets_connect_error(server: Server, auth: Any) -> None:
    data = await refused(server, auth)
    validate_event("connect_error", data)
    assert data["data"] == {"code": "invalid_handshake"}
    assert data["message"].startswith("invalid handshake")
    assert server.handler.calls == []


async def test_connection_refused_by_the_handler(server: Server) -> None:
    data = await refused(server, {"role": "sender", "sessionId": "s1", "token": "wrong"})
    validate_event("connect_error", data)
    assert data == {"message": "invalid or missing token", "data": {"code": "unauthorized"}}


async def test_a_failing_on_connect_gets_internal_error(server: Server) -> None:
    data = await refused(server, {"role": "sender", "sessionId": "s1", "token": "crash"})
    validate_event("connect_error", data)
    assert data["data"] == {"code": "internal_error"}
    assert server.dispatcher.clients == {}


async def test_connect_and_disconnect_reach_the_handler(server: Server) -> None:
    peer = await connect(server, role="receiver", sessionId="s1")
    name, client, handshake = server.handler.calls[0]
    assert name == "connect"
    assert client == Client(sid=peer.sid, role=ClientRole.RECEIVER, session_id="s1")
    assert isinstance(handshake, Handshake)
    assert server.dispatcher.clients == {peer.sid: client}
    await peer.client.disconnect()
    await until(lambda: len(server.handler.calls) == 2, "on_disconnect")
    assert server.handler.calls[1][:2] == ("disconnect", client)
    assert server.dispatcher.clients == {}


# -- client events ---------------------------------------------------------------------------


async def test_a_valid_session_update_reaches_the_handler_as_the_model(server: Server) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    await peer.client.emit(
        "session.update",
        {"stt": {"provider": "openai", "model": "whisper-1"}, "tts": {"provider": "aws"}},
    )
    await until(lambda: len(server.handler.calls) == 2, "on_session_update")
    name, client, payload = server.handler.calls[1]
    assert (name, client.sid) == ("session.update", peer.sid)
    assert isinstance(payload, SessionUpdate)
    assert isinstance(payload.stt, SttUpdateOpenAi)
    assert payload.stt.model == "whisper-1"
    assert isinstance(payload.tts, TtsUpdateAws)
    assert payload.tts.voice is None  # not filled in: the catalog has the default
    assert peer.inbox.empty()


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"stt": {"provider": "openai", "model": "eliza"}}, "stt.model"),
        ({"tts": {"provider": "aws", "voice": "nova"}}, "tts.voice"),
        ({"llm": {"temperature": "hot"}}, "llm.temperature"),
        ({"llm": {"temperature": None}}, "llm"),
        ({"inputAudio": {"sampleRate": 16000.5}}, "inputAudio.sampleRate"),
        ({"speed": 1}, "speed"),
        ("AAAA", "(payload)"),
        ({"llm": {"instructions": "x" * 100_000}}, "llm.instructions"),
    ],
)
async def test_an_invalid_payload_gets_invalid_payload(
    server: Server, payload: Any, where: str
) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    error = await error_for(peer, peer.client.emit("session.update", payload))
    assert error["code"] == "invalid_payload"
    assert error["event"] == "session.update"
    assert error["message"].startswith(where + ":"), error["message"]
    assert len(error["message"]) < 600
    assert "xxxxxxxxxx" not in error["message"]  # never echoes the input
    assert [c[0] for c in server.handler.calls] == ["connect"]


async def test_one_argument_per_event(server: Server) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    error = await error_for(peer, peer.client.emit("session.update", ({}, {})))
    assert (error["code"], error["event"]) == ("invalid_payload", "session.update")
    error = await error_for(peer, peer.client.emit("input.buffer.append"))
    assert (error["code"], error["event"]) == ("invalid_payload", "input.buffer.append")


async def test_input_buffer_append_keeps_bytes_and_str_apart(server: Server) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    chunk = bytes(range(256))  # not UTF-8: must travel as a binary attachment
    await peer.client.emit("input.buffer.append", chunk)
    await peer.client.emit("input.buffer.append", "AAAAAAAAAAA=")
    await peer.client.emit("input.buffer.append", {"audio": "AAAAAAAAAAA="})
    await until(lambda: len(server.handler.calls) == 4, "three chunks")
    payloads = [c[2] for c in server.handler.calls[1:]]
    assert payloads == [chunk, "AAAAAAAAAAA=", AudioObject(audio="AAAAAAAAAAA=")]
    assert [type(p) for p in payloads] == [bytes, str, AudioObject]
    error = await error_for(peer, peer.client.emit("input.buffer.append", "not base64!"))
    assert error["code"] == "invalid_payload"


@pytest.mark.parametrize("args", [(), (None,), ({},)])
async def test_input_buffer_commit_takes_no_payload(server: Server, args: tuple[Any, ...]) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    await peer.client.emit("input.buffer.commit", *args)
    await until(lambda: len(server.handler.calls) == 2, "on_input_buffer_commit")
    assert server.handler.calls[1][0] == "input.buffer.commit"


async def test_input_buffer_commit_with_a_payload_is_invalid(server: Server) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    error = await error_for(peer, peer.client.emit("input.buffer.commit", {"now": True}))
    assert (error["code"], error["event"]) == ("invalid_payload", "input.buffer.commit")
    assert [c[0] for c in server.handler.calls] == ["connect"]


@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("session.update", ({},)),
        ("input.buffer.append", (b"\x00\x00",)),
        ("input.buffer.commit", ()),
    ],
)
async def test_a_receiver_may_not_send_client_events(
    server: Server, event: str, args: tuple[Any, ...]
) -> None:
    peer = await connect(server, role="receiver", sessionId="s1")
    error = await error_for(peer, peer.client.emit(event, *args))
    assert (error["code"], error["event"]) == ("role_not_allowed", event)
    assert [c[0] for c in server.handler.calls] == ["connect"]


@pytest.mark.parametrize("event", ["no.such.event", "session.updated", "custom.error"])
async def test_an_event_not_for_the_server_gets_unknown_event(server: Server, event: str) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    error = await error_for(peer, peer.client.emit(event, {"a": 1}))
    assert error["code"] == "unknown_event"
    assert error["event"] == event


async def test_a_client_error_from_the_handler_gets_its_code(server: Server) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    update = {"llm": {"instructions": "unavailable"}}
    error = await error_for(peer, peer.client.emit("session.update", update))
    assert error == {
        "code": "provider_unavailable",
        "message": "no such LLM here",
        "event": "session.update",
        "provider": "aws",
    }


async def test_a_handler_bug_gets_internal_error_and_the_connection_stays(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    peer = await connect(server, role="sender", sessionId="s1")
    update = {"llm": {"instructions": "crash"}}
    error = await error_for(peer, peer.client.emit("session.update", update))
    assert (error["code"], error["event"]) == ("internal_error", "session.update")
    assert "handler bug" not in error["message"]
    assert any("handler failed" in r.message for r in caplog.records)
    await peer.client.emit("input.buffer.commit")
    await until(lambda: server.handler.calls[-1][0] == "input.buffer.commit", "next event")
    assert peer.client.connected


# -- the handler base class ------------------------------------------------------------------


def test_a_handler_missing_a_method_fails_at_instantiation() -> None:
    class Incomplete(ClientEventHandler):
        async def on_connect(self, client: Client, handshake: Handshake) -> None:
            pass

        async def on_disconnect(self, client: Client) -> None:
            pass

        async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
            pass

        async def on_input_buffer_append(self, client: Client, payload: InputBufferAppend) -> None:
            pass

    with pytest.raises(TypeError, match="on_input_buffer_commit"):
        Incomplete()  # type: ignore[abstract]


# -- the emitter -----------------------------------------------------------------------------


async def test_the_emitter_sends_to_the_right_room_only(server: Server) -> None:
    sender = await connect(server, role="sender", sessionId="s1")
    receiver = await connect(server, role="receiver", sessionId="s1")
    receiver2 = await connect(server, role="receiver", sessionId="s1")
    other = await connect(server, role="receiver", sessionId="s2")
    other_sender = await connect(server, role="sender", sessionId="s2")
    text = ResponseText(response_id="resp_1", item_id="item_1", text="Hello.")
    await server.emitter.response_text("s1", text)
    for peer in (receiver, receiver2):
        event, (payload,) = await peer.next()
        assert event == "response.text"
        validate_event("response.text", payload)
        assert payload == {"responseId": "resp_1", "itemId": "item_1", "text": "Hello."}
    # A barrier to each of the others: the first thing they get must be the barrier.
    barrier = CustomError(code=ErrorCode.INTERNAL_ERROR, message="barrier")
    for peer in (sender, other, other_sender):
        await server.emitter.custom_error(peer.sid, barrier)
        assert (await peer.next())[0] == "custom.error"
    assert receiver.inbox.empty()
    assert receiver2.inbox.empty()


async def test_session_events_go_to_the_sender(server: Server) -> None:
    sender = await connect(server, role="sender", sessionId="s1")
    receiver = await connect(server, role="receiver", sessionId="s1")
    await sender.client.emit("input.buffer.append", b"\x00\x00")
    await until(lambda: len(server.handler.calls) == 3, "append")
    from generated.models import InputAudioFormat, InputBufferInitialized

    started = InputBufferInitialized(
        item_id="item_1", format=InputAudioFormat.PCM16, sample_rate=16000
    )
    await server.emitter.input_buffer_initialized("s1", started)
    event, (payload,) = await sender.next()
    assert (event, payload) == (
        "input.buffer.initialized",
        {"itemId": "item_1", "format": "pcm16", "sampleRate": 16000},
    )
    assert type(payload["format"]) is str  # enums go out as their values
    await server.emitter.custom_error(Emitter.room("s1", ClientRole.RECEIVER), barrier())
    assert (await receiver.next())[0] == "custom.error"
    assert sender.inbox.empty()


def barrier() -> CustomError:
    return CustomError(code=ErrorCode.INTERNAL_ERROR, message="barrier")


async def test_audio_arrives_as_binary(server: Server) -> None:
    receiver = await connect(server, role="receiver", sessionId="s1")
    audio = bytes(range(256)) * 4
    delta = ResponseAudioDelta(
        response_id="resp_1",
        item_id="item_1",
        sequence=0,
        audio=audio,
        format=OutputAudioFormat.PCM16,
        sample_rate=24000,
        final=True,
    )
    await server.emitter.response_audio_delta("s1", delta)
    event, (payload,) = await receiver.next()
    assert event == "response.audio.delta"
    assert payload["audio"] == audio
    assert type(payload["audio"]) is bytes
    assert "text" not in payload  # None fields are left out
    validate_event("response.audio.delta", payload, strict_binary=True)


def test_rooms_are_per_session_and_role() -> None:
    rooms = {Emitter.room(s, r) for s in ("s1", "s2") for r in ClientRole}
    assert len(rooms) == 4
