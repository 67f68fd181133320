"""codegen.runtime as ordinary code: the operation table and the dispatcher's registrations.

The dispatcher's behaviour on the wire (validation, roles, error codes, handshake) is
test_dispatch.py, with a real python-socketio server.
"""

from __future__ import annotations

from typing import Any

import pytest

from codegen.runtime import ClientError, Direction, register
from generated.dispatch import ClientEventHandler, Emitter
from generated.events import CONTRACT, OPERATIONS, Event
from generated.models import ErrorCode, Stage


class Recorder:
    """Records what a dispatcher registers on a socketio.AsyncServer."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on(self, event: str, handler: Any, namespace: str = "/") -> None:
        self.events.append(event)


def test_the_table_has_every_event_once() -> None:
    assert set(OPERATIONS) == set(Event)
    assert all(OPERATIONS[event].event is event for event in Event)


def test_every_client_event_names_an_abstract_handler_method() -> None:
    client_ops = [op for op in OPERATIONS.values() if op.direction is Direction.CLIENT_TO_SERVER]
    assert client_ops == list(CONTRACT.client_operations)
    methods = {str(op.handler) for op in client_ops}
    assert methods | {"on_connect", "on_disconnect"} == ClientEventHandler.__abstractmethods__
    assert all(op.roles for op in client_ops)


def test_the_dispatcher_registers_the_client_events_and_a_catch_all() -> None:
    handler_class: Any = type(
        "Noop", (ClientEventHandler,), dict.fromkeys(ClientEventHandler.__abstractmethods__)
    )
    sio: Any = Recorder()
    register(sio, handler_class(), Emitter(sio))
    client_events = [str(op.event) for op in CONTRACT.client_operations]
    assert sorted(sio.events) == sorted(["connect", "disconnect", "*", *client_events])


def test_an_event_without_payload_has_no_adapter_or_schema() -> None:
    with pytest.raises(KeyError, match="has no payload"):
        CONTRACT.payload_adapter(Event.INPUT_BUFFER_COMMIT)
    with pytest.raises(KeyError):
        CONTRACT.json_schema(Event.INPUT_BUFFER_COMMIT)


def test_json_schema_is_a_fresh_copy() -> None:
    first = CONTRACT.json_schema(Event.SESSION_UPDATE)
    first["title"] = "changed"
    assert CONTRACT.json_schema(Event.SESSION_UPDATE)["title"] != "changed"


def test_a_client_error_carries_the_custom_error_fields() -> None:
    exc = ClientError(ErrorCode.PROVIDER_ERROR, "tts failed", item_id="item_1", stage=Stage.TTS)
    payload = OPERATIONS[Event.CUSTOM_ERROR].payload.model_validate(exc.fields())
    assert payload.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "code": "provider_error",
        "message": "tts failed",
        "itemId": "item_1",
        "stage": "tts",
    }
