"""What every provider family shares, written once: redaction, the HTTP status rule, a client
bound to its event loop, and the bridge from a worker thread to the loop.

The family modules (``openai_common``, ``aws_common``, ``google_common``) and the providers build
on these; the whole-sample aligner for PCM16 streams is ``handlers.audio.WholeSamples`` and the
retry loops are in ``handlers.providers.retry``.

Naming: an error mapper is ``<family>_error(exc, what, secrets) -> ProviderError`` and the
exceptions it understands are ``<FAMILY>_ERRORS``.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Executor
from typing import Generic, Literal, TypeVar, cast

from generated.catalog import TTS
from handlers.providers.base import ProviderError

T = TypeVar("T")
ClientT = TypeVar("ClientT")


def default_voice(provider: str) -> str:
    """The contract's default voice of text-to-speech ``provider`` (generated catalog)."""
    voice = TTS[provider].default_voice
    if voice is None:
        raise LookupError(f"the contract gives tts provider {provider!r} no default voice")
    return voice


# -- secrets and errors -------------------------------------------------------------------------

REDACTED = "[redacted]"
MAX_MESSAGE_CHARS = 500
# Key-shaped strings an error body might echo (OpenAI masks keys as "sk-proj-****abcd").
_KEY_LIKE = re.compile(r"\b(sk|key)-[A-Za-z0-9_*\-]{6,}")


# Environment variables whose values are credentials, by name: OPENAI_API_KEY,
# AWS_SECRET_ACCESS_KEY,
# AZURE_SPEECH_KEY, METAHUMAN_TOKEN_SECRET, REDIS_PASSWORD, GOOGLE_APPLICATION_CREDENTIALS, ...
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)
MIN_SECRET_CHARS = 6
"""Shorter values ("1", "true", "us") are not worth hiding, and hiding them would garble text."""


def environment_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of the environment's credential-named variables, longest first (so a value
    that contains another is removed whole); comma-separated lists count value by value."""
    env = os.environ if env is None else env
    values = {
        part.strip()
        for name, value in env.items()
        if _SECRET_NAME.search(name)
        for part in (value, *value.split(","))
        if len(part.strip()) >= MIN_SECRET_CHARS
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without the known ``secrets``, the value of any credential-named environment
    variable, or key-shaped strings, cut to a log-friendly size."""
    for secret in (*secrets, *environment_secrets()):
        if secret:
            text = text.replace(secret, REDACTED)
    return _KEY_LIKE.sub(REDACTED, text)[:MAX_MESSAGE_CHARS]


def transient_status(status: int) -> bool:
    """408, 429 and 5xx: the same request may succeed later; any other status will not."""
    return status in (408, 429) or status >= 500


def http_status_error(
    what: str, status: int, detail: str = "", secrets: Sequence[str] = ()
) -> ProviderError:
    """The ProviderError for an HTTP error answer, ``detail`` being what the body said."""
    message = f"{what} failed: HTTP {status}" + (f": {detail}" if detail else "")
    return ProviderError(redact(message, secrets), transient=transient_status(status))


def timeout_error(what: str) -> ProviderError:
    return ProviderError(f"{what} timed out", transient=True)


def connection_error(what: str, exc: BaseException) -> ProviderError:
    """Refused, reset or dropped connections: worth another attempt."""
    return ProviderError(f"{what}: connection failed ({type(exc).__name__})", transient=True)


# -- closing -------------------------------------------------------------------------------------


class NothingToClose:
    """Base of providers that hold no connections or threads of their own."""

    async def aclose(self) -> None:
        """Nothing to close."""


# -- one client per event loop ------------------------------------------------------------------


class LoopBound(Generic[ClientT]):
    """One client per event loop, built on first use and closed by ``aclose``.

    Clients such as an aiohttp session or a ``grpc.aio`` channel belong to the loop that was
    running when they were made, and ``from_env`` may run before any loop (or in a worker thread),
    so the client is made lazily and remade if the loop changes (in production there is one loop,
    hence one client, one connection pool, for every session).
    """

    def __init__(
        self, build: Callable[[], ClientT], close: Callable[[ClientT], Awaitable[None]]
    ) -> None:
        self._build = build
        self._close = close
        self._client: ClientT | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> ClientT:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._build()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        # A client of another (finished) loop cannot be closed from this one.
        if client is not None and self._loop is asyncio.get_running_loop():
            await self._close(client)


# -- blocking producers in worker threads -------------------------------------------------------

Emit = Callable[[T], bool]
"""Hands one item to the event loop; False when nobody wants more (the producer should stop)."""

_Kind = Literal["item", "error", "end"]


async def stream_from_thread(
    produce: Callable[[Emit[T]], None], executor: Executor
) -> AsyncGenerator[T, None]:
    """Run the blocking ``produce(emit)`` in ``executor``; yield what it emits as it comes.

    An exception ``produce`` raises is raised here. If the consumer stops early (closed
    generator, cancellation), ``emit`` starts answering False, and a ``produce`` still queued
    behind other work in ``executor`` does not start at all.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[_Kind, object]] = asyncio.Queue()
    abandoned = threading.Event()

    def hand_over(kind: _Kind, value: object) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop closed: nobody is waiting any more
            abandoned.set()
            return False
        return True

    def emit(item: T) -> bool:
        return not abandoned.is_set() and hand_over("item", item)

    def work() -> None:
        if abandoned.is_set():
            return
        try:
            produce(emit)
        except BaseException as exc:  # handed to the loop, re-raised there
            if not abandoned.is_set():
                hand_over("error", exc)
        else:
            hand_over("end", None)

    loop.run_in_executor(executor, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                yield cast(T, value)
            elif kind == "error":
                assert isinstance(value, BaseException)
                raise value
            else:
                return
    finally:
        abandoned.set()


def iterate_in_thread(
    produce: Callable[[], Iterator[T]], executor: Executor
) -> AsyncGenerator[T, None]:
    """``stream_from_thread`` for a blocking iterator (an SDK's response stream).

    A consumer that stops early makes the worker stop at its next item and close the iterator
    there, which lets the producer close its HTTP response in its own ``finally``. (Closing that
    response from the loop instead could block the loop: the reader thread holds its lock.)
    """

    def pump(emit: Emit[T]) -> None:
        items = produce()  # a generator: nothing runs before the first next()
        try:
            for item in items:
                if not emit(item):
                    return
        finally:
            if isinstance(items, Generator):
                items.close()

    return stream_from_thread(pump, executor)
