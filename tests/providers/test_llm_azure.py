"""AzureOpenAILanguageModel against the local fake's Azure deployments path, real openai SDK."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError, ProviderUnavailable
from handlers.providers.llm.azure import DEFAULT_API_VERSION, AzureOpenAILanguageModel
from tests.fakes import upstreams
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., AzureOpenAILanguageModel]


@pytest.fixture
def build(openai_api: FakeOpenAIApi, builders: Builders) -> Build:
    return builders(AzureOpenAILanguageModel.from_env, upstreams.azure_openai_env(openai_api))


def request(model: str = "gpt-4o", **kwargs: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="Answer briefly.",
        messages=(ChatMessage("user", "Tell me a joke"),),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_streams_from_the_deployment_named_after_the_model(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    openai_api.chat_reply = "Why did the robot cross the road?"
    deltas = await collect(build().respond(request(temperature=0.5, max_output_tokens=64)))

    # The fake's first Azure chunk has no choices (prompt filter results): it is skipped.
    assert "".join(deltas) == openai_api.chat_reply
    (seen,) = openai_api.requests
    assert seen.path == "/openai/deployments/gpt-4o/chat/completions"
    assert seen.query["api-version"] == DEFAULT_API_VERSION
    assert seen.headers["api-key"] == openai_api.api_key
    assert "authorization" not in seen.headers
    assert seen.json["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert seen.json["temperature"] == 0.5
    assert seen.json["max_tokens"] == 64  # GA api-versions know max_tokens
    assert "max_completion_tokens" not in seen.json


async def test_api_version_comes_from_the_environment(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    await collect(build(OPENAI_API_VERSION="2025-04-01-preview").respond(request("gpt-35-turbo")))

    assert openai_api.requests[0].path == "/openai/deployments/gpt-35-turbo/chat/completions"
    assert openai_api.requests[0].query["api-version"] == "2025-04-01-preview"


async def test_an_unknown_deployment_is_a_permanent_error(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    openai_api.azure_deployments = frozenset({"gpt-4o"})

    with pytest.raises(ProviderError, match="DeploymentNotFound") as caught:
        await collect(build().respond(request("gpt-4-32k")))

    assert not caught.value.transient


async def test_503_is_a_transient_provider_error(openai_api: FakeOpenAIApi, build: Build) -> None:
    openai_api.inject(Fault(status=503), times=None)

    with pytest.raises(ProviderError, match="HTTP 503") as caught:
        await collect(build(METAHUMAN_PROVIDER_MAX_RETRIES="0").respond(request()))

    assert caught.value.transient
    assert len(openai_api.requests) == 1


async def test_a_wrong_key_is_not_transient_and_not_in_the_message(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await collect(build(AZURE_OPENAI_API_KEY="wrong-azure-key-42").respond(request()))

    assert not caught.value.transient
    assert "wrong-azure-key-42" not in str(caught.value)


def test_from_env_without_endpoint_names_the_variable() -> None:
    # The missing key is a conformance check; the endpoint is Azure's own.
    with pytest.raises(ProviderUnavailable, match="AZURE_OPENAI_ENDPOINT"):
        AzureOpenAILanguageModel.from_env({"AZURE_OPENAI_API_KEY": "k"})
