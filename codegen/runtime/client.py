"""The client side of the contract: what generated/client.py's typed methods stand on.

``EventClient`` is one Socket.IO connection (python-socketio's AsyncClient) with a handshake.
It sends client events with payloads the generated models have checked, and yields the server's
events decoded into the generated models, in the order they arrived:

    async with ChatClient(url, Handshake(role=ClientRole.SENDER, session_id="s1")) as sender:
        await sender.session_update(SessionUpdate(...))
        async for event in sender.events():
            match event:
                case RequestTranscribeDone(text=text): ...

A refused handshake raises ``ConnectRefused`` with the contract's code (``connect_error``), not
python-socketio's "One or more namespaces failed to connect". A server event that does not
match the contract raises ``ContractViolation`` from the iterator: the server broke the
contract, and a client that guessed would hide it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar, cast

import socketio
from pydantic import BaseModel, TypeAdapter, ValidationError

from .describe import describe
from .table import Direction, OperationTable

EventT = TypeVar("EventT")

DEFAULT_PATH: Final = "/socketio"


class ConnectRefused(Exception):
    """The server refused the handshake (``connect_error``); ``code`` is the contract's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class ContractViolation(Exception):
    """A server event whose payload does not match the contract."""


_CLOSED: Final = object()  # the queue's end: the connection is gone


class EventClient(Generic[EventT]):
    """One connection: ``connect``/``close`` (or ``async with``), ``emit``, ``events``."""

    def __init__(
        self,
        url: str,
        handshake: BaseModel,
        *,
        contract: OperationTable,
        path: str = DEFAULT_PATH,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.handshake = handshake
        self.path = path
        self._connect_timeout = connect_timeout
        self._contract = contract
        self._decoders: Mapping[str, TypeAdapter[Any]] = {
            str(op.event): contract.payload_adapter(str(op.event))
            for op in contract.operations.values()
            if op.direction is Direction.SERVER_TO_CLIENT and op.payload is not None
        }
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._refusal: ConnectRefused | None = None
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on("*", self._received)
        self._sio.on("connect_error", self._refused)
        self._sio.on("disconnect", self._disconnected)

    @property
    def connected(self) -> bool:
        return bool(self._sio.connected)

    async def connect(self) -> None:
        auth = self.handshake.model_dump(mode="python", by_alias=True, exclude_none=True)
        try:
            await self._sio.connect(
                self.url,
                auth=auth,
                socketio_path=self.path,
                transports=["websocket"],
                wait_timeout=self._connect_timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            # engineio leaves its own aiohttp session open after a failed first connect.
            http = self._sio.eio.http
            if http is not None and not http.closed:
                await http.close()
            if self._refusal is not None:
                raise self._refusal from None
            raise ConnectionError(f"cannot connect to {self.url}: {exc}") from None

    async def close(self) -> None:
        await self._sio.disconnect()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def emit(self, event: str, payload: BaseModel | bytes | str | None) -> None:
        """Send a client event. Models go out as their JSON (bytes stay binary attachments)."""
        if payload is None:
            await self._sio.emit(event)
            return
        data: object = payload
        if isinstance(payload, BaseModel):
            data = payload.model_dump(mode="python", by_alias=True, exclude_none=True)
        await self._sio.emit(event, data)

    async def events(self) -> AsyncIterator[EventT]:
        """The server's events as generated models, until the connection closes."""
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            if isinstance(item, Exception):
                raise item
            yield cast(EventT, item)  # decoded by the contract's adapter of its event

    async def _received(self, event: str, data: Any = None) -> None:
        decoder = self._decoders.get(event)
        if decoder is None:
            return  # an event this contract version does not know (a newer server)
        try:
            self._queue.put_nowait(decoder.validate_python(data))
        except ValidationError as exc:
            self._queue.put_nowait(ContractViolation(f"{event}: {describe(exc, data)}"))

    async def _refused(self, data: Any = None) -> None:
        if not isinstance(data, dict):
            return  # python-socketio's own failure (no server, say), not the server's refusal
        try:
            refusal = self._contract.validate_payload("connect_error", data)
        except ValidationError as exc:
            message = f"refused with a connect_error off the contract: {describe(exc, data)}"
            self._refusal = ConnectRefused("unknown", message)
            return
        self._refusal = ConnectRefused(str(refusal.data.code), refusal.message)

    async def _disconnected(self, *_: Any) -> None:
        self._queue.put_nowait(_CLOSED)
