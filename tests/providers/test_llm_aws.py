"""BedrockLanguageModel against a loopback Bedrock Runtime answering in event-stream frames."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from botocore.eventstream import EventStreamBuffer

from generated.catalog import LLM
from handlers.providers.base import ChatMessage, LlmRequest, ProviderError, ProviderUnavailable
from handlers.providers.llm.aws import BedrockLanguageModel, converse_messages
from tests.fakes import aws_eventstream
from tests.fakes.aws_bedrock import FakeBedrockRuntime, reply_for
from tests.fakes.aws_common import (
    ACCESS_KEY_ID,
    REGION,
    aws_env,
)
from tests.fakes.common import collect

QUESTION = "what is the weather like today"


def provider(bedrock: FakeBedrockRuntime, **env: str) -> BedrockLanguageModel:
    return BedrockLanguageModel.from_env(
        aws_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.endpoint, **env)
    )


def request(model: str = LLM["aws"].default_model, **overrides: object) -> LlmRequest:
    fields: dict[str, object] = {
        "model": model,
        "instructions": "You are a friendly digital human. Answer briefly.",
        "messages": (
            ChatMessage("user", "hello how are you"),
            ChatMessage("assistant", "I am well, thank you."),
            ChatMessage("user", QUESTION),
        ),
        "temperature": 0.4,
        "max_output_tokens": 200,
    }
    fields.update(overrides)
    return LlmRequest(**fields)  # type: ignore[arg-type]


def test_frame_encoder_agrees_with_botocores_decoder() -> None:
    stamp = datetime.datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    headers: dict[str, aws_eventstream.HeaderValue] = {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
        "flag": True,
        "count": 7,
        "blob": b"\x00\x01",
        ":date": stamp,
    }
    frame = aws_eventstream.encode_message(headers, b'{"delta":{"text":"hi"}}')
    buffer = EventStreamBuffer()
    buffer.add_data(frame)  # botocore checks both CRCs and the lengths

    [message] = list(buffer)
    assert message.payload == b'{"delta":{"text":"hi"}}'
    assert message.headers[":event-type"] == "contentBlockDelta"
    assert message.headers["flag"] is True and message.headers["count"] == 7
    assert message.headers["blob"] == b"\x00\x01"
    assert message.headers[":date"] == 1735787045678  # botocore keeps timestamps as epoch ms
    [decoded] = aws_eventstream.Decoder().feed(frame)
    assert decoded.headers == headers


async def test_streams_converse_deltas(bedrock: FakeBedrockRuntime) -> None:
    deltas = await collect(provider(bedrock).respond(request()))

    [call] = bedrock.calls
    assert call.problem is None  # SigV4 scope (key, region, bedrock), a valid Converse body
    assert call.model_id == LLM["aws"].default_model
    assert f"Credential={ACCESS_KEY_ID}/" in call.headers["Authorization"]
    assert f"/{REGION}/bedrock/aws4_request" in call.headers["Authorization"]
    assert call.body == {
        "messages": [
            {"role": "user", "content": [{"text": "hello how are you"}]},
            {"role": "assistant", "content": [{"text": "I am well, thank you."}]},
            {"role": "user", "content": [{"text": QUESTION}]},
        ],
        "system": [{"text": "You are a friendly digital human. Answer briefly."}],
        "inferenceConfig": {"temperature": 0.4, "maxTokens": 200},
    }
    assert len(deltas) > 5
    assert "".join(deltas) == call.answered == reply_for(LLM["aws"].default_model, call.body)


async def test_default_model_and_optional_fields(bedrock: FakeBedrockRuntime) -> None:
    deltas = await collect(
        provider(bedrock).respond(
            request(model="", instructions=" ", temperature=None, max_output_tokens=None)
        )
    )

    # The contract's default: an active model (the seed's claude-instant-v1 was removed).
    default = LLM["aws"].default_model
    assert default == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    [call] = bedrock.calls
    assert call.model_id == default
    assert "system" not in call.body and "inferenceConfig" not in call.body
    assert "".join(deltas).startswith(f"{default} heard: " + QUESTION)


async def test_model_id_with_a_colon(bedrock: FakeBedrockRuntime) -> None:
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    deltas = await collect(provider(bedrock).respond(request(model)))

    assert bedrock.calls[0].model_id == model
    assert "".join(deltas).startswith(model)


async def test_yields_deltas_before_the_reply_is_complete(bedrock: FakeBedrockRuntime) -> None:
    bedrock.gate = asyncio.Event()
    stream = provider(bedrock).respond(request())

    first = await asyncio.wait_for(anext(stream), 2)  # the fake holds the rest back meanwhile
    bedrock.gate.set()
    rest = await collect(stream)

    assert first + "".join(rest) == bedrock.calls[0].answered


async def test_exception_inside_the_stream(bedrock: FakeBedrockRuntime) -> None:
    bedrock.scenarios = ["stream_exception"]
    received: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for delta in provider(bedrock).respond(request()):
            received.append(delta)

    assert "".join(received) == bedrock.calls[0].answered
    assert caught.value.transient
    assert "modelStreamErrorException" in str(caught.value)


async def test_unknown_model_is_not_transient(bedrock: FakeBedrockRuntime) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider(bedrock).respond(request("anthropic.claude-9")))

    assert not caught.value.transient
    assert "anthropic.claude-9" in str(caught.value)
    assert "ValidationException" in str(caught.value)


def test_conversation_is_shaped_for_converse() -> None:
    shaped = converse_messages(
        (
            ChatMessage("assistant", "Hi, I am Ada."),
            ChatMessage("user", "hello"),
            ChatMessage("user", "are you there"),
            ChatMessage("assistant", " "),
            ChatMessage("assistant", "Yes."),
            ChatMessage("user", "good"),
        )
    )
    assert shaped == [
        {"role": "user", "content": [{"text": "hello\n\nare you there"}]},
        {"role": "assistant", "content": [{"text": "Yes."}]},
        {"role": "user", "content": [{"text": "good"}]},
    ]
    with pytest.raises(ProviderError):
        converse_messages((ChatMessage("assistant", "Hi"),))


def test_missing_region_is_unavailable() -> None:
    env = aws_env()
    del env["AWS_REGION"]
    with pytest.raises(ProviderUnavailable, match="AWS_REGION"):
        BedrockLanguageModel.from_env(env)
