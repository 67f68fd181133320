"""Socket.IO packets from clients, bounded and checked where they enter.

python-socketio trusts a packet's header: a ``BINARY_EVENT`` that declares 999,999,999
attachments makes the server keep every following binary frame of that connection, without
bound, and a placeholder whose ``num`` points past the attachments raises inside the library,
after which the connection's every later frame is taken as one more attachment. An event
whose name is not a string (``42[1]``, ``42[[1]]``), is missing (``42[]``) or is ``"*"``
(python-socketio's catch-all key) raises inside the library or reaches the catch-all without
its arguments. A
malformed packet surfaces as an exception in Engine.IO's message handler, which logs a traceback.

Here: ``BoundedPacket`` (the server's ``serializer``) refuses a header that declares more
attachments than the contract's events carry and an event without a usable name, and turns a bad
placeholder into data that payload validation refuses (``invalid_payload``) instead of an
exception; ``WireGuard`` wraps the Engine.IO message handler so that a packet that cannot be
decoded is answered, not logged as a crash, and so that each connection's events are bounded in
rate and size before the library decodes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import socketio
from socketio import packet

from handlers.limits import ReportThrottle, TokenBucket

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 1
"""Attachments one packet may declare: every event of the contract carries at most one binary."""
CATCH_ALL = "*"
"""python-socketio's key for the catch-all handler: a client event of that name is refused."""

INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_EVENT = "unknown_event"
RATE_LIMITED = "rate_limited"
PAYLOAD_TOO_LARGE = "payload_too_large"


class MalformedPacket(ValueError):
    """A client sent a Socket.IO packet that cannot be decoded or is out of bounds."""

    def __init__(self, message: str, code: str = INVALID_PAYLOAD, event: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.event = event
        """The event's name, when the packet named one."""


class SafeJson:
    """The JSON module python-socketio and python-engineio decode packets with: JSON nested
    deeper than Python's recursion limit raises RecursionError, which the libraries do not
    expect (Engine.IO then drops the connection); here it is the ValueError of bad JSON."""

    @staticmethod
    def dumps(obj: Any, **options: Any) -> str:
        return json.dumps(obj, **options)

    @staticmethod
    def loads(text: str | bytes, **options: Any) -> Any:
        try:
            return json.loads(text, **options)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class BoundedPacket(packet.Packet):  # type: ignore[misc]  # python-socketio is untyped
    """A Socket.IO packet that refuses more than ``max_attachments`` binary attachments and
    events without a string name."""

    max_attachments: ClassVar[int] = MAX_ATTACHMENTS
    json: ClassVar[Any] = SafeJson

    def decode(self, encoded_packet: Any) -> int:
        try:
            count = int(super().decode(encoded_packet))
        except MalformedPacket:
            raise
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise MalformedPacket(f"undecodable packet ({exc})") from exc
        if count > self.max_attachments:
            named = self.data[0] if isinstance(self.data, list) and self.data else None
            raise MalformedPacket(
                f"a packet may carry at most {self.max_attachments} binary attachment(s),"
                f" this one declares {count}",
                event=named[:100] if isinstance(named, str) else None,
            )
        if self.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK) and count < 1:
            raise MalformedPacket("a binary packet must declare its attachments")
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            self._check_event_name()
        return count

    def _check_event_name(self) -> None:
        data = self.data
        if not isinstance(data, list) or not data:
            raise MalformedPacket("an event packet must be a list: [name, ...arguments]")
        name = data[0]
        if not isinstance(name, str):
            raise MalformedPacket(
                f"an event name must be a string, not {type(name).__name__}", UNKNOWN_EVENT
            )
        if name == CATCH_ALL:
            raise MalformedPacket("event not in the contract", UNKNOWN_EVENT)

    @classmethod
    def _reconstruct_binary_internal(cls, data: Any, attachments: list[Any]) -> Any:
        # A placeholder must name one of the attachments; any other stays as the client sent it,
        # so payload validation refuses it instead of the library raising mid-packet.
        if isinstance(data, dict) and data.get("_placeholder") and "num" in data:
            num = data["num"]
            valid = isinstance(num, int) and not isinstance(num, bool)
            if valid and 0 <= num < len(attachments):
                return attachments[num]
            return data
        if isinstance(data, list):
            return [cls._reconstruct_binary_internal(item, attachments) for item in data]
        if isinstance(data, dict):
            return {k: cls._reconstruct_binary_internal(v, attachments) for k, v in data.items()}
        return data


Refuse = Callable[[str | None, str, str, str | None], Awaitable[None]]
"""(the client's Socket.IO sid, or None before it joined the namespace; the error code; why;
the event concerned, when known)."""


