"""Amazon Bedrock chat through the Converse API (``bedrock-runtime`` ``converse_stream``).

Text deltas (``contentBlockDelta`` events) are yielded as they arrive: the event
stream is read in a worker thread (boto3 is synchronous) and each delta is handed
to the event loop at once.

Models: any Bedrock model id or inference profile id that supports ConverseStream is passed
through; the default is the contract's (``global.anthropic.claude-haiku-4-5-20251001-v1:0``, a
cross-Region inference profile). The seed's ids (``anthropic.claude-instant-v1``,
``anthropic.claude-v2``, ``anthropic.claude-v1``) are end-of-life on Bedrock (404
ResourceNotFoundException) and Claude 4.x base ids take no on-demand throughput (400
ValidationException): ``session.update`` serves them through the model lifecycle
(``handlers/providers/lifecycle.yaml``: the successor's inference profile), so such ids reach
this adapter only when an operator turns the mapping off; Bedrock's error then comes back as a
non-transient ProviderError naming the model.

Conversation shaping: Converse wants the first message from the user and roles that
alternate, so leading assistant turns (a greeting) are dropped and consecutive turns
of one role are merged.

Environment: see ``handlers.providers.aws_common``; the endpoint override is
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (else ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from generated.catalog import LLM
from handlers.providers.aws_common import Boto3Provider, botocore_error
from handlers.providers.base import ChatMessage, LlmRequest, ProviderError
from handlers.providers.toolkit import iterate_in_thread

DEFAULT_MODEL = LLM["aws"].default_model


def converse_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    shaped: list[dict[str, Any]] = []
    for message in messages:
        if not message.content.strip():
            continue  # Converse rejects blank text blocks
        if not shaped and message.role != "user":
            continue
        if shaped and shaped[-1]["role"] == message.role:
            shaped[-1]["content"][0]["text"] += "\n\n" + message.content
        else:
            shaped.append({"role": message.role, "content": [{"text": message.content}]})
    if not shaped:
        raise ProviderError("Bedrock needs at least one user message", transient=False)
    return shaped


def converse_arguments(request: LlmRequest) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "modelId": request.model or DEFAULT_MODEL,
        "messages": converse_messages(request.messages),
    }
    if request.instructions.strip():
        arguments["system"] = [{"text": request.instructions}]
    inference: dict[str, Any] = {}
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.max_output_tokens is not None:
        inference["maxTokens"] = request.max_output_tokens
    if inference:
        arguments["inferenceConfig"] = inference
    return arguments


class BedrockLanguageModel(Boto3Provider):
    service = "bedrock-runtime"
    endpoint_id = "BEDROCK_RUNTIME"

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        arguments = converse_arguments(request)

        def produce() -> Iterator[str]:
            stream = self._client.converse_stream(**arguments)["stream"]
            try:
                for event in stream:
                    text = event.get("contentBlockDelta", {}).get("delta", {}).get("text")
                    if text:
                        yield text
            finally:
                stream.close()

        try:
            # aclosing: a consumer that stops early closes the stream now, not at GC.
            async with contextlib.aclosing(iterate_in_thread(produce, self._executor)) as deltas:
                async for delta in deltas:
                    yield delta
        except ProviderError:
            raise
        except Exception as exc:
            raise botocore_error(exc, f"Bedrock {arguments['modelId']}", self._secrets) from exc
