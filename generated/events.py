# generated from asyncapi.yaml by codegen — do not edit
"""Event names and the table of operations of the contract."""

import copy
import enum
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, WrapSerializer

from .base import WIRE, bytes_as_base64
from .models import (
    ConnectError,
    CustomError,
    Handshake,
    InputBufferAppend,
    InputBufferInitialized,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseText,
    SessionUpdate,
    SessionUpdated,
)


class Event(enum.StrEnum):
    """Socket.IO event names (the channel addresses)."""

    SESSION_UPDATE = "session.update"
    SESSION_UPDATED = "session.updated"
    INPUT_BUFFER_APPEND = "input.buffer.append"
    INPUT_BUFFER_INITIALIZED = "input.buffer.initialized"
    INPUT_BUFFER_COMMIT = "input.buffer.commit"
    REQUEST_TRANSCRIBE_DONE = "request.transcribe.done"
    RESPONSE_TEXT = "response.text"
    RESPONSE_AUDIO_DELTA = "response.audio.delta"
    CUSTOM_ERROR = "custom.error"
    CONNECT_ERROR = "connect_error"


class Direction(enum.StrEnum):
    CLIENT_TO_SERVER = "client-to-server"
    SERVER_TO_CLIENT = "server-to-client"


class Audience(enum.StrEnum):
    """Who gets a server event, or who may send a client event (x-audience)."""

    SENDER = "sender"  # the session's Senders
    RECEIVERS = "receivers"  # the session's Receivers
    CLIENT = "client"  # the one client concerned


@dataclass(frozen=True)
class Operation:
    event: Event
    operation_id: str
    direction: Direction
    audience: Audience
    # The payload type: a model class, or a type alias (InputBufferAppend: bytes | str |
    # AudioObject) to validate with pydantic.TypeAdapter; None when the event has no payload.
    payload: Any
    # Sent by Socket.IO itself (connect_error), not by an Emitter method.
    reserved: bool


OPERATIONS: Final[Mapping[Event, Operation]] = MappingProxyType(
    {
        Event.SESSION_UPDATE: Operation(
            event=Event.SESSION_UPDATE,
            operation_id="session.update.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=SessionUpdate,
            reserved=False,
        ),
        Event.SESSION_UPDATED: Operation(
            event=Event.SESSION_UPDATED,
            operation_id="session.updated.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=SessionUpdated,
            reserved=False,
        ),
        Event.INPUT_BUFFER_APPEND: Operation(
            event=Event.INPUT_BUFFER_APPEND,
            operation_id="input.buffer.append.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=InputBufferAppend,
            reserved=False,
        ),
        Event.INPUT_BUFFER_INITIALIZED: Operation(
            event=Event.INPUT_BUFFER_INITIALIZED,
            operation_id="input.buffer.initialized.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=InputBufferInitialized,
            reserved=False,
        ),
        Event.INPUT_BUFFER_COMMIT: Operation(
            event=Event.INPUT_BUFFER_COMMIT,
            operation_id="input.buffer.commit.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=None,
            reserved=False,
        ),
        Event.REQUEST_TRANSCRIBE_DONE: Operation(
            event=Event.REQUEST_TRANSCRIBE_DONE,
            operation_id="request.transcribe.done.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=RequestTranscribeDone,
            reserved=False,
        ),
        Event.RESPONSE_TEXT: Operation(
            event=Event.RESPONSE_TEXT,
            operation_id="response.text.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.RECEIVERS,
            payload=ResponseText,
            reserved=False,
        ),
        Event.RESPONSE_AUDIO_DELTA: Operation(
            event=Event.RESPONSE_AUDIO_DELTA,
            operation_id="response.audio.delta.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.RECEIVERS,
            payload=ResponseAudioDelta,
            reserved=False,
        ),
        Event.CUSTOM_ERROR: Operation(
            event=Event.CUSTOM_ERROR,
            operation_id="custom.error.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.CLIENT,
            payload=CustomError,
            reserved=False,
        ),
        Event.CONNECT_ERROR: Operation(
            event=Event.CONNECT_ERROR,
            operation_id="connect_error.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.CLIENT,
            payload=ConnectError,
            reserved=True,
        ),
    }
)
CLIENT_EVENTS: Final = frozenset(
    e for e, op in OPERATIONS.items() if op.direction is Direction.CLIENT_TO_SERVER
)
SERVER_EVENTS: Final = frozenset(
    e for e, op in OPERATIONS.items() if op.direction is Direction.SERVER_TO_CLIENT
)
HANDSHAKE_SCHEMA: Final = "handshake"


@functools.cache
def payload_adapter(name: str) -> TypeAdapter[Any]:
    """A TypeAdapter for an event's payload type, or for the handshake (HANDSHAKE_SCHEMA)."""
    kind: Any = Handshake if name == HANDSHAKE_SCHEMA else OPERATIONS[Event(name)].payload
    if kind is None:
        raise KeyError(f"{name} has no payload")
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return TypeAdapter(kind)
    # A type alias (InputBufferAppend): bytes as base64 in JSON, like the models.
    wrapped: Any = Annotated[kind, WrapSerializer(bytes_as_base64, when_used="json")]
    return TypeAdapter(wrapped)


def validate_payload(name: str, data: Any) -> Any:
    """Validate what a client sent (a Python payload: bytes for binary attachments) as the
    dispatcher does: with the WIRE context. Raises pydantic.ValidationError."""
    return payload_adapter(name).validate_python(data, context=WIRE)


@functools.cache
def _load_schema(name: str) -> str:
    return (resources.files(__package__) / "schemas" / f"{name}.json").read_text("utf-8")


def json_schema(name: str) -> dict[str, Any]:
    """The self-contained JSON Schema (draft 2020-12) of an event's payload, or of the
    handshake (``json_schema(HANDSHAKE_SCHEMA)``). A fresh copy on each call."""
    if name != HANDSHAKE_SCHEMA and OPERATIONS[Event(name)].payload is None:
        raise KeyError(f"{name} has no payload")
    document: dict[str, Any] = json.loads(_load_schema(name))
    return copy.deepcopy(document)