@dataclass(frozen=True, slots=True)
class WireLimits:
    events_per_second: float = 500.0
    """Sustained events a connection may send: ten times a live microphone's 50 chunks a second,
    so pre-recorded audio may go faster than real time (the audio itself is metered apart)."""
    event_burst: float = 5000.0
    """Events a connection may send at once before the rate applies (100 s of 20 ms chunks)."""
    max_event_bytes: int = 1024 * 1024
    """The largest packet or attachment accepted (1 MiB: 32 s of 16 kHz PCM)."""


@dataclass(slots=True)
class _Connection:
    bucket: TokenBucket
    reports: ReportThrottle
    """When a dropped event is answered: one answer a second while the flood lasts."""
    skipping: bool = False
    """Binary frames are the attachments of a refused packet: dropped until the next text."""


class WireGuard:
    """Bounds and checks every Engine.IO message of every connection before python-socketio
    decodes it; a refused message is answered through ``refuse`` and dropped, the connection
    stays open."""

    def __init__(self, sio: socketio.AsyncServer, limits: WireLimits, refuse: Refuse) -> None:
        self.sio = sio
        self.limits = limits
        self.refuse = refuse
        self.refused = 0
        """Messages refused so far (for tests and figures)."""
        self._connections: dict[str, _Connection] = {}
        self._handle = sio.eio.handlers["message"]
        self._disconnected = sio.eio.handlers["disconnect"]
        sio.eio.on("message", self._message)
        sio.eio.on("disconnect", self._disconnect)

    def _sid(self, eio_sid: str) -> str | None:
        sid: str | None = self.sio.manager.sid_from_eio_sid(eio_sid, "/")
        return sid

    async def _message(self, eio_sid: str, data: Any) -> None:
        connection = self._connections.get(eio_sid)
        if connection is None:
            limits = self.limits
            connection = self._connections[eio_sid] = _Connection(
                TokenBucket(limits.events_per_second, limits.event_burst), ReportThrottle()
            )
        if not isinstance(data, (str, bytes)):
            # Engine.IO decodes a message that looks like JSON ("4true", "4{}") before
            # python-socketio, which expects text and crashes on anything else.
            await self._refuse(eio_sid, INVALID_PAYLOAD, "a packet must be text or binary")
            return
        binary = isinstance(data, bytes)
        if binary and connection.skipping:
            return
        connection.skipping = False
        if len(data) > self.limits.max_event_bytes:
            self._forget_pending(eio_sid)
            connection.skipping = True
            await self._refuse(
                eio_sid,
                PAYLOAD_TOO_LARGE,
                f"a packet or attachment may have at most {self.limits.max_event_bytes} bytes,"
                f" this one has {len(data)}",
            )
            return
        if data == b"" and eio_sid not in getattr(self.sio, "_binary_packet", {}):
            # Not an attachment: python-socketio would take it for an event without a name.
            await self._refuse(eio_sid, INVALID_PAYLOAD, "unexpected empty binary frame")
            return
        if data == "":
            # python-socketio takes an empty packet for an event without a name, and crashes.
            # (An empty binary frame is an empty attachment: fine.)
            await self._refuse(eio_sid, INVALID_PAYLOAD, "empty packet")
            return
        if not binary and self._forget_pending(eio_sid):
            # python-socketio would take this text as the awaited attachment, and the event it
            # carries would be lost: attachments are binary frames, always.
            await self._refuse(eio_sid, INVALID_PAYLOAD, "a binary attachment was expected")
        if not binary and not connection.bucket.take(1):
            connection.skipping = True
            if not connection.reports.due():
                self.refused += 1
                return
            await self._refuse(
                eio_sid,
                RATE_LIMITED,
                f"more than {self.limits.events_per_second:g} events a second: event dropped",
            )
            return
        try:
            await self._handle(eio_sid, data)
        except MalformedPacket as exc:
            connection.skipping = not binary
            await self._refuse(eio_sid, exc.code, str(exc), exc.event)
        except ValueError as exc:
            # python-socketio's own refusals ("Unexpected binary packet", "Unknown packet type",
            # JSON that does not parse): the client's fault, not ours.
            await self._refuse(eio_sid, INVALID_PAYLOAD, f"bad packet: {exc}")

    def _forget_pending(self, eio_sid: str) -> bool:
        # The refused frame may be the attachment of a packet python-socketio holds: drop that
        # packet too, or the connection's next binary frame would complete it. (A private
        # attribute of python-socketio 5: its per-connection partial binary packets.)
        pending: dict[str, Any] = getattr(self.sio, "_binary_packet", {})
        return pending.pop(eio_sid, None) is not None

    async def _refuse(self, eio_sid: str, code: str, why: str, event: str | None = None) -> None:
        self.refused += 1
        await self.refuse(self._sid(eio_sid), code, why, event)

    async def _disconnect(self, eio_sid: str, *args: Any) -> None:
        self._connections.pop(eio_sid, None)
        await self._disconnected(eio_sid, *args)
