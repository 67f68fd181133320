"""The OpenAI-compatible gateways (AI Games, Clarity, Bayer) against the local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError, ProviderUnavailable
from handlers.providers.llm.gateways import (
    AiGamesLanguageModel,
    BayerLanguageModel,
    ClarityLanguageModel,
    GatewayLanguageModel,
)
from handlers.providers.registry import ProviderRegistry
from tests.fakes.openai_api import FakeOpenAIApi, Fault

GATEWAYS: list[tuple[type[GatewayLanguageModel], str, str]] = [
    (AiGamesLanguageModel, "AIGAMES", "ATLAS"),
    (ClarityLanguageModel, "CLARITY", "default"),
    (BayerLanguageModel, "BAYER", "GPT-4o mini"),
]
Build = Callable[..., GatewayLanguageModel]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIApi]:
    async with FakeOpenAIApi() as api:
        yield api


def gateway_env(fake: FakeOpenAIApi, prefix: str, **overrides: str) -> dict[str, str]:
    return {
        f"{prefix}_BASE_URL": f"{fake.url}/{prefix.lower()}/v1",
        f"{prefix}_API_KEY": fake.api_key,
        "CLARITY_MODEL": "clarity-large",
        "METAHUMAN_PROVIDER_TIMEOUT_S": "5",
        "METAHUMAN_PROVIDER_MAX_RETRIES": "2",
        **overrides,
    }


@pytest.fixture
async def build(fake: FakeOpenAIApi) -> AsyncIterator[Build]:
    built: list[GatewayLanguageModel] = []

    def _build(
        cls: type[GatewayLanguageModel], prefix: str, **overrides: str
    ) -> GatewayLanguageModel:
        model = cls.from_env(gateway_env(fake, prefix, **overrides))
        built.append(model)
        return model

    yield _build
    for model in built:
        await model.aclose()


def request(model: str, **kwargs: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="Be concise.",
        messages=(ChatMessage("user", "What time is it?"),),
        **kwargs,  # type: ignore[arg-type]
    )


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [delta async for delta in stream]


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
async def test_streams_from_the_gateway(
    fake: FakeOpenAIApi, build: Build, cls: type[GatewayLanguageModel], prefix: str, model: str
) -> None:
    fake.chat_reply = "It is half past ten."
    deltas = await collect(build(cls, prefix).respond(request(model, max_output_tokens=40)))

    assert "".join(deltas) == fake.chat_reply
    (seen,) = fake.requests
    assert seen.path == f"/{prefix.lower()}/v1/chat/completions"
    assert seen.bearer_token == fake.api_key
    assert seen.json["model"] == (model if model != "default" else "clarity-large")
    assert seen.json["max_tokens"] == 40
    assert seen.json["messages"][0] == {"role": "system", "content": "Be concise."}


async def test_clarity_passes_other_model_names_through(fake: FakeOpenAIApi, build: Build) -> None:
    await collect(build(ClarityLanguageModel, "CLARITY").respond(request("clarity-small")))

    assert fake.requests[0].json["model"] == "clarity-small"


async def test_bayer_reasoning_display_names_get_no_temperature(
    fake: FakeOpenAIApi, build: Build
) -> None:
    deltas = await collect(
        build(BayerLanguageModel, "BAYER").respond(
            request("o3 mini Batch", temperature=0.7, max_output_tokens=99)
        )
    )

    assert "".join(deltas) == "You said: What time is it?"
    body = fake.requests[0].json
    assert body["model"] == "o3 mini Batch"
    assert "temperature" not in body
    assert body["max_completion_tokens"] == 99
    assert "max_tokens" not in body


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
async def test_429_then_success(
    fake: FakeOpenAIApi, build: Build, cls: type[GatewayLanguageModel], prefix: str, model: str
) -> None:
    fake.inject(Fault(status=429, retry_after_ms=10))

    deltas = await collect(build(cls, prefix).respond(request(model)))

    assert "".join(deltas) == "You said: What time is it?"
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
async def test_500_is_a_transient_provider_error(
    fake: FakeOpenAIApi, build: Build, cls: type[GatewayLanguageModel], prefix: str, model: str
) -> None:
    fake.inject(Fault(status=500), times=None)
    provider = build(cls, prefix, METAHUMAN_PROVIDER_MAX_RETRIES="0")

    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        await collect(provider.respond(request(model)))

    assert caught.value.transient


async def test_timeout_is_a_transient_provider_error(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(delay_s=5))
    provider = build(
        AiGamesLanguageModel,
        "AIGAMES",
        METAHUMAN_PROVIDER_TIMEOUT_S="0.3",
        METAHUMAN_PROVIDER_MAX_RETRIES="0",
    )

    with pytest.raises(ProviderError, match="timed out") as caught:
        await collect(provider.respond(request("NOVA")))

    assert caught.value.transient


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
@pytest.mark.parametrize("suffix", ["BASE_URL", "API_KEY"])
def test_from_env_names_the_missing_variable(
    cls: type[GatewayLanguageModel], prefix: str, model: str, suffix: str
) -> None:
    env = {f"{prefix}_BASE_URL": "http://127.0.0.1:9/v1", f"{prefix}_API_KEY": "k"}
    env["CLARITY_MODEL"] = "m"
    del env[f"{prefix}_{suffix}"]

    with pytest.raises(ProviderUnavailable, match=f"{prefix}_{suffix}"):
        cls.from_env(env)


def test_clarity_needs_the_model_that_default_means() -> None:
    env = {"CLARITY_BASE_URL": "http://127.0.0.1:9/v1", "CLARITY_API_KEY": "k"}

    with pytest.raises(ProviderUnavailable, match="CLARITY_MODEL"):
        ClarityLanguageModel.from_env(env)


@pytest.mark.parametrize(("cls", "prefix", "model"), GATEWAYS)
async def test_the_registry_builds_each_gateway(
    fake: FakeOpenAIApi, cls: type[GatewayLanguageModel], prefix: str, model: str
) -> None:
    provider = ProviderRegistry(gateway_env(fake, prefix)).llm(prefix.lower())
    assert type(provider) is cls
    await provider.aclose()
