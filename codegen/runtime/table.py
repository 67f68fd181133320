"""The operation table that generated/events.py fills in: one row per event of the contract.

Like a gRPC method table: the generated module lists what the contract decides (event names,
payload types, handler names, roles, audiences); everything that walks the table is here.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, WrapSerializer

from .model import WIRE, bytes_as_base64

# The name under which the handshake's adapter and JSON Schema are found (schemas/handshake.json).
HANDSHAKE_SCHEMA: Final = "handshake"


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
    event: enum.StrEnum  # the generated Event member (the channel address)
    operation_id: str
    direction: Direction
    audience: Audience
    # The payload type: a model class, or a type alias (InputBufferAppend: bytes | str |
    # AudioObject) to validate with pydantic.TypeAdapter; None when the event has no payload.
    payload: Any
    # Client events: the handler method that receives it and the roles that may send it.
    handler: str | None = None
    roles: frozenset[enum.StrEnum] = frozenset()
    # Sent by Socket.IO itself (connect_error), not by an Emitter method.
    reserved: bool = False


def _adapter(kind: Any) -> TypeAdapter[Any]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return TypeAdapter(kind)
    # A type alias (InputBufferAppend): bytes as base64 in JSON, like the models.
    wrapped: Any = Annotated[kind, WrapSerializer(bytes_as_base64, when_used="json")]
    return TypeAdapter(wrapped)


class OperationTable:
    """The contract's operations by event, their payload adapters and JSON Schemas.

    ``module`` is the generated module's ``__name__``; its package holds ``schemas/<event>.json``
    and ``schemas/handshake.json``."""

    def __init__(self, module: str, handshake: type[BaseModel], rows: Iterable[Operation]) -> None:
        self.package = module.rpartition(".")[0]
        self.handshake = handshake
        # Keyed by the Event member, which is also the plain event name.
        self.operations: Final[Mapping[str, Operation]] = MappingProxyType(
            {op.event: op for op in rows}
        )
        self.client_operations: Final = tuple(
            op for op in self.operations.values() if op.direction is Direction.CLIENT_TO_SERVER
        )
        self.server_events: Final = frozenset(
            op.event
            for op in self.operations.values()
            if op.direction is Direction.SERVER_TO_CLIENT
        )
        adapters = {str(e): _adapter(op.payload) for e, op in self.operations.items() if op.payload}
        adapters[HANDSHAKE_SCHEMA] = TypeAdapter(handshake)
        self._adapters: Final[Mapping[str, TypeAdapter[Any]]] = MappingProxyType(adapters)

    def payload_adapter(self, name: str) -> TypeAdapter[Any]:
        """The TypeAdapter of an event's payload type, or of the handshake (HANDSHAKE_SCHEMA)."""
        try:
            return self._adapters[name]
        except KeyError:
            raise KeyError(f"{name} has no payload") from None

    def validate_payload(self, name: str, data: Any) -> Any:
        """Validate what a client sent (a Python payload: bytes for binary attachments) as the
        dispatcher does: with the WIRE context. Raises pydantic.ValidationError."""
        return self.payload_adapter(name).validate_python(data, context=WIRE)

    def json_schema(self, name: str) -> dict[str, Any]:
        """The self-contained JSON Schema (draft 2020-12) of an event's payload, or of the
        handshake (``json_schema(HANDSHAKE_SCHEMA)``). A fresh copy on each call."""
        self.payload_adapter(name)  # KeyError when there is none
        return copy.deepcopy(_load_schema(self.package, name))


@functools.cache
def _load_schema(package: str, name: str) -> dict[str, Any]:
    text = (resources.files(package) / "schemas" / f"{name}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
