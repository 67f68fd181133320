"""Scale-out over several nodes: Socket.IO emits published through Redis.

A session's turns run on the node its Sender is connected to; Receivers may be connected to
any node, and emits to their room reach them through Redis pub/sub.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # socketio is untyped
    """python-socketio's Redis manager, plus the clean shutdown it lacks: stop its listener task
    and close its connections, so a stopping node leaves no sockets or tasks behind."""

    async def close(self) -> None:
        listener: Any = getattr(self, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        pubsub: Any = getattr(self, "pubsub", None)
        if pubsub is not None:
            await pubsub.aclose()
        connection: Any = getattr(self, "redis", None)
        if connection is not None:
            await connection.aclose()
