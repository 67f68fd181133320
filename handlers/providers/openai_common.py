"""OpenAI SDK plumbing shared by every provider that speaks the OpenAI API: client construction
from the environment, the base of providers over one client, and the OpenAI error mapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import httpx2
import openai
from openai import AsyncOpenAI

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


def build_openai_client(env: Mapping[str, str]) -> AsyncOpenAI:
    """An AsyncOpenAI client from ``env``; the SDK's timeout and retries come from CallPolicy."""
    (api_key,) = require_env(env, "OPENAI_API_KEY")
    policy = CallPolicy.from_env(env)
    return AsyncOpenAI(
        api_key=api_key,
        organization=env.get("OPENAI_ORG_ID") or None,
        project=env.get("OPENAI_PROJECT_ID") or None,
        base_url=env.get("OPENAI_BASE_URL") or None,
        timeout=policy.timeout_s,
        max_retries=policy.max_retries,
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

    def __init__(self, client: AsyncOpenAI, *, secrets: Sequence[str] = ()) -> None:
        self._client = client
        self._secrets = tuple(secrets)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(build_openai_client(env), secrets=(env["OPENAI_API_KEY"],))

    async def aclose(self) -> None:
        """Close the HTTP connection pool (process shutdown, tests)."""
        await self._client.close()
