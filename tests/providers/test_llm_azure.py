"""AzureOpenAILanguageModel against the local fake's Azure deployments path, real openai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError, ProviderUnavailable
from handlers.providers.llm.azure import DEFAULT_API_VERSION, AzureOpenAILanguageModel
from tests.fakes.common import ProviderBuilder
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., AzureOpenAILanguageModel]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIApi]:
    async with FakeOpenAIApi(api_key="0123456789abcdef0123456789abcdef") as api:
        yield api


@pytest.fixture
async def build(fake: FakeOpenAIApi) -> AsyncIterator[Build]:
    builder = ProviderBuilder(
        AzureOpenAILanguageModel.from_env,
        {"AZURE_OPENAI_ENDPOINT": fake.url, "AZURE_OPENAI_API_KEY": fake.api_key},
    )
    yield builder
    await builder.aclose()


def request(model: str = "gpt-4o", **kwargs: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="Answer briefly.",
        messages=(ChatMessage("user", "Tell me a joke"),),
        **kwargs,  # type: ignore[arg-type]
    )


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [delta async for delta in stream]


async def test_streams_from_the_deployment_named_after_the_model(
    fake: FakeOpenAIApi, build: Build
) -> None:
    fake.chat_reply = "Why did the robot cross the road?"
    deltas = await collect(build().respond(request(temperature=0.5, max_output_tokens=64)))

    # The fake's first Azure chunk has no choices (prompt filter results): it is skipped.
    assert "".join(deltas) == fake.chat_reply
    (seen,) = fake.requests
    assert seen.path == "/openai/deployments/gpt-4o/chat/completions"
    assert seen.query["api-version"] == DEFAULT_API_VERSION
    assert seen.headers["api-key"] == fake.api_key
    assert "authorization" not in seen.headers
    assert seen.json["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert seen.json["temperature"] == 0.5
    assert seen.json["max_tokens"] == 64  # GA api-versions know max_tokens
    assert "max_completion_tokens" not in seen.json


async def test_api_version_comes_from_the_environment(fake: FakeOpenAIApi, build: Build) -> None:
    await collect(build(OPENAI_API_VERSION="2025-04-01-preview").respond(request("gpt-35-turbo")))

    assert fake.requests[0].path == "/openai/deployments/gpt-35-turbo/chat/completions"
    assert fake.requests[0].query["api-version"] == "2025-04-01-preview"


async def test_an_unknown_deployment_is_a_permanent_error(
    fake: FakeOpenAIApi, build: Build
) -> None:
    fake.azure_deployments = frozenset({"gpt-4o"})

    with pytest.raises(ProviderError, match="DeploymentNotFound") as caught:
        await collect(build().respond(request("gpt-4-32k")))

    assert not caught.value.transient


async def test_429_then_success(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(status=429, retry_after_ms=10))

    deltas = await collect(build().respond(request()))

    assert "".join(deltas) == "You said: Tell me a joke"
    assert len(fake.requests) == 2


async def test_500_is_a_transient_provider_error(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(status=503), times=None)

    with pytest.raises(ProviderError, match="HTTP 503") as caught:
        await collect(build(METAHUMAN_PROVIDER_MAX_RETRIES="0").respond(request()))

    assert caught.value.transient
    assert len(fake.requests) == 1


async def test_timeout_is_a_transient_provider_error(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(delay_s=5))
    model = build(METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")

    with pytest.raises(ProviderError, match="timed out") as caught:
        await collect(model.respond(request()))

    assert caught.value.transient


async def test_a_wrong_key_is_not_transient_and_not_in_the_message(
    fake: FakeOpenAIApi, build: Build
) -> None:
    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await collect(build(AZURE_OPENAI_API_KEY="wrong-azure-key-42").respond(request()))

    assert not caught.value.transient
    assert "wrong-azure-key-42" not in str(caught.value)


@pytest.mark.parametrize("missing", ["AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"])
def test_from_env_names_the_missing_variable(missing: str) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"}
    del env[missing]

    with pytest.raises(ProviderUnavailable, match=missing):
        AzureOpenAILanguageModel.from_env(env)
