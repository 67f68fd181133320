# generated from asyncapi.yaml by codegen — do not edit
"""The typed Socket.IO dispatch layer.

Subclass ClientEventHandler (one method per client event, like a gRPC servicer), send server
events with Emitter, and wire both to a socketio.AsyncServer with register().

python-socketio runs each event in its own task by default (async_handlers=True), so two
input.buffer.append chunks can reach the handler out of order; create the server with
async_handlers=False to keep a client's events in order, and keep handler methods short
(start long work such as a turn as a task)."""

import abc
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

import socketio
from pydantic import TypeAdapter, ValidationError

from .base import WIRE, ContractModel
from .events import OPERATIONS, Event
from .models import (
    ClientRole,
    ConnectErrorCode,
    CustomError,
    ErrorCode,
    Handshake,
    InputBufferAppend,
    InputBufferInitialized,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseText,
    SessionUpdate,
    SessionUpdated,
    Stage,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Client:
    """A connected client: its Socket.IO sid and its validated handshake."""

    sid: str
    role: ClientRole
    session_id: str


class ClientError(Exception):
    """Raise from a handler method: the client gets custom.error with this code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        event: str | None = None,
        item_id: str | None = None,
        stage: Stage | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event = event
        self.item_id = item_id
        self.stage = stage
        self.provider = provider

    def to_payload(self) -> CustomError:
        return CustomError(
            code=self.code,
            message=self.message,
            event=self.event,
            item_id=self.item_id,
            stage=self.stage,
            provider=self.provider,
        )


class ConnectionRefused(Exception):
    """Raise from on_connect: the client gets connect_error {message, data: {code}}."""

    def __init__(self, code: ConnectErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ClientEventHandler(abc.ABC):
    """The server's side of the contract. A subclass that misses a method cannot be
    instantiated (TypeError at start-up); mypy --strict flags a method whose signature
    drifts from the contract."""

    @abc.abstractmethod
    async def on_connect(self, client: Client, handshake: Handshake) -> None:
        """A client with a valid handshake connects; raise ConnectionRefused to refuse it."""

    @abc.abstractmethod
    async def on_disconnect(self, client: Client) -> None:
        """A connected client went away (whatever the reason)."""

    @abc.abstractmethod
    async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
        """`session.update` from a client whose role may send it; the payload is valid."""

    @abc.abstractmethod
    async def on_input_buffer_append(self, client: Client, payload: InputBufferAppend) -> None:
        """`input.buffer.append` from a client whose role may send it; the payload is valid."""

    @abc.abstractmethod
    async def on_input_buffer_commit(self, client: Client) -> None:
        """`input.buffer.commit` from a client whose role may send it; the payload is valid."""


def _wire(value: Any) -> Any:
    """Enums as their values; bytes stay bytes (Socket.IO binary attachments)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


class Emitter:
    """Sends server events; whom each goes to is the contract's x-audience."""

    def __init__(self, sio: socketio.AsyncServer, namespace: str = "/") -> None:
        self._sio = sio
        self._namespace = namespace

    @staticmethod
    def room(session_id: str, role: ClientRole) -> str:
        """The room of a session's clients of one role ("/" cannot occur in a session id)."""
        return f"{session_id}/{role.value}"

    async def _emit(self, event: Event, payload: ContractModel, to: str) -> None:
        data = _wire(payload.model_dump(mode="python", by_alias=True, exclude_none=True))
        await self._sio.emit(event.value, data, to=to, namespace=self._namespace)

    async def session_updated(self, session_id: str, payload: SessionUpdated) -> None:
        """`session.updated` to the session's sender (x-audience: sender)."""
        await self._emit(Event.SESSION_UPDATED, payload, self.room(session_id, ClientRole.SENDER))

    async def input_buffer_initialized(
        self, session_id: str, payload: InputBufferInitialized
    ) -> None:
        """`input.buffer.initialized` to the session's sender (x-audience: sender)."""
        await self._emit(
            Event.INPUT_BUFFER_INITIALIZED, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def request_transcribe_done(
        self, session_id: str, payload: RequestTranscribeDone
    ) -> None:
        """`request.transcribe.done` to the session's sender (x-audience: sender)."""
        await self._emit(
            Event.REQUEST_TRANSCRIBE_DONE, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def response_text(self, session_id: str, payload: ResponseText) -> None:
        """`response.text` to the session's receivers (x-audience: receivers)."""
        await self._emit(Event.RESPONSE_TEXT, payload, self.room(session_id, ClientRole.RECEIVER))

    async def response_audio_delta(self, session_id: str, payload: ResponseAudioDelta) -> None:
        """`response.audio.delta` to the session's receivers (x-audience: receivers)."""
        await self._emit(
            Event.RESPONSE_AUDIO_DELTA, payload, self.room(session_id, ClientRole.RECEIVER)
        )

    async def custom_error(self, to: str, payload: CustomError) -> None:
        """`custom.error` to one client (its sid) or to a room."""
        await self._emit(Event.CUSTOM_ERROR, payload, to)


_ALLOWED_ROLES: Final[Mapping[Event, frozenset[ClientRole]]] = MappingProxyType(
    {
        Event.SESSION_UPDATE: frozenset({ClientRole.SENDER}),
        Event.INPUT_BUFFER_APPEND: frozenset({ClientRole.SENDER}),
        Event.INPUT_BUFFER_COMMIT: frozenset({ClientRole.SENDER}),
    }
)
_HANDSHAKE: Final[TypeAdapter[Handshake]] = TypeAdapter(Handshake)
_SESSION_UPDATE: Final[TypeAdapter[SessionUpdate]] = TypeAdapter(SessionUpdate)
_INPUT_BUFFER_APPEND: Final[TypeAdapter[InputBufferAppend]] = TypeAdapter(InputBufferAppend)
_MAX_ERRORS = 3
_MAX_MESSAGE = 160


def describe(exc: ValidationError, data: Any) -> str:
    """A short message for a validation error: field paths and reasons, never the input.

    Union members (the provider variants of stt/llm/tts, the three audio shapes) are left out
    of the paths, and only the member(s) that came closest are reported: the fewest errors,
    a wrong constant (`provider`) counting double."""
    found: list[tuple[tuple[str, ...], tuple[tuple[int, str], ...], str, int]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path: list[str] = []
        tags: list[tuple[int, str]] = []
        node: Any = data
        loc = error["loc"]
        for i, part in enumerate(loc):
            last_missing = error["type"] == "missing" and i == len(loc) - 1
            if (isinstance(node, dict) and part in node) or last_missing:
                path.append(str(part))
                node = node.get(part) if isinstance(node, dict) else None
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                path.append(str(part))
                node = node[part]
            else:
                tags.append((len(path), str(part)))  # a union member, not a field
        message = str(error["msg"])
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        weight = 2 if error["type"] == "literal_error" else 1
        found.append((tuple(path), tuple(tags), message, weight))
    depth = 0
    while any(len(member) > depth for _, member, _, _ in found):
        scores: dict[tuple[tuple[int, str], ...], int] = {}
        for _, member, _, weight in found:
            if len(member) > depth:
                scores[member[: depth + 1]] = scores.get(member[: depth + 1], 0) + weight
        best = min(scores.values())
        found = [f for f in found if len(f[1]) <= depth or scores[f[1][: depth + 1]] == best]
        depth += 1
    parts = list(dict.fromkeys(f"{'.'.join(p) or '(payload)'}: {m}" for p, _, m, _ in found))
    more = f" (and {len(parts) - _MAX_ERRORS} more)" if len(parts) > _MAX_ERRORS else ""
    return "; ".join(parts[:_MAX_ERRORS]) + more


class Dispatcher:
    """Validates and routes client events to a ClientEventHandler. One per namespace."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        handler: ClientEventHandler,
        emitter: Emitter,
        namespace: str = "/",
    ) -> None:
        self._sio = sio
        self._handler = handler
        self._emitter = emitter
        self._namespace = namespace
        self._clients: dict[str, Client] = {}
        sio.on("connect", self._connect, namespace=namespace)
        sio.on("disconnect", self._disconnect, namespace=namespace)
        sio.on(Event.SESSION_UPDATE.value, self._session_update, namespace=namespace)
        sio.on(Event.INPUT_BUFFER_APPEND.value, self._input_buffer_append, namespace=namespace)
        sio.on(Event.INPUT_BUFFER_COMMIT.value, self._input_buffer_commit, namespace=namespace)
        sio.on("*", self._unknown, namespace=namespace)

    @property
    def clients(self) -> Mapping[str, Client]:
        """The connected clients by sid (read-only view)."""
        return MappingProxyType(self._clients)

    def _sent_by_client(self, sid: str) -> bool:
        """Whether a connect/disconnect call is a client *event* of that name, not the lifecycle.

        python-socketio routes a client's `emit("connect")` to the connect handler too. Its real
        connect and disconnect calls happen while it reports the sid as not connected (pending),
        whereas an event is only delivered from a connected client.
        """
        return bool(self._sio.manager.is_connected(sid, self._namespace))

    async def _connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        if self._sent_by_client(sid):
            await self._unknown("connect", sid)
            return
        try:
            handshake = _HANDSHAKE.validate_python(auth, context=WIRE)
        except ValidationError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                "invalid handshake: " + describe(exc, auth),
                {"code": ConnectErrorCode.INVALID_HANDSHAKE.value},
            ) from None
        client = Client(sid=sid, role=handshake.role, session_id=handshake.session_id)
        try:
            await self._handler.on_connect(client, handshake)
        except ConnectionRefused as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, {"code": exc.code.value}
            ) from None
        except Exception:
            logger.exception("on_connect failed for %s", sid)
            raise socketio.exceptions.ConnectionRefusedError(
                "internal server error", {"code": ConnectErrorCode.INTERNAL_ERROR.value}
            ) from None
        self._clients[sid] = client
        await self._sio.enter_room(
            sid, Emitter.room(client.session_id, client.role), namespace=self._namespace
        )

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
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

    async def _unknown(self, event: str, sid: str, *args: Any) -> None:
        if sid not in self._clients:
            return
        known = event in OPERATIONS
        message = f"{event} is a server event" if known else "event not in the contract"
        await self._error(
            sid, CustomError(code=ErrorCode.UNKNOWN_EVENT, message=message, event=event[:100])
        )

    async def _admit(self, sid: str, event: Event) -> Client | None:
        """The client, if it is connected and its role may send the event."""
        client = self._clients.get(sid)
        if client is None:
            return None
        if client.role not in _ALLOWED_ROLES[event]:
            await self._error(
                sid,
                CustomError(
                    code=ErrorCode.ROLE_NOT_ALLOWED,
                    message=f"a {client.role.value} may not send {event.value}",
                    event=event.value,
                ),
            )
            return None
        return client

    async def _invalid(self, sid: str, event: Event, message: str) -> None:
        await self._error(
            sid,
            CustomError(code=ErrorCode.INVALID_PAYLOAD, message=message, event=event.value),
        )

    async def _call(self, sid: str, event: Event, call: Awaitable[None]) -> None:
        try:
            await call
        except ClientError as exc:
            payload = exc.to_payload()
            if payload.event is None:
                payload = payload.model_copy(update={"event": event.value})
            await self._error(sid, payload)
        except Exception:
            logger.exception("handler failed on %s from %s", event.value, sid)
            await self._error(
                sid,
                CustomError(
                    code=ErrorCode.INTERNAL_ERROR,
                    message="internal server error",
                    event=event.value,
                ),
            )

    async def _error(self, sid: str, payload: CustomError) -> None:
        try:
            await self._emitter.custom_error(sid, payload)
        except Exception:  # the client may be gone
            logger.exception("could not send custom.error to %s", sid)

    async def _session_update(self, sid: str, *args: Any) -> None:
        client = await self._admit(sid, Event.SESSION_UPDATE)
        if client is None:
            return
        if len(args) != 1:
            await self._invalid(
                sid, Event.SESSION_UPDATE, f"session.update takes one payload, got {len(args)}"
            )
            return
        try:
            payload = _SESSION_UPDATE.validate_python(args[0], context=WIRE)
        except ValidationError as exc:
            await self._invalid(sid, Event.SESSION_UPDATE, describe(exc, args[0]))
            return
        await self._call(
            sid, Event.SESSION_UPDATE, self._handler.on_session_update(client, payload)
        )

    async def _input_buffer_append(self, sid: str, *args: Any) -> None:
        client = await self._admit(sid, Event.INPUT_BUFFER_APPEND)
        if client is None:
            return
        if len(args) != 1:
            await self._invalid(
                sid,
                Event.INPUT_BUFFER_APPEND,
                f"input.buffer.append takes one payload, got {len(args)}",
            )
            return
        try:
            payload = _INPUT_BUFFER_APPEND.validate_python(args[0], context=WIRE)
        except ValidationError as exc:
            await self._invalid(sid, Event.INPUT_BUFFER_APPEND, describe(exc, args[0]))
            return
        await self._call(
            sid, Event.INPUT_BUFFER_APPEND, self._handler.on_input_buffer_append(client, payload)
        )

    async def _input_buffer_commit(self, sid: str, *args: Any) -> None:
        client = await self._admit(sid, Event.INPUT_BUFFER_COMMIT)
        if client is None:
            return
        if not (args == () or args in ((None,), ({},))):
            await self._invalid(
                sid, Event.INPUT_BUFFER_COMMIT, "input.buffer.commit takes no payload"
            )
            return
        await self._call(
            sid, Event.INPUT_BUFFER_COMMIT, self._handler.on_input_buffer_commit(client)
        )


def register(
    sio: socketio.AsyncServer,
    handler: ClientEventHandler,
    emitter: Emitter,
    namespace: str = "/",
) -> Dispatcher:
    """Register the contract's events on ``sio``; returns the Dispatcher (its ``clients``)."""
    return Dispatcher(sio, handler, emitter, namespace)
