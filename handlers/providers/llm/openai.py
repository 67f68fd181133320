"""OpenAI chat completions, streamed; also the chat-completion stream that Azure OpenAI and the
OpenAI-compatible gateways share.

``OPENAI_BASE_URL`` points this provider at any OpenAI-compatible server, e.g. Ollama
(``http://localhost:11434/v1``), llama.cpp's ``llama-server`` (``http://localhost:8080/v1``) or
vLLM (``http://localhost:8000/v1``); such servers usually accept any ``OPENAI_API_KEY`` value
(and those that predate ``max_completion_tokens`` ignore the output-token limit).

Environment: ``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and
``OPENAI_PROJECT_ID`` (optional), plus the shared ``METAHUMAN_PROVIDER_TIMEOUT_S`` /
``METAHUMAN_PROVIDER_MAX_RETRIES``, which configure the SDK's own timeout and retries.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from openai import AsyncOpenAI, omit
from openai.types.chat import ChatCompletionMessageParam

from handlers.providers.base import LlmRequest
from handlers.providers.openai_common import (
    OPENAI_ERRORS,
    OpenAIClientProvider,
    openai_error,
)

# Reasoning models reject ``temperature`` and ``max_tokens`` (they take
# ``max_completion_tokens``). Names are compared after lower-casing and turning spaces into
# dashes, so gateway display names such as "o3 mini Batch" or "GPT-5 Nano" match too.
_REASONING_MODEL = re.compile(r"^(o\d(-|$)|gpt-5|codex-mini)")
# The first o1 releases accept neither a system nor a developer message.
_NO_SYSTEM_MESSAGE_MODEL = re.compile(r"^o1-(mini|preview)")
# The search-preview models reject sampling parameters.
_NO_TEMPERATURE_MODEL = re.compile(r"search-preview")


def _normalized(model: str) -> str:
    return "-".join(model.lower().split())


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING_MODEL.match(_normalized(model)))


def chat_messages(model: str, request: LlmRequest) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
    if request.instructions:
        if _NO_SYSTEM_MESSAGE_MODEL.match(_normalized(model)):
            messages.append({"role": "user", "content": request.instructions})
        else:
            messages.append({"role": "system", "content": request.instructions})
    for message in request.messages:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
        else:
            messages.append({"role": "assistant", "content": message.content})
    return messages


async def stream_chat_completion(
    client: AsyncOpenAI,
    request: LlmRequest,
    *,
    model: str,
    what: str,
    secrets: Sequence[str] = (),
    legacy_max_tokens: bool = False,
) -> AsyncIterator[str]:
    """Yield the text deltas of one streamed chat completion from an AsyncOpenAI-like client.

    Reasoning models get no temperature and ``max_completion_tokens``. Other models get
    ``temperature`` and, when ``legacy_max_tokens`` (servers that predate
    ``max_completion_tokens``: Ollama, LM Studio, older gateways), ``max_tokens``.
    The SDK retries the request (429, 5xx, timeouts); nothing retries once a delta has been
    yielded, because the client has already received it.
    """
    reasoning = is_reasoning_model(model)
    takes_temperature = not reasoning and not _NO_TEMPERATURE_MODEL.search(model.lower())
    limit = request.max_output_tokens
    use_max_tokens = legacy_max_tokens and not reasoning
    try:
        stream = await client.chat.completions.create(
            model=model,
            messages=chat_messages(model, request),
            stream=True,
            temperature=(
                request.temperature
                if takes_temperature and request.temperature is not None
                else omit
            ),
            max_completion_tokens=limit if limit is not None and not use_max_tokens else omit,
            max_tokens=limit if limit is not None and use_max_tokens else omit,
        )
        async with stream:
            async for chunk in stream:
                # Azure sends a first chunk with no choices (prompt filter results).
                for choice in chunk.choices:
                    if choice.index == 0 and choice.delta.content:
                        yield choice.delta.content
    except OPENAI_ERRORS as exc:
        raise openai_error(exc, what, secrets) from None


class OpenAICompatibleLanguageModel(OpenAIClientProvider):
    """A LanguageModel over any AsyncOpenAI-like client; subclasses only say how to build it."""

    vendor = "OpenAI"

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        secrets: Sequence[str] = (),
        legacy_max_tokens: bool = False,
        default_model: str | None = None,
    ) -> None:
        super().__init__(client, secrets=secrets)
        self._legacy_max_tokens = legacy_max_tokens
        self._default_model = default_model

    def model_name(self, model: str) -> str:
        """The name to send for ``model``; "default" or empty means the configured default."""
        if self._default_model and model in ("", "default"):
            return self._default_model
        return model

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        model = self.model_name(request.model)
        async for delta in stream_chat_completion(
            self._client,
            request,
            model=model,
            what=f"{self.vendor} chat completion ({model})",
            secrets=self._secrets,
            legacy_max_tokens=self._legacy_max_tokens,
        ):
            yield delta


class OpenAILanguageModel(OpenAICompatibleLanguageModel):
    """OpenAI chat completions, or any OpenAI-compatible server via ``OPENAI_BASE_URL``."""

    # from_env is OpenAIClientProvider's: max_completion_tokens for every model, since OpenAI
    # deprecated max_tokens, and local servers that predate the new name ignore it.
