"""Session state in Redis, so a session outlives the node its Sender was connected to.

With ``--redis-url`` a session's effective settings and its conversation history are written to
Redis (with a TTL, renewed on every write) as well as kept in memory; a Sender that reconnects to
another node with the same ``sessionId`` gets them back. The store keeps plain JSON (the settings
as the contract's ``session.updated`` shows them, the history as role/content pairs), so any node
version that speaks the contract can read it. Every call is bounded in time and raises
RedisUnavailable when Redis does not answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from handlers.scaleout import REDIS_TIMEOUT_S, RedisUnavailable

DEFAULT_TTL_S = 24 * 3600
"""How long an untouched session's state stays in Redis."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredSession:
    settings: dict[str, Any] | None = None
    """The session's settings as the contract's session.updated shows them; None if never set."""
    history: list[dict[str, str]] = field(default_factory=list)
    """The conversation, oldest first: {"role": "user" | "assistant", "content": ...}."""


class RedisSessionStore:
    def __init__(
        self,
        url: str,
        prefix: str = "metahuman-ai-chat",
        ttl_s: int = DEFAULT_TTL_S,
        timeout_s: float = REDIS_TIMEOUT_S,
    ) -> None:
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # A pooled connection that died with a restarted Redis fails its next command:
            # retry that once, on a new connection (the whole call stays bounded by _call).
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.ConnectionError],
        )

    def _keys(self, session_id: str) -> tuple[str, str]:
        base = f"{self.prefix}:session:{session_id}"
        return f"{base}:settings", f"{base}:history"

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call
        except (TimeoutError, redis.RedisError, OSError) as exc:
            raise RedisUnavailable(f"session store: {type(exc).__name__}: {exc}") from exc

    async def load(self, session_id: str) -> StoredSession:
        settings_key, history_key = self._keys(session_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.get(settings_key)
        pipe.lrange(history_key, 0, -1)
        raw_settings, raw_history = await self._call(pipe.execute())
        settings = json.loads(raw_settings) if raw_settings else None
        return StoredSession(settings, [json.loads(item) for item in raw_history])

    async def save_settings(self, session_id: str, settings: Mapping[str, Any]) -> None:
        settings_key, history_key = self._keys(session_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(settings_key, json.dumps(settings, separators=(",", ":")), ex=self.ttl_s)
        pipe.expire(history_key, self.ttl_s)
        await self._call(pipe.execute())

    async def append_history(
        self, session_id: str, messages: Sequence[Mapping[str, str]], keep: int
    ) -> None:
        """Add ``messages`` to the history, keeping its last ``keep`` messages."""
        if not messages:
            return
        settings_key, history_key = self._keys(session_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(history_key, *(json.dumps(dict(m), separators=(",", ":")) for m in messages))
        pipe.ltrim(history_key, -keep, -1)
        pipe.expire(history_key, self.ttl_s)
        pipe.expire(settings_key, self.ttl_s)
        await self._call(pipe.execute())

    async def replace_history(
        self, session_id: str, messages: Sequence[Mapping[str, str]], keep: int
    ) -> None:
        """Make the history ``messages`` (its last ``keep``): after a barge-in cut the reply to
        what was heard, or after the conversation was cleared (no messages)."""
        settings_key, history_key = self._keys(session_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(history_key)
        if messages:
            pipe.rpush(history_key, *(json.dumps(dict(m), separators=(",", ":")) for m in messages))
            pipe.ltrim(history_key, -keep, -1)
            pipe.expire(history_key, self.ttl_s)
        pipe.expire(settings_key, self.ttl_s)
        await self._call(pipe.execute())

    async def clear_history(self, session_id: str) -> None:
        await self._call(self.client.delete(self._keys(session_id)[1]))

    async def aclose(self) -> None:
        await self.client.aclose()
