"""One test per rule of the real APIs (docs/providers-audit.md): the fake refuses what the real
API refuses, on the wire, and the adapter (with the lifecycle) answers well anyway."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError, TtsRequest
from handlers.providers.lifecycle import load_lifecycle
from handlers.providers.llm.aws import BedrockLanguageModel
from handlers.providers.llm.azure import DEFAULT_API_VERSION, AzureOpenAILanguageModel
from handlers.providers.llm.gateways import BayerLanguageModel
from handlers.providers.llm.openai import OpenAILanguageModel
from handlers.providers.tts.openai import OpenAITextToSpeech
from tests.fakes import upstreams
from tests.fakes.aws_bedrock import FakeBedrockRuntime, reply_for
from tests.fakes.aws_common import aws_env
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi

REPLY = "It is sunny and warm today."


def ask(model: str, **fields: Any) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="Answer briefly.",
        messages=(ChatMessage("user", "How is the weather?"),),
        **fields,
    )


async def post(fake: FakeOpenAIApi, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """A raw request, as any client would send it: what the fake answers on the wire."""
    headers = {"Authorization": f"Bearer {fake.api_key}", "api-key": fake.api_key}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + path, json=body, headers=headers) as response,
    ):
        if not response.content_type.startswith(("application/json", "text/")):
            return response.status, await response.read()
        text = await response.text()
        return response.status, (await response.json() if text.startswith("{") else text)


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


# -- OpenAI: retired models -----------------------------------------------------------------------


async def test_a_retired_openai_model_is_404_model_not_found_and_its_successor_answers(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    status, body = await post(openai_api, "/v1/chat/completions", chat("gpt-4"))
    assert status == 404
    assert body["error"] == {
        "message": "The model `gpt-4` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    llm = builders(OpenAILanguageModel.from_env, upstreams.openai_env(openai_api))()
    # Sent as asked (what session.update prevents), the error is clear and not retried.
    with pytest.raises(ProviderError, match="model_not_found") as refused:
        await collect(llm.respond(ask("gpt-4")))
    assert not refused.value.transient
    openai_api.chat_reply = REPLY
    served = load_lifecycle().resolve("llm", "openai", "gpt-4").served
    assert "".join(await collect(llm.respond(ask(served, max_output_tokens=60)))) == REPLY


# -- OpenAI: voices per TTS model -----------------------------------------------------------------


async def test_tts_1_refuses_ballad_with_a_400_and_the_lifecycle_refuses_it_first(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    body = {"model": "tts-1", "voice": "ballad", "input": "Hello", "response_format": "pcm"}
    status, answer = await post(openai_api, "/v1/audio/speech", body)
    assert status == 400
    assert "'input': 'ballad'" in answer["error"]["message"]
    assert "'alloy'" in answer["error"]["message"]
    # gpt-4o-mini-tts takes ballad; tts-1 takes nova.
    assert (await post(openai_api, "/v1/audio/speech", {**body, "model": "gpt-4o-mini-tts"}))[
        0
    ] == 200
    problem = load_lifecycle().voice_problem("openai", "tts-1", "ballad")
    assert problem is not None and "alloy" in problem
    tts = builders(OpenAITextToSpeech.from_env, upstreams.openai_env(openai_api))()
    request = TtsRequest("tts-1", "nova", "en-US", "unspecified", 1.0, 24000)
    chunks = await collect(tts.synthesize("Hello there.", request))
    assert b"".join(c.pcm for c in chunks) == openai_api.speech_pcm


# -- OpenAI: o3 streams only for verified organisations -------------------------------------------


async def test_o3_streaming_refused_then_answered_whole_without_streaming(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    status, body = await post(openai_api, "/v1/chat/completions", chat("o3", stream=True))
    assert status == 400
    assert (body["error"]["param"], body["error"]["code"]) == ("stream", "unsupported_value")
    assert "must be verified to stream" in body["error"]["message"]
    assert (await post(openai_api, "/v1/chat/completions", chat("o3")))[0] == 200

    openai_api.chat_reply = REPLY
    openai_api.requests.clear()
    llm = builders(OpenAILanguageModel.from_env, upstreams.openai_env(openai_api))()
    deltas = await collect(llm.respond(ask("o3", max_output_tokens=60)))
    assert deltas == [REPLY]  # one whole reply
    assert [r.json.get("stream") for r in openai_api.requests] == [True, False]
    # The next turn does not try streaming again.
    assert await collect(llm.respond(ask("o3"))) == [REPLY]
    assert openai_api.requests[-1].json.get("stream") is False
    # A verified organisation streams o3.
    openai_api.verified_organization = True
    other = builders(OpenAILanguageModel.from_env, upstreams.openai_env(openai_api))()
    assert len(await collect(other.respond(ask("o3")))) > 1


# -- OpenAI: reasoning budgets ---------------------------------------------------------------------


async def test_a_small_budget_on_a_reasoning_model_is_raised_or_reported(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    budget = {"max_completion_tokens": 50}
    status, body = await post(openai_api, "/v1/chat/completions", chat("gpt-5.6-sol", **budget))
    assert status == 200
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == ""

    openai_api.chat_reply = REPLY
    llm = builders(OpenAILanguageModel.from_env, upstreams.openai_env(openai_api))()
    # The adapter adds the reasoning allowance: a 50-token reply is answered.
    assert "".join(await collect(llm.respond(ask("gpt-5.6-sol", max_output_tokens=50)))) == REPLY
    # A model that thinks longer than the allowance: a clear error, not a silent turn.
    openai_api.reasoning_tokens = 100_000
    with pytest.raises(ProviderError, match=r"empty reply.*maxOutputTokens") as empty:
        await collect(llm.respond(ask("gpt-5.6-sol", max_output_tokens=50)))
    assert not empty.value.transient


# -- Azure OpenAI ----------------------------------------------------------------------------------


async def test_azure_reasoning_deployments_need_a_newer_api_version(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    path = f"/openai/deployments/o4-mini/chat/completions?api-version={DEFAULT_API_VERSION}"
    status, body = await post(openai_api, path, chat("o4-mini"))
    assert status == 400
    assert body["error"]["code"] == "BadRequest"
    assert "2024-12-01-preview and later" in body["error"]["message"]

    openai_api.chat_reply = REPLY
    llm = builders(AzureOpenAILanguageModel.from_env, upstreams.azure_openai_env(openai_api))()
    assert "".join(await collect(llm.respond(ask("o4-mini", max_output_tokens=40)))) == REPLY
    assert openai_api.requests[-1].query["api-version"] == "2024-12-01-preview"
    # Other deployments keep the configured version.
    await collect(llm.respond(ask("gpt-4o-mini")))
    assert openai_api.requests[-1].query["api-version"] == DEFAULT_API_VERSION


async def test_azure_async_filter_chunks_without_delta_are_skipped(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    openai_api.azure_async_filter = True
    openai_api.chat_reply = REPLY
    path = f"/openai/deployments/gpt-4o/chat/completions?api-version={DEFAULT_API_VERSION}"
    status, text = await post(openai_api, path, chat("gpt-4o", stream=True))
    assert status == 200
    events = [line for line in text.split("\n\n") if "content_filter_offsets" in line]
    assert events and all('"delta"' not in event for event in events)

    llm = builders(AzureOpenAILanguageModel.from_env, upstreams.azure_openai_env(openai_api))()
    assert "".join(await collect(llm.respond(ask("gpt-4o")))) == REPLY


# -- Bayer myGenAssist -----------------------------------------------------------------------------


async def test_bayer_takes_ids_not_display_names(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    status, body = await post(openai_api, "/bayer/v1/chat/completions", chat("GPT-4o mini"))
    assert (status, body["error"]["code"]) == (404, "model_not_found")
    openai_api.chat_reply = REPLY
    env = upstreams.gateway_env("BAYER")(openai_api)
    llm = builders(BayerLanguageModel.from_env, env)()
    assert "".join(await collect(llm.respond(ask("GPT-4o mini")))) == REPLY
    assert openai_api.requests[-1].json["model"] == "gpt-4o-mini"
    # The operator's map names ids the data does not know.
    mapped = builders(
        BayerLanguageModel.from_env,
        {**env, "METAHUMAN_MODEL_MAP": '{"llm": {"bayer": {"Claude Sonnet 4.5": "claude-4-5"}}}'},
    )()
    await collect(mapped.respond(ask("Claude Sonnet 4.5")))
    assert openai_api.requests[-1].json["model"] == "claude-4-5"


# -- Amazon Bedrock --------------------------------------------------------------------------------


def bedrock_llm(bedrock: FakeBedrockRuntime) -> BedrockLanguageModel:
    return BedrockLanguageModel.from_env(aws_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.endpoint))


@pytest.mark.parametrize(
    ("model", "kind", "text"),
    [
        ("anthropic.claude-v2", "ResourceNotFoundException", "reached the end of its life"),
        ("anthropic.claude-instant-v1", "ResourceNotFoundException", "end of its life"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "ValidationException", "on-demand"),
        ("anthropic.claude-9", "ValidationException", "model identifier is invalid"),
    ],
)
async def test_bedrock_refuses_eol_base_and_unknown_ids_and_the_lifecycle_serves_them(
    bedrock: FakeBedrockRuntime, model: str, kind: str, text: str
) -> None:
    llm = bedrock_llm(bedrock)
    try:
        with pytest.raises(ProviderError, match=text) as refused:
            await collect(llm.respond(ask(model)))
        assert kind in str(refused.value) or text in str(refused.value)
        assert not refused.value.transient
        if model == "anthropic.claude-9":
            return
        served = load_lifecycle().resolve("llm", "aws", model).served
        deltas = await collect(llm.respond(ask(served)))
        assert "".join(deltas) == reply_for(served, bedrock.calls[-1].body)
    finally:
        await llm.aclose()
