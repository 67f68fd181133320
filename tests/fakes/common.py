"""What every provider test needs, said once: draining a stream, feeding audio, building providers.

``ProviderBuilder`` closes what it built at the end of a test because a provider's HTTP pool or
gRPC channel belongs to the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Generic, TypeVar

from handlers.providers.base import Provider

T = TypeVar("T")
ProviderT = TypeVar("ProviderT", bound=Provider)

FAST_POLICY = {"METAHUMAN_PROVIDER_TIMEOUT_S": "5", "METAHUMAN_PROVIDER_MAX_RETRIES": "2"}
"""Provider call policy for tests: short enough to fail fast, with retries to exercise."""


async def collect(stream: AsyncIterator[T]) -> list[T]:
    """Everything ``stream`` yields, in order."""
    return [item async for item in stream]


async def pcm_chunks(pcm: bytes, size: int = 3200) -> AsyncIterator[bytes]:
    """``pcm`` as a microphone would deliver it, ``size`` bytes at a time (odd sizes allowed),
    the event loop free in between."""
    for offset in range(0, len(pcm), size):
        yield pcm[offset : offset + size]
        await asyncio.sleep(0)


class ProviderBuilder(Generic[ProviderT]):
    """Builds providers from ``base_env`` plus per-call overrides, and closes them all at the end
    of a test."""

    def __init__(
        self, from_env: Callable[[Mapping[str, str]], ProviderT], base_env: Mapping[str, str]
    ) -> None:
        self._from_env = from_env
        self._base_env = {**FAST_POLICY, **base_env}
        self._built: list[ProviderT] = []

    def __call__(self, **overrides: str) -> ProviderT:
        provider = self._from_env({**self._base_env, **overrides})
        self._built.append(provider)
        return provider

    async def aclose(self) -> None:
        built, self._built = self._built, []
        for provider in built:
            await provider.aclose()


class Builders:
    """Makes ``ProviderBuilder``s for one test and closes all they built at its end (the
    ``builders`` fixture in ``tests/providers/conftest.py``)."""

    def __init__(self) -> None:
        self._builders: list[ProviderBuilder[Provider]] = []

    def __call__(
        self, from_env: Callable[[Mapping[str, str]], ProviderT], env: Mapping[str, str]
    ) -> ProviderBuilder[ProviderT]:
        builder = ProviderBuilder(from_env, env)
        self._builders.append(builder)  # type: ignore[arg-type]
        return builder

    async def aclose(self) -> None:
        for builder in self._builders:
            await builder.aclose()
