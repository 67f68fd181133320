"""Bounded retries with exponential backoff, for providers whose SDK has none of its own.

Only transient failures are retried, and a stream only until its first item: once
audio or text has gone out to a client, replaying it would duplicate it.

``policy.timeout_s`` bounds each attempt (each item of a stream); the whole call, retries and
backoff included, is bounded by the stage's deadline in the pipeline (handlers/deadlines.py),
which cancels whatever attempt is running when it passes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from handlers.providers.base import CallPolicy, ProviderError

T = TypeVar("T")


def backoff_delay(attempt: int, base_s: float = 0.25, cap_s: float = 4.0) -> float:
    """Full-jitter exponential backoff for retry ``attempt`` (1, 2, ...)."""
    return random.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))


def _as_provider_error(exc: TimeoutError | ProviderError, policy: CallPolicy) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    error = ProviderError(f"timed out after {policy.timeout_s:g} s", transient=True)
    error.__cause__ = exc
    return error


async def call_with_retries(call: Callable[[], Awaitable[T]], policy: CallPolicy) -> T:
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(policy.timeout_s):
                return await call()
        except (TimeoutError, ProviderError) as exc:
            error = _as_provider_error(exc, policy)
        attempt += 1
        if not error.transient or attempt > policy.max_retries:
            raise error
        await asyncio.sleep(backoff_delay(attempt))


async def stream_with_retries(
    open_stream: Callable[[], AsyncIterator[T]], policy: CallPolicy
) -> AsyncGenerator[T, None]:
    """Yield from ``open_stream()``; retry transient failures that come before the first item."""
    attempt = 0
    while True:
        started = False
        try:
            stream = open_stream()
            while True:
                # The timeout bounds the wait for each item, not the whole stream.
                async with asyncio.timeout(policy.timeout_s):
                    try:
                        item = await anext(stream)
                    except StopAsyncIteration:
                        return
                started = True
                yield item
        except (TimeoutError, ProviderError) as exc:
            error = _as_provider_error(exc, policy)
        attempt += 1
        if started or not error.transient or attempt > policy.max_retries:
            raise error
        await asyncio.sleep(backoff_delay(attempt))
