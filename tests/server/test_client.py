"""The generated Python client (generated/client.py over codegen/runtime/client.py) against a
live test server: typed methods out, server events back as the generated models."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from codegen.runtime.client import ConnectRefused, ContractViolation
from generated.client import ChatClient, ServerEvent
from generated.models import (
    ClientRole,
    CustomError,
    ErrorCode,
    Handshake,
    InputBufferInitialized,
    LlmOptionsUpdate,
    SessionUpdate,
    SessionUpdated,
)
from tests.server.conftest import ServeFn
from tests.server.harness import RunningServer

EventT = TypeVar("EventT")


def client(server: RunningServer, role: ClientRole, token: str | None = None) -> ChatClient:
    handshake = Handshake(role=role, session_id="client-test", token=token)
    return ChatClient(server.url, handshake, path=server.path)


async def next_of(events: AsyncIterator[ServerEvent], kind: type[EventT]) -> EventT:
    """The next event of type ``kind``, within 10 s."""
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the connection closed before a {kind.__name__}")


async def test_methods_send_models_and_events_come_back_as_models(server: RunningServer) -> None:
    async with client(server, ClientRole.SENDER) as sender:
        events = sender.events()
        await sender.session_update(SessionUpdate(llm=LlmOptionsUpdate(temperature=0.25)))
        updated = await next_of(events, SessionUpdated)
        assert updated.session_id == "client-test"
        assert updated.llm.temperature == 0.25

        await sender.input_buffer_append(b"\x00\x00" * 320)  # 20 ms of silence, binary
        started = await next_of(events, InputBufferInitialized)
        assert started.item_id.startswith("item_")
        await sender.input_buffer_append("AAAAAA==")  # the JSON message: base64 text

        await sender.input_buffer_append(b"\x00")  # an odd byte count is not PCM16
        error = await next_of(events, CustomError)
        assert error.code is ErrorCode.INVALID_AUDIO
        assert error.event == "input.buffer.append"


async def test_a_refused_handshake_raises_its_contract_code(serve: ServeFn) -> None:
    server = await serve(tokens=frozenset({"right-token"}))
    with pytest.raises(ConnectRefused) as refused:
        await client(server, ClientRole.RECEIVER, token="wrong-token").connect()
    assert refused.value.code == "unauthorized"
    async with client(server, ClientRole.RECEIVER, token="right-token") as receiver:
        assert receiver.connected


async def test_events_end_when_the_connection_closes(server: RunningServer) -> None:
    receiver = client(server, ClientRole.RECEIVER)
    await receiver.connect()
    events = receiver.events()
    await receiver.close()
    async with asyncio.timeout(5):
        assert [event async for event in events] == []


async def test_a_server_event_off_the_contract_raises(server: RunningServer) -> None:
    # The server under test keeps the contract; feed the client what a broken one would send.
    async with client(server, ClientRole.RECEIVER) as receiver:
        await receiver._received("response.text", {"text": "no ids"})
        with pytest.raises(ContractViolation, match=r"^response\.text: "):
            await anext(receiver.events())


async def test_no_server_is_a_connection_error_not_a_refusal() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handshake = Handshake(role=ClientRole.SENDER, session_id="nobody-home")
    nowhere = ChatClient(f"http://127.0.0.1:{port}", handshake, connect_timeout=2)
    # python-socketio reports its own failure through connect_error too: not a refusal.
    with pytest.raises(ConnectionError, match="cannot connect"):
        await nowhere.connect()
