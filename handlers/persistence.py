"""A session's settings and history written through to Redis, so the session survives its node.

With ``--redis-url``: a session created on a node loads what Redis holds for its id (the
settings a ``session.update`` had set, and the conversation), every ``session.update`` writes the
settings and every finished turn appends its exchange (``RedisSessionStore``, with a TTL). Writes
of one session go out in order, each bounded in time; when Redis does not answer, the Sender of
the affected session gets ``custom.error`` ``store_unavailable`` (the turn itself was delivered;
only its durability is lost) and the node keeps serving from memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from pydantic import ValidationError

from generated.dispatch import Emitter
from generated.models import ClientRole, CustomError, ErrorCode, SessionUpdated
from handlers.providers.base import ChatMessage
from handlers.scaleout import RedisUnavailable
from handlers.session_store import RedisSessionStore
from handlers.settings import Settings

log = logging.getLogger(__name__)


class SessionPersistence:
    def __init__(self, store: RedisSessionStore, emitter: Emitter, history_messages: int) -> None:
        self.store = store
        self.emitter = emitter
        self.history_messages = history_messages
        self.healthy = True
        """Whether the last call reached Redis."""
        self._writes: dict[str, asyncio.Task[None]] = {}

    async def restore(self, session_id: str) -> tuple[Settings | None, list[ChatMessage]]:
        """What Redis holds for ``session_id``; raises RedisUnavailable."""
        try:
            stored = await self.store.load(session_id)
        except RedisUnavailable:
            self._mark(False)
            raise
        self._mark(True)
        settings = None
        if stored.settings is not None:
            try:
                shown = SessionUpdated.model_validate(stored.settings)
            except ValidationError:
                log.warning("stored settings of session %s no longer valid: ignored", session_id)
            else:
                settings = Settings(
                    stt=shown.stt,
                    llm=shown.llm,
                    tts=shown.tts,
                    input_audio=shown.input_audio,
                    output_audio=shown.output_audio,
                    animation=shown.animation,
                )
        history = [
            ChatMessage("user" if item.get("role") == "user" else "assistant", item["content"])
            for item in stored.history
            if item.get("role") in ("user", "assistant") and isinstance(item.get("content"), str)
        ]
        return settings, history[-self.history_messages :]

    def save_settings(self, session_id: str, settings: Settings) -> None:
        shown = settings.session_updated(session_id).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        self._write(session_id, None, lambda: self.store.save_settings(session_id, shown))

    def save_exchange(self, session_id: str, item_id: str, user: str, assistant: str) -> None:
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        self._write(
            session_id,
            item_id,
            lambda: self.store.append_history(session_id, messages, self.history_messages),
        )

    def replace_history(self, session_id: str, history: Sequence[ChatMessage]) -> None:
        """The history as it is now (a reply cut to what was heard, or cleared)."""
        messages = [{"role": m.role, "content": m.content} for m in history]
        self._write(
            session_id,
            None,
            lambda: self.store.replace_history(session_id, messages, self.history_messages),
        )

    def _write(
        self, session_id: str, item_id: str | None, call: Callable[[], Awaitable[None]]
    ) -> None:
        """Queue a write behind the session's earlier ones (their order is the history's)."""
        previous = self._writes.get(session_id)

        async def write() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await call()
            except RedisUnavailable as exc:
                self._mark(False, str(exc))
                await self._tell_sender(session_id, item_id)
            else:
                self._mark(True)
            finally:
                if self._writes.get(session_id) is task:
                    del self._writes[session_id]

        task = asyncio.create_task(write())
        self._writes[session_id] = task

    async def _tell_sender(self, session_id: str, item_id: str | None) -> None:
        what = "this turn" if item_id is not None else "these settings"
        await self.emitter.custom_error(
            Emitter.room(session_id, ClientRole.SENDER),
            CustomError(
                code=ErrorCode.STORE_UNAVAILABLE,
                message=f"the session store did not answer: {what} will not survive this node",
                item_id=item_id,
            ),
        )

    def _mark(self, healthy: bool, why: str = "") -> None:
        if healthy and not self.healthy:
            log.warning("session store reachable again")
        elif not healthy and self.healthy:
            log.error("session store unavailable (%s): sessions are kept in memory only", why)
        self.healthy = healthy

    async def aclose(self) -> None:
        """Let the writes under way finish (each is bounded in time), then close."""
        await asyncio.gather(*self._writes.values(), return_exceptions=True)
        await self.store.aclose()
