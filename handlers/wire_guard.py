"""Socket.IO packets from clients, bounded and checked where they enter.

python-socketio trusts a packet's header: a ``BINARY_EVENT`` that declares 999,999,999
attachments makes the server keep every following binary frame of that connection, without
bound, and a placeholder whose ``num`` points past the attachments raises inside the library,
after which the connection's every later frame is taken as one more attachment. A malformed
packet surfaces as an exception in Engine.IO's message handler, which logs a traceback.

Here: ``BoundedPacket`` (the server's ``serializer``) refuses a header that declares more
attachments than the contract's events carry and turns a bad placeholder into data that payload
validation refuses (``invalid_payload``) instead of an exception; ``guard_messages`` wraps the
Engine.IO message handler so a packet that cannot be decoded is answered, not logged as a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import socketio
from socketio import packet

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 1
"""Attachments one packet may declare: every event of the contract carries at most one binary."""


class MalformedPacket(ValueError):
    """A client sent a Socket.IO packet that cannot be decoded or is out of bounds."""


class BoundedPacket(packet.Packet):  # type: ignore[misc]  # python-socketio is untyped
    """A Socket.IO packet that refuses more than ``max_attachments`` binary attachments."""

    max_attachments: ClassVar[int] = MAX_ATTACHMENTS

    def decode(self, encoded_packet: Any) -> int:
        try:
            count = int(super().decode(encoded_packet))
        except MalformedPacket:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedPacket(f"undecodable packet ({exc})") from exc
        if count > self.max_attachments:
            raise MalformedPacket(
                f"a packet may carry at most {self.max_attachments} binary attachment(s),"
                f" this one declares {count}"
            )
        return count

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


MalformedHandler = Callable[[str | None, str], Awaitable[None]]
"""(the client's Socket.IO sid, or None before it joined the namespace; what was wrong)."""


def guard_messages(sio: socketio.AsyncServer, on_malformed: MalformedHandler) -> None:
    """Answer undecodable packets through ``on_malformed`` instead of a logged traceback.

    Call after the server is built (python-socketio registers its message handler then).
    """
    handle = sio.eio.handlers["message"]

    async def guarded(eio_sid: str, data: Any) -> None:
        try:
            await handle(eio_sid, data)
        except MalformedPacket as exc:
            await on_malformed(sio.manager.sid_from_eio_sid(eio_sid, "/"), str(exc))
        except ValueError as exc:
            # python-socketio's own refusals ("Unexpected binary packet", "Unknown packet type",
            # JSON that does not parse): the client's fault, not ours.
            await on_malformed(sio.manager.sid_from_eio_sid(eio_sid, "/"), f"bad packet: {exc}")

    sio.eio.on("message", guarded)
