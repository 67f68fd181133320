"""OpenAI SDK plumbing shared by every provider that speaks the OpenAI API: client
construction from the environment, and mapping SDK errors to ProviderError without secrets."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import httpx2
import openai
from openai import AsyncOpenAI

from handlers.providers.base import CallPolicy, ProviderError, require_env

# Key-shaped strings an error body might echo (OpenAI masks keys as "sk-proj-****abcd").
_KEY_LIKE = re.compile(r"\b(sk|key)-[A-Za-z0-9_*\-]{6,}")

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (openai.OpenAIError, httpx2.HTTPError, ValueError)
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


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)[:500]


def openai_error(exc: Exception, what: str, secrets: Sequence[str] = ()) -> ProviderError:
    """Map an OpenAI SDK or transport exception to ProviderError, without any secret in it.

    Timeouts, connection failures, 408, 429 and 5xx are transient; other statuses are not.
    """
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return ProviderError(f"{what} timed out", transient=True)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return ProviderError(f"{what}: connection failed ({type(exc).__name__})", transient=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = ""
        if isinstance(exc.body, Mapping):
            kind = exc.body.get("code") or exc.body.get("type")
            message = exc.body.get("message")
            detail = "".join(
                [f" {kind}" if kind else "", f": {message}" if isinstance(message, str) else ""]
            )
        return ProviderError(
            redact(f"{what} failed: HTTP {status}{detail}", secrets),
            transient=status in (408, 429) or status >= 500,
        )
    if isinstance(exc, openai.APIError):
        # An error event inside an otherwise successful stream.
        return ProviderError(redact(f"{what} failed: {exc.message}", secrets))
    if isinstance(exc, ValueError):
        return ProviderError(f"{what} failed: malformed response ({type(exc).__name__})")
    return ProviderError(f"{what} failed: {type(exc).__name__}")
