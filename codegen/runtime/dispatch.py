"""The Socket.IO side of the runtime: clients, handler errors, room routing, and one dispatcher
that walks the generated operation table.

Subclass the generated ClientEventHandler (one method per client event, like a gRPC servicer),
send server events with the generated Emitter, and wire both to a socketio.AsyncServer with
register().

python-socketio runs each event in its own task by default (async_handlers=True), so two
input.buffer.append chunks can reach the handler out of order; create the server with
async_handlers=False to keep a client's events in order, and keep handler methods short
(start long work such as a turn as a task).
"""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

import socketio
from pydantic import BaseModel, ValidationError

from .describe import describe
from .model import WIRE
from .table import HANDSHAKE_SCHEMA, Operation, OperationTable

logger = logging.getLogger(__name__)

# The event that carries a handler's error, and the error codes this module sends itself: the
# contract must declare them (codegen.loader checks).
ERROR_EVENT: Final = "custom.error"
ERROR_CODES: Final = frozenset({"unknown_event", "role_not_allowed", "invalid_payload"})
CONNECT_ERROR_CODES: Final = frozenset({"invalid_handshake"})
INTERNAL_ERROR: Final = "internal_error"  # in both


class HandshakeFields(Protocol):
    """What the dispatcher reads of a validated handshake."""

    @property
    def role(self) -> enum.StrEnum: ...

    @property
    def session_id(self) -> str: ...


HandshakeT = TypeVar("HandshakeT", bound=HandshakeFields, contravariant=True)


@dataclass(frozen=True)
class Client:
    """A connected client: its Socket.IO sid and its validated handshake."""

    sid: str
    role: enum.StrEnum  # the contract's ClientRole
    session_id: str


