"""A loopback Amazon Bedrock Runtime endpoint (aiohttp on 127.0.0.1) for ConverseStream.

``POST /model/{modelId}/converse-stream`` with a REST-JSON body (``messages``,
``system``, ``inferenceConfig``) and a SigV4 ``Authorization`` header scoped to
``.../<region>/bedrock/aws4_request``. The answer is what Bedrock sends: status 200,
``Content-Type: application/vnd.amazon.eventstream`` and a chunked body of binary
event-stream messages (``tests.fakes.aws_eventstream``): ``messageStart``,
``contentBlockDelta`` per word, ``contentBlockStop``, ``messageStop``, ``metadata``,
each payload carrying Bedrock's ``p`` padding field.

The reply depends on the request (it quotes the last user message and names the
model), so a test sees it when the adapter sends the wrong conversation or model.
Errors are Bedrock's: a status, ``x-amzn-ErrorType`` and a JSON ``message``; or an
``exception`` message in the middle of the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes import aws_eventstream
from tests.fakes.aws_common import LoopbackEndpoint, client_hung_up, sigv4_problem

Scenario = Literal["ok", "throttle", "error500", "hang", "stream_exception"]

# Rules of the real service, from AWS's and Anthropic's documentation and live reports (not from
# the adapter or lifecycle.yaml):
# * end-of-life versions answer 404 ResourceNotFoundException (Bedrock model lifecycle guide;
#   the text seen live in aws-solutions-library-samples/...#708, 2026-08-29): Claude 1.x/2.x and
#   Instant (Anthropic retired them 2024-2025), Claude 3.5 Haiku (EOL 2026-06-19) and Claude 3
#   Sonnet (EOL 2026-07-30, BerriAI/litellm#28704), Claude Sonnet 4 (EOL 2026-10-14,
#   browser-use/browser-use#5448);
# * Claude 4.x base ids take no on-demand throughput: 400 ValidationException naming inference
#   profiles (Bedrock inference-profiles guide; UKGovernmentBEIS/inspect_ai#2058);
# * an id Bedrock does not know: 400 ValidationException "The provided model identifier is
#   invalid." (sblakey/llm-bedrock-anthropic#8).
END_OF_LIFE = frozenset(
    {
        "anthropic.claude-instant-v1",
        "anthropic.claude-v2",
        "anthropic.claude-v2:1",
        "anthropic.claude-v1",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
    }
)
EOL_MESSAGE = (
    "This model version has reached the end of its life. "
    "Please refer to the AWS documentation for more details."
)
BASE_MODELS_4X = frozenset(
    {
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "anthropic.claude-sonnet-4-6",
        "anthropic.claude-opus-4-6-v1",
    }
)
# Cross-Region inference profiles of the 4.x models (Bedrock user guide, "Supported Regions and
# models for inference profiles"; Claude Code's Bedrock docs).
MODELS = frozenset(
    {f"{geo}.{base}" for geo in ("us", "eu", "global") for base in BASE_MODELS_4X}
    | {"anthropic.claude-3-haiku-20240307-v1:0"}
)


def model_problem(model_id: str) -> tuple[int, str, str] | None:
    """(status, error type, message) Bedrock answers for ``model_id``, or None when it serves it."""
    if model_id in END_OF_LIFE:
        return 404, "ResourceNotFoundException", EOL_MESSAGE
    if model_id in BASE_MODELS_4X:
        return (
            400,
            "ValidationException",
            f"Invocation of model ID {model_id} with on-demand throughput isn't supported. "
            "Retry your request with the ID or ARN of an inference profile that contains "
            "this model.",
        )
    if model_id not in MODELS:
        return 400, "ValidationException", "The provided model identifier is invalid."
    return None


@dataclass
class ConverseCall:
    model_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    scenario: Scenario
    problem: str | None = None
    answered: str = ""
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client closed the connection before the stream was complete."""


