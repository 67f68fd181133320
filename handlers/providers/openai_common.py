"""OpenAI SDK plumbing shared by every provider that speaks the OpenAI API: client construction
from the environment, the base of providers over one client, and the OpenAI error mapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal, Self

import httpx2
import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from handlers.providers.base import CallPolicy, ProviderError, require_env
from handlers.providers.toolkit import (
    connection_error,
    http_status_error,
    redact,
    timeout_error,
)

OPENAI_ERRORS: tuple[type[Exception], ...] = (openai.OpenAIError, httpx2.HTTPError, ValueError)
"""What an OpenAI SDK call or stream raises: SDK errors, raw transport errors while reading a
streamed body, ValueError for a malformed event. ``openai_error`` makes them ProviderError."""


StageName = Literal["STT", "LLM", "TTS"]


def stage_setting(env: Mapping[str, str], stage: StageName | None, name: str) -> str | None:
    """``OPENAI_<STAGE>_<NAME>`` when set, else ``OPENAI_<NAME>``: each stage can run on its own
    OpenAI-compatible server (faster-whisper for STT, Kokoro for TTS, vLLM for the LLM)."""
    own = env.get(f"OPENAI_{stage}_{name}") if stage else None
    return own or env.get(f"OPENAI_{name}") or None


def openai_api_key(env: Mapping[str, str], stage: StageName | None = None) -> str:
    key = stage_setting(env, stage, "API_KEY")
    if key is None:
        require_env(env, "OPENAI_API_KEY")  # raises, naming the variable
    assert key is not None
    return key


def openai_http_client() -> httpx2.AsyncClient:
    """The SDK's HTTP client over aiohttp's transport (the SDK's ``aiohttp`` option), not its
    default anyio one: about a third less CPU per turn's three calls here (``bench/sdk.py``).
    Its aiohttp session is made on the first request, so on the loop that serves."""
    client: httpx2.AsyncClient = DefaultAioHttpClient()
    return client


def build_openai_client(env: Mapping[str, str], stage: StageName | None = None) -> AsyncOpenAI:
    """An AsyncOpenAI client from ``env`` for ``stage`` (its own base URL and key when set);
    the SDK's timeout and retries come from CallPolicy."""
    policy = CallPolicy.from_env(env)
    return AsyncOpenAI(
        api_key=openai_api_key(env, stage),
        organization=env.get("OPENAI_ORG_ID") or None,
        project=env.get("OPENAI_PROJECT_ID") or None,
        base_url=stage_setting(env, stage, "BASE_URL"),
        timeout=policy.timeout_s,
        max_retries=policy.max_retries,
        http_client=openai_http_client(),
    )


def openai_error(exc: BaseException, what: str, secrets: Sequence[str] = ()) -> ProviderError:
    """Map an OpenAI SDK or transport exception to ProviderError, without any secret in it."""
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return timeout_error(what)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return connection_error(what, exc)
    if isinstance(exc, openai.APIStatusError):
        detail = ""
        if isinstance(exc.body, Mapping):
            kind = exc.body.get("code") or exc.body.get("type")
            message = exc.body.get("message")
            detail = ": ".join(part for part in (kind, message) if isinstance(part, str) and part)
        return http_status_error(what, exc.status_code, detail, secrets)
    if isinstance(exc, openai.APIError):
        # An error event inside an otherwise successful stream.
        return ProviderError(redact(f"{what} failed: {exc.message}", secrets))
    if isinstance(exc, ValueError):
        return ProviderError(f"{what} failed: malformed response ({type(exc).__name__})")
    return ProviderError(f"{what} failed: {type(exc).__name__}")


class OpenAIClientProvider:
    """Base of the providers that serve every session through one AsyncOpenAI-like client."""

    stage: ClassVar[StageName | None] = None
    """Which ``OPENAI_<STAGE>_BASE_URL`` / ``_API_KEY`` this provider reads first."""

    def __init__(self, client: AsyncOpenAI, *, secrets: Sequence[str] = ()) -> None:
        self._client = client
        self._secrets = tuple(secrets)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(build_openai_client(env, cls.stage), secrets=(openai_api_key(env, cls.stage),))

    async def aclose(self) -> None:
        """Close the HTTP connection pool (process shutdown, tests)."""
        await self._client.close()