class ClientError(Exception):
    """Raise from a handler method: the client gets custom.error with this code."""

    def __init__(
        self,
        code: enum.StrEnum,  # the contract's ErrorCode
        message: str,
        *,
        event: str | None = None,
        item_id: str | None = None,
        stage: enum.StrEnum | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event = event
        self.item_id = item_id
        self.stage = stage
        self.provider = provider

    def fields(self) -> dict[str, Any]:
        """The custom.error payload's fields (None: left out)."""
        return {
            "code": self.code,
            "message": self.message,
            "event": self.event,
            "item_id": self.item_id,
            "stage": self.stage,
            "provider": self.provider,
        }


class ConnectionRefused(Exception):
    """Raise from on_connect: the client gets connect_error {message, data: {code}}."""

    def __init__(self, code: enum.StrEnum, message: str) -> None:  # the contract's ConnectErrorCode
        super().__init__(message)
        self.code = code
        self.message = message


class Handler(abc.ABC, Generic[HandshakeT]):
    """The base of the generated ClientEventHandler. A subclass that misses a method cannot be
    instantiated (TypeError at start-up); mypy --strict flags a method whose signature drifts
    from the contract."""

    contract: ClassVar[OperationTable]  # set by the generated subclass

    @abc.abstractmethod
    async def on_connect(self, client: Client, handshake: HandshakeT) -> None:
        """A client with a valid handshake connects; raise ConnectionRefused to refuse it."""

    @abc.abstractmethod
    async def on_disconnect(self, client: Client) -> None:
        """A connected client went away (whatever the reason)."""


def _wire(value: Any) -> Any:
    """Enums as their values; bytes stay bytes (Socket.IO binary attachments)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


class RoomEmitter:
    """The base of the generated Emitter: sends a payload to a client or a room."""

    def __init__(self, sio: socketio.AsyncServer, namespace: str = "/") -> None:
        self._sio = sio
        self._namespace = namespace

    @staticmethod
    def room(session_id: str, role: enum.StrEnum) -> str:
        """The room of a session's clients of one role ("/" cannot occur in a session id)."""
        return f"{session_id}/{role.value}"

    async def emit(self, event: str, payload: BaseModel, to: str) -> None:
        data = _wire(payload.model_dump(mode="python", by_alias=True, exclude_none=True))
        await self._sio.emit(str(event), data, to=to, namespace=self._namespace)


Receive = Callable[..., Awaitable[None]]  # python-socketio calls it with (sid, *args)


class Dispatcher:
    """Validates and routes client events to a handler, by its operation table. One per
    namespace."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        handler: Handler[Any],
        emitter: RoomEmitter,
        namespace: str = "/",
    ) -> None:
        self._sio = sio
        self._handler = handler
        self._emitter = emitter
        self._namespace = namespace
        self._contract = handler.contract
        self._error_model = self._contract.operations[ERROR_EVENT].payload
        self._handshake = self._contract.payload_adapter(HANDSHAKE_SCHEMA)
        self._clients: dict[str, Client] = {}
        sio.on("connect", self._connect, namespace=namespace)
        sio.on("disconnect", self._disconnect, namespace=namespace)
        for op in self._contract.client_operations:
            sio.on(str(op.event), self._receiver(op), namespace=namespace)
        sio.on("*", self._unknown, namespace=namespace)

    @property
    def clients(self) -> Mapping[str, Client]:
        """The connected clients by sid (read-only view)."""
        return MappingProxyType(self._clients)

    def _receiver(self, op: Operation) -> Receive:
        """The Socket.IO handler of one client event: role, payload, then the handler method."""
        event = str(op.event)
        roles = op.roles
        clients = self._clients
        method: Receive = getattr(self._handler, str(op.handler))

        if op.payload is None:

            async def receive_nothing(sid: str, *args: Any) -> None:
                client = clients.get(sid)
                if client is None:
                    return
                if client.role not in roles:
                    await self._not_allowed(client, event)
                elif not (args == () or args in ((None,), ({},))):
                    await self._invalid(sid, event, f"{event} takes no payload")
                else:
                    await self._call(sid, event, method(client))

            return receive_nothing

        validate = self._contract.payload_adapter(event).validate_python

        async def receive(sid: str, *args: Any) -> None:
            client = clients.get(sid)
            if client is None:
                return
            if client.role not in roles:
                await self._not_allowed(client, event)
                return
            if len(args) != 1:
                await self._invalid(sid, event, f"{event} takes one payload, got {len(args)}")
                return
            try:
                payload = validate(args[0], context=WIRE)
            except ValidationError as exc:
                await self._invalid(sid, event, describe(exc, args[0]))
                return
            await self._call(sid, event, method(client, payload))

        return receive

    def _sent_by_client(self, sid: str) -> bool:
        """Whether a connect/disconnect call is a client *event* of that name, not the lifecycle.

        python-socketio routes a client's `emit("connect")` to the connect handler too. Its real
        connect and disconnect calls happen while it reports the sid as not connected (pending),
        whereas an event is only delivered from a connected client.
        """
        return bool(self._sio.manager.is_connected(sid, self._namespace))

    async def _connect(self, sid: str, environ: Any = None, auth: Any = None, *_: Any) -> None:
        # A client's own `connect` event may come with any number of arguments: all optional.
        if self._sent_by_client(sid):
            await self._unknown("connect", sid)
            return
        try:
            handshake = self._handshake.validate_python(auth, context=WIRE)
        except ValidationError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                "invalid handshake: " + describe(exc, auth), {"code": "invalid_handshake"}
            ) from None
        client = Client(sid=sid, role=handshake.role, session_id=handshake.session_id)
        try:
            await self._handler.on_connect(client, handshake)
        except ConnectionRefused as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, {"code": str(exc.code)}
            ) from None
        except Exception:
            logger.exception("on_connect failed for %s", sid)
            raise socketio.exceptions.ConnectionRefusedError(
                "internal server error", {"code": INTERNAL_ERROR}
            ) from None
        self._clients[sid] = client
        await self._sio.enter_room(
            sid, RoomEmitter.room(client.session_id, client.role), namespace=self._namespace
        )

    async def _disconnect(self, sid: str, reason: Any = None, *_: Any) -> None:
        if self._sent_by_client(sid):
            await self._unknown("disconnect", sid)
            return
        client = self._clients.pop(sid, None)
        if client is None:
            return
        try:
            await self._handler.on_disconnect(client)
        except Exception:
            logger.exception("on_disconnect failed for %s", sid)

    async def _unknown(self, event: Any, sid: Any = None, *args: Any) -> None:
        # The serializer should refuse events that are not named by a string, and "*" (the
        # catch-all's own key, whose handler python-socketio calls without the event name); if
        # one gets here anyway it is answered, not raised.
        if not isinstance(event, str) or not isinstance(sid, str) or sid not in self._clients:
            if isinstance(event, str) and event in self._clients:
                await self._error(
                    event, {"code": "unknown_event", "message": "event not in the contract"}
                )
            return
        known = event in self._contract.operations
        message = f"{event} is a server event" if known else "event not in the contract"
        await self._error(sid, {"code": "unknown_event", "message": message, "event": event[:100]})

    async def _not_allowed(self, client: Client, event: str) -> None:
        message = f"a {client.role.value} may not send {event}"
        await self._error(
            client.sid, {"code": "role_not_allowed", "message": message, "event": event}
        )

    async def _invalid(self, sid: str, event: str, message: str) -> None:
        await self._error(sid, {"code": "invalid_payload", "message": message, "event": event})

    async def _call(self, sid: str, event: str, call: Awaitable[None]) -> None:
        try:
            await call
        except ClientError as exc:
            fields = exc.fields()
            fields["event"] = fields["event"] or event
            await self._error(sid, fields)
        except Exception:
            logger.exception("handler failed on %s from %s", event, sid)
            fields = {"code": INTERNAL_ERROR, "message": "internal server error", "event": event}
            await self._error(sid, fields)

    async def _error(self, sid: str, fields: Mapping[str, Any]) -> None:
        try:
            payload = self._error_model.model_validate(fields)
            await self._emitter.emit(ERROR_EVENT, payload, sid)
        except Exception:  # the client may be gone
            logger.exception("could not send custom.error to %s", sid)


def register(
    sio: socketio.AsyncServer,
    handler: Handler[Any],
    emitter: RoomEmitter,
    namespace: str = "/",
) -> Dispatcher:
    """Register the contract's events on ``sio``; returns the Dispatcher (its ``clients``)."""
    return Dispatcher(sio, handler, emitter, namespace)
