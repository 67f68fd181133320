"""OpenAI chat completions, streamed; also the chat-completion stream that Azure OpenAI and the
OpenAI-compatible gateways share.

``OPENAI_LLM_BASE_URL`` (else ``OPENAI_BASE_URL``) points this provider at any
OpenAI-compatible server, e.g. Ollama (``http://localhost:11434/v1``), llama.cpp's
``llama-server`` (``http://localhost:8080/v1``) or vLLM (``http://localhost:8000/v1``); such
servers usually accept any key (and those that predate ``max_completion_tokens`` ignore the
output-token limit).

Environment: ``OPENAI_LLM_API_KEY`` or ``OPENAI_API_KEY`` (required), ``OPENAI_LLM_BASE_URL`` /
``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and ``OPENAI_PROJECT_ID`` (optional), plus the shared
``METAHUMAN_PROVIDER_TIMEOUT_S`` / ``METAHUMAN_PROVIDER_MAX_RETRIES``, which configure the SDK's
own timeout and retries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar, Self

import openai
from openai import AsyncAPIResponse, AsyncOpenAI, omit
from openai.types.chat import ChatCompletionMessageParam

from handlers.providers.base import LlmRequest, ProviderError
from handlers.providers.lifecycle import (
    PLAIN_CHAT,
    Lifecycle,
    LlmOptions,
    ModelRefused,
    load_lifecycle,
)
from handlers.providers.openai_common import (
    OPENAI_ERRORS,
    OpenAIClientProvider,
    build_openai_client,
    openai_api_key,
    openai_error,
)

# Reasoning models reject ``temperature`` and ``max_tokens`` (they take
# ``max_completion_tokens``). Names are compared after lower-casing and turning spaces into
# dashes, so gateway display names such as "o3 mini Batch" or "GPT-5 Nano" match too.
_REASONING_MODEL = re.compile(r"^(o\d(-|$)|gpt-5|codex-mini)")
# Hidden reasoning tokens added to the reply's limit for reasoning models the lifecycle data does
# not describe (its entries carry their own allowance).
REASONING_ALLOWANCE = 2048
logger = logging.getLogger(__name__)
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


def stream_refused(exc: BaseException) -> bool:
    """OpenAI's refusal to stream a model for an unverified organisation (o3): a 400 naming
    ``param: stream``; the same request without streaming is answered."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    body = exc.body if isinstance(exc.body, Mapping) else {}
    return body.get("param") == "stream" or exc.param == "stream"


async def event_payloads(response: AsyncAPIResponse[Any]) -> AsyncIterator[Mapping[str, Any]]:
    """The JSON objects of an OpenAI-style server-sent event stream, up to ``[DONE]``.

    An event's ``data:`` lines are joined (the SSE rules); other fields carry nothing for a chat
    completion. An ``{"error": ...}`` object (a server failing mid-answer) is raised as the
    ``openai.APIError`` the SDK's own stream raises for it.
    """
    data: list[str] = []
    async for line in response.iter_lines():
        if line:
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
            continue
        if not data:
            continue
        text = "\n".join(data)
        data.clear()
        if text.startswith("[DONE]"):
            return
        payload = json.loads(text)
        if not isinstance(payload, Mapping):
            continue
        error = payload.get("error")
        if error:
            message = error.get("message") if isinstance(error, Mapping) else None
            raise openai.APIError(str(message or error), response.http_request, body=error)
        yield payload


