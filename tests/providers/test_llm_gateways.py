"""The OpenAI-compatible gateways (AI Games, Clarity, Bayer) against the local fake."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderUnavailable
from handlers.providers.llm.gateways import (
    AiGamesLanguageModel,
    BayerLanguageModel,
    ClarityLanguageModel,
    GatewayLanguageModel,
)
from handlers.providers.llm.openai import REASONING_ALLOWANCE
from tests.fakes import upstreams
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi

GATEWAYS: list[tuple[type[GatewayLanguageModel], str, str]] = [
    (AiGamesLanguageModel, "AIGAMES", "ATLAS"),
    (ClarityLanguageModel, "CLARITY", "default"),
    (BayerLanguageModel, "BAYER", "GPT-4o mini"),
]
Build = Callable[..., GatewayLanguageModel]


@pytest.fixture
def build(openai_api: FakeOpenAIApi, builders: Builders) -> Build:
    def build_gateway(
        cls: type[GatewayLanguageModel], prefix: str, **overrides: str
    ) -> GatewayLanguageModel:
        return builders(cls.from_env, upstreams.gateway_env(prefix)(openai_api))(**overrides)

    return build_gateway


def request(model: str, **kwargs: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="Be concise.",
        messages=(ChatMessage("user", "What time is it?"),),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
async def test_streams_from_the_gateway(
    openai_api: FakeOpenAIApi,
    build: Build,
    cls: type[GatewayLanguageModel],
    prefix: str,
    model: str,
) -> None:
    openai_api.chat_reply = "It is half past ten."
    deltas = await collect(build(cls, prefix).respond(request(model, max_output_tokens=40)))

    assert "".join(deltas) == openai_api.chat_reply
    (seen,) = openai_api.requests
    assert seen.path == f"/{prefix.lower()}/v1/chat/completions"
    assert seen.bearer_token == openai_api.api_key
    # Clarity's "default" is CLARITY_MODEL; Bayer takes ids, not the display names.
    sent = {"default": "clarity-large", "GPT-4o mini": "gpt-4o-mini"}.get(model, model)
    assert seen.json["model"] == sent
    assert seen.json["max_tokens"] == 40
    assert seen.json["messages"][0] == {"role": "system", "content": "Be concise."}


async def test_clarity_passes_other_model_names_through(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    await collect(build(ClarityLanguageModel, "CLARITY").respond(request("clarity-small")))

    assert openai_api.requests[0].json["model"] == "clarity-small"


async def test_bayer_reasoning_display_names_get_no_temperature(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    deltas = await collect(
        build(BayerLanguageModel, "BAYER").respond(
            request("GPT-5 Mini", temperature=0.7, max_output_tokens=99)
        )
    )

    assert "".join(deltas) == "You said: What time is it?"
    body = openai_api.requests[0].json
    assert body["model"] == "gpt-5-mini"  # the gateway takes ids, not display names
    assert "temperature" not in body
    assert body["max_completion_tokens"] == 99 + REASONING_ALLOWANCE
    assert "max_tokens" not in body


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
def test_from_env_without_base_url_names_the_variable(
    cls: type[GatewayLanguageModel], prefix: str, model: str
) -> None:
    # The missing key is a conformance check; the base URL is the gateways' own.
    env = {f"{prefix}_API_KEY": "k", "CLARITY_MODEL": "m"}

    with pytest.raises(ProviderUnavailable, match=f"{prefix}_BASE_URL"):
        cls.from_env(env)


def test_clarity_needs_the_model_that_default_means() -> None:
    env = {"CLARITY_BASE_URL": "http://127.0.0.1:9/v1", "CLARITY_API_KEY": "k"}

    with pytest.raises(ProviderUnavailable, match="CLARITY_MODEL"):
        ClarityLanguageModel.from_env(env)
