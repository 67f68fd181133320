"""The Redis session store: settings and history survive, bounded, with a TTL.

Needs Redis on 127.0.0.1:6379 (.ci/run starts it); fails, never skips, without it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import pytest

from handlers.scaleout import RedisUnavailable
from handlers.session_store import RedisSessionStore

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def store() -> AsyncIterator[RedisSessionStore]:
    s = RedisSessionStore(URL, prefix=f"test-{secrets.token_hex(4)}", ttl_s=60)
    yield s
    await s.aclose()


async def test_settings_and_history_round_trip(store: RedisSessionStore) -> None:
    assert (await store.load("s1")).settings is None
    await store.save_settings("s1", {"sessionId": "s1", "llm": {"provider": "local"}})
    await store.append_history(
        "s1", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], 4
    )
    await store.append_history(
        "s1", [{"role": "user", "content": "more"}, {"role": "assistant", "content": "sure"}], 4
    )
    await store.append_history(
        "s1", [{"role": "user", "content": "last"}, {"role": "assistant", "content": "ok"}], 4
    )
    loaded = await store.load("s1")
    assert loaded.settings == {"sessionId": "s1", "llm": {"provider": "local"}}
    # Bounded like the in-memory history: the oldest exchange is gone.
    assert [m["content"] for m in loaded.history] == ["more", "sure", "last", "ok"]
    assert (await store.load("s2")).history == []
    await store.clear_history("s1")
    assert (await store.load("s1")).history == []
    assert (await store.load("s1")).settings is not None


async def test_keys_expire(store: RedisSessionStore) -> None:
    await store.save_settings("s", {"a": 1})
    await store.append_history("s", [{"role": "user", "content": "x"}], 8)
    settings_key, history_key = store._keys("s")
    for key in (settings_key, history_key):
        ttl = await store.client.ttl(key)
        assert 0 < ttl <= 60, (key, ttl)


async def test_unreachable_redis_raises_within_the_timeout() -> None:
    store = RedisSessionStore("redis://127.0.0.1:1/0", timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(RedisUnavailable):
            await store.load("s")
    finally:
        await store.aclose()
    assert time.monotonic() - started < 2


async def test_history_can_be_replaced_or_emptied(store: RedisSessionStore) -> None:
    await store.append_history(
        "s", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}], 8
    )
    await store.replace_history(
        "s", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], 8
    )
    assert [m["content"] for m in (await store.load("s")).history] == ["hi", "hello"]
    await store.replace_history("s", [], 8)
    assert (await store.load("s")).history == []