async def stream_chat_completion(
    client: AsyncOpenAI,
    request: LlmRequest,
    *,
    model: str,
    what: str,
    secrets: Sequence[str] = (),
    legacy_max_tokens: bool = False,
    options: LlmOptions = PLAIN_CHAT,
    stream: bool = True,
    extra_query: Mapping[str, str] | None = None,
) -> AsyncIterator[str]:
    """Yield the text deltas of one chat completion from an AsyncOpenAI-like client.

    Reasoning models (``options.reasoning``, or a name the lifecycle does not know that looks
    like one) get no temperature and ``max_completion_tokens`` raised by their reasoning
    allowance, so that hidden reasoning does not eat the whole reply. Other models get
    ``temperature`` and, when ``legacy_max_tokens`` (servers that predate
    ``max_completion_tokens``: Ollama, LM Studio, older gateways), ``max_tokens``.
    ``stream=False`` asks for one whole completion and yields its text at once.
    The SDK retries the request (429, 5xx, timeouts); nothing retries once a delta has been
    yielded, because the client has already received it.
    """
    reasoning = options.reasoning or is_reasoning_model(model)
    takes_temperature = (
        options.takes_temperature and not reasoning and not _NO_TEMPERATURE_MODEL.search(model)
    )
    allowance = options.reasoning_allowance or (REASONING_ALLOWANCE if reasoning else 0)
    limit = request.max_output_tokens
    budget = None if limit is None else limit + allowance
    use_max_tokens = legacy_max_tokens and not reasoning
    arguments: dict[str, Any] = {
        "model": model,
        "messages": chat_messages(model, request),
        "temperature": (
            request.temperature if takes_temperature and request.temperature is not None else omit
        ),
        "max_completion_tokens": budget if budget is not None and not use_max_tokens else omit,
        "max_tokens": budget if budget is not None and use_max_tokens else omit,
        "reasoning_effort": options.reasoning_effort or omit,
        "extra_query": extra_query,
    }
    finish: str | None = None
    yielded = False
    try:
        if not stream:
            completion = await client.chat.completions.create(**arguments, stream=False)
            choice = completion.choices[0] if completion.choices else None
            finish = None if choice is None else choice.finish_reason
            text = "" if choice is None else choice.message.content or ""
            if text:
                yielded = True
                yield text
        else:
            # The SDK builds and checks the request, retries, maps HTTP errors and closes the
            # stream; the chunks are read as plain JSON (event_payloads), since building the
            # SDK's typed model of each costs ~0.1 ms of the event loop per token.
            streaming = client.chat.completions.with_streaming_response
            async with streaming.create(**arguments, stream=True) as response:
                async for chunk in event_payloads(response):
                    # Azure sends a first chunk with no choices (prompt filter results) and,
                    # with the asynchronous content filter, chunks whose choice has no delta.
                    for choice in chunk.get("choices") or ():
                        if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                            continue
                        finish = choice.get("finish_reason") or finish
                        delta = choice.get("delta")
                        content = delta.get("content") if isinstance(delta, Mapping) else None
                        if content and isinstance(content, str):
                            yielded = True
                            yield content
    except OPENAI_ERRORS as exc:
        if stream_refused(exc):
            raise StreamingRefused(openai_error(exc, what, secrets)) from None
        raise openai_error(exc, what, secrets) from None
    if not yielded and finish == "length":
        # A reasoning model spent the whole budget thinking: say so rather than stay silent.
        raise ProviderError(
            f"{what} gave an empty reply: its {budget}-token budget ran out"
            + (" on hidden reasoning" if reasoning else "")
            + "; raise maxOutputTokens",
            transient=False,
        )


class StreamingRefused(ProviderError):
    """The provider answers this model only without streaming (o3 for unverified orgs)."""

    def __init__(self, cause: ProviderError) -> None:
        super().__init__(str(cause), transient=False)


class OpenAICompatibleLanguageModel(OpenAIClientProvider):
    """A LanguageModel over any AsyncOpenAI-like client; subclasses only say how to build it."""

    vendor = "OpenAI"
    lifecycle_name: ClassVar[str] = "openai"
    """The provider's name in the lifecycle data (what each model takes)."""
    maps_display_names: ClassVar[bool] = False

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        secrets: Sequence[str] = (),
        legacy_max_tokens: bool = False,
        default_model: str | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        super().__init__(client, secrets=secrets)
        self._lifecycle = lifecycle or load_lifecycle()
        self._legacy_max_tokens = legacy_max_tokens
        self._default_model = default_model
        # Models this provider refused to stream (o3 for unverified organisations).
        self._unstreamable: set[str] = set()

    def model_name(self, model: str) -> str:
        """The name to send for ``model``; "default" or empty means the configured default.
        Gateways that take model ids get the id of a display name (lifecycle, operator map)."""
        if self._default_model and model in ("", "default"):
            return self._default_model
        if self.maps_display_names:
            with contextlib.suppress(ModelRefused):
                return self._lifecycle.resolve("llm", self.lifecycle_name, model).served
        return model

    def options(self, model: str) -> LlmOptions:
        return self._lifecycle.llm_options(self.lifecycle_name, model)

    def query(self, model: str) -> Mapping[str, str] | None:
        """Extra query parameters for ``model`` (Azure: its api-version)."""
        return None

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        model = self.model_name(request.model)
        what = f"{self.vendor} chat completion ({model})"
        streamed = model not in self._unstreamable
        try:
            async for delta in self._complete(request, model, what, stream=streamed):
                yield delta
        except StreamingRefused:
            # Nothing was yielded (the refusal is the answer to the request): ask again for one
            # whole reply, and remember not to stream this model from now on.
            logger.warning("%s: streaming refused for %s; answering without streaming", what, model)
            self._unstreamable.add(model)
            async for delta in self._complete(request, model, what, stream=False):
                yield delta

    def _complete(
        self, request: LlmRequest, model: str, what: str, *, stream: bool
    ) -> AsyncIterator[str]:
        return stream_chat_completion(
            self._client,
            request,
            model=model,
            what=what,
            secrets=self._secrets,
            legacy_max_tokens=self._legacy_max_tokens,
            options=self.options(model),
            stream=stream,
            extra_query=self.query(model),
        )


class OpenAILanguageModel(OpenAICompatibleLanguageModel):
    """OpenAI chat completions, or any OpenAI-compatible server via ``OPENAI_BASE_URL``."""

    # max_completion_tokens for every model, since OpenAI deprecated max_tokens, and local
    # servers that predate the new name ignore it.

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(
            build_openai_client(env, "LLM"),
            secrets=(openai_api_key(env, "LLM"),),
            lifecycle=load_lifecycle(env),
        )