def reply_for(model_id: str, body: dict[str, Any]) -> str:
    """The answer the fake streams: it depends on the model and the last user turn."""
    last_user = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    said = last_user["content"][0]["text"]
    return f"{model_id} heard: {said}. It is sunny today, enjoy it!"


def deltas_of(text: str) -> list[str]:
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _frame(event_type: str, body: dict[str, Any]) -> bytes:
    body = {**body, "p": "abcdefghijklmnopqrstuvwxyz"[: 1 + len(json.dumps(body)) % 26]}
    return aws_eventstream.event(event_type, json.dumps(body).encode())


class FakeBedrockRuntime(LoopbackEndpoint):
    def __init__(self) -> None:
        self.scenarios: list[Scenario] = []
        """What the next calls do, in order; "ok" once empty."""
        self.calls: list[ConverseCall] = []
        self.gate: asyncio.Event | None = None
        """When set up, the stream stops after the first delta until the test opens the gate."""
        self.pace_s = 0.0
        """A pause between deltas, as a model generating tokens makes."""
        super().__init__()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/model/{model_id}/converse-stream", self._converse_stream)]

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        scenario = self.scenarios.pop(0) if self.scenarios else "ok"
        model_id = request.match_info["model_id"]
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = {}
        call = ConverseCall(model_id, dict(request.headers), body, scenario)
        self.calls.append(call)

        call.problem = sigv4_problem(request.headers.get("Authorization"), "bedrock")
        if call.problem is not None:
            return _error(403, "UnrecognizedClientException", call.problem)
        refused = model_problem(model_id)
        if refused is not None:
            return _error(*refused)
        call.problem = _body_problem(body)
        if call.problem is not None:
            return _error(400, "ValidationException", call.problem)
        if scenario == "throttle":
            return _error(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        if scenario == "error500":
            return _error(
                500, "InternalServerException", "The server encountered an internal error."
            )
        if scenario == "hang":
            await self._closing.wait()
            return _error(500, "InternalServerException", "shutting down")

        response = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-RequestId": str(uuid.uuid4()),
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(_frame("messageStart", {"role": "assistant"}))
        deltas = deltas_of(reply_for(model_id, body))
        for index, text in enumerate(deltas):
            if client_hung_up(request):
                call.hung_up.set()
                return response
            await response.write(
                _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
            )
            call.answered += text
            if index == 0 and self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.pace_s)
            if index == 2 and scenario == "stream_exception":
                payload = json.dumps({"message": "The model stream was interrupted."}).encode()
                await response.write(
                    aws_eventstream.exception("modelStreamErrorException", payload)
                )
                await response.write_eof()
                return response
        await response.write(_frame("contentBlockStop", {"contentBlockIndex": 0}))
        await response.write(_frame("messageStop", {"stopReason": "end_turn"}))
        await response.write(
            _frame(
                "metadata",
                {
                    "usage": {
                        "inputTokens": 25,
                        "outputTokens": len(deltas),
                        "totalTokens": 25 + len(deltas),
                    },
                    "metrics": {"latencyMs": 120},
                },
            )
        )
        await response.write_eof()
        return response


def _body_problem(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must not be empty"
    if messages[0].get("role") != "user":
        return "A conversation must start with a user message."
    for before, after in itertools.pairwise(messages):
        if before.get("role") == after.get("role"):
            return "A conversation must alternate between user and assistant roles."
    for message in messages:
        content = message.get("content")
        if not content or not all(
            isinstance(block.get("text"), str) and block["text"].strip() for block in content
        ):
            return "The text field in the ContentBlock object is blank."
    for block in body.get("system", []):
        if not block.get("text", "").strip():
            return "The text field in the SystemContentBlock object is blank."
    config = body.get("inferenceConfig", {})
    if set(config) - {"temperature", "maxTokens", "topP", "stopSequences"}:
        return f"unknown inferenceConfig fields {sorted(config)}"
    return None


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={
            "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )
