"""Scale-out over several nodes: Socket.IO emits published through Redis, with timeouts.

A session's turns run on the node its Sender is connected to; Receivers may be connected to
any node, and emits to their room reach them through Redis pub/sub. python-socketio's pub/sub
manager owns the workflow and a backend fills ``_publish`` and ``_listen``; this backend bounds
every Redis call in time and, when Redis is down, logs it once (not once per emit) and tries
again at most every ``RETRY_S`` (python-socketio has delivered each emit to this node's own
clients already: the Sender, by the sticky routing rule, still hears from its turns).
``healthy`` says whether the last publish reached Redis (``/readyz`` reads it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as redis
import socketio

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 2.0
"""Every Redis call (connect, publish, a store read or write) ends within this."""
RETRY_S = 1.0
"""While Redis is down, how often a publish tries it again."""


class RedisUnavailable(Exception):
    """Redis did not answer in time, or refused; the message says where, never a password."""


async def check_redis(url: str, timeout_s: float = REDIS_TIMEOUT_S) -> None:
    """Raise RedisUnavailable unless Redis at ``url`` answers PING within ``timeout_s``."""
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await client.ping()
    except (TimeoutError, redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from exc
    finally:
        await client.aclose()


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # socketio is untyped
    """python-socketio's Redis manager with timeouts, one log line per outage, a clean shutdown."""

    connected: bool
    """Set by python-socketio when it has built its Redis client."""

    def __init__(self, url: str, channel: str, timeout_s: float = REDIS_TIMEOUT_S) -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options={"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s},
        )
        self.timeout_s = timeout_s
        self.healthy = True
        self._retry_at = 0.0

    async def _publish(self, data: Any) -> Any:
        # python-socketio has already delivered the emit to this node's clients; this reaches
        # the other nodes. While Redis is down, try again at most every RETRY_S, so an emit is
        # not held up by a dead Redis each time.
        loop = asyncio.get_running_loop()
        if not self.healthy and loop.time() < self._retry_at:
            return None
        try:
            if not self.connected:
                self._redis_connect()
            async with asyncio.timeout(self.timeout_s):
                result = await self.redis.publish(self.channel, self.json.dumps(data))
        except (TimeoutError, redis.RedisError, OSError) as exc:
            self.connected = False
            self._retry_at = loop.time() + RETRY_S
            if self.healthy:
                log.error("redis unavailable (%s): emits reach this node's clients only", exc)
            self.healthy = False
            return None
        if not self.healthy:
            log.warning("redis reachable again: emits reach every node")
        self.healthy = True
        return result

    async def close(self) -> None:
        """Stop the listener task and close the connections, so a stopping node leaves no
        sockets or tasks behind."""
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
