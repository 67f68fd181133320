"""OpenAILanguageModel against the local fake OpenAI API, with the real openai SDK."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError
from handlers.providers.llm.openai import (
    REASONING_ALLOWANCE,
    OpenAILanguageModel,
    is_reasoning_model,
)
from tests.fakes import upstreams
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., OpenAILanguageModel]

HISTORY = (
    ChatMessage("user", "Hi, who are you?"),
    ChatMessage("assistant", "I am your guide."),
    ChatMessage("user", "What is the weather like today?"),
)


@pytest.fixture
def build(openai_api: FakeOpenAIApi, builders: Builders) -> Build:
    return builders(OpenAILanguageModel.from_env, upstreams.openai_env(openai_api))


def request(model: str = "gpt-4o-mini", **kwargs: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        instructions="You are a friendly digital human.",
        messages=HISTORY,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_streams_the_reply_and_sends_the_conversation(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    openai_api.chat_reply = "It is sunny and warm today, enjoy it!"
    deltas = await collect(build().respond(request(temperature=0.7)))

    assert "".join(deltas) == openai_api.chat_reply
    assert len(deltas) == len(openai_api.chat_reply.split())  # streamed token by token
    (seen,) = openai_api.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.bearer_token == openai_api.api_key
    assert seen.json["model"] == "gpt-4o-mini"
    assert seen.json["stream"] is True
    assert seen.json["temperature"] == 0.7
    assert seen.json["messages"] == [
        {"role": "system", "content": "You are a friendly digital human."},
        {"role": "user", "content": "Hi, who are you?"},
        {"role": "assistant", "content": "I am your guide."},
        {"role": "user", "content": "What is the weather like today?"},
    ]


async def test_token_limit_is_max_completion_tokens(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    await collect(build().respond(request("gpt-4.1", temperature=0.2, max_output_tokens=50)))

    body = openai_api.requests[0].json
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    assert body["temperature"] == 0.2


# Current reasoning models (o3-mini, o4-mini and o1 were shut down on 2026-10-23: the fake
# answers them 404 model_not_found, as OpenAI does).
@pytest.mark.parametrize("model", ["gpt-5.6-sol", "gpt-5.6-luna", "codex-mini-latest"])
async def test_reasoning_models_get_no_temperature(
    openai_api: FakeOpenAIApi, build: Build, model: str
) -> None:
    deltas = await collect(build().respond(request(model, temperature=0.7, max_output_tokens=300)))

    assert "".join(deltas) == "You said: What is the weather like today?"
    body = openai_api.requests[0].json
    assert body["model"] == model
    assert "temperature" not in body
    assert "max_tokens" not in body
    # Hidden reasoning counts against the limit: an allowance is added to the reply's 300.
    assert body["max_completion_tokens"] == 300 + REASONING_ALLOWANCE


async def test_first_o1_models_get_instructions_as_a_user_message(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    deltas = await collect(build().respond(request("o1-mini")))

    assert "".join(deltas) == "You said: What is the weather like today?"
    messages = openai_api.requests[0].json["messages"]
    assert messages[0] == {"role": "user", "content": "You are a friendly digital human."}
    assert all(m["role"] != "system" for m in messages)


def test_reasoning_model_names() -> None:
    assert is_reasoning_model("o3 mini Batch")
    assert is_reasoning_model("GPT-5 Nano")
    assert not is_reasoning_model("gpt-4o")
    assert not is_reasoning_model("omni-model")


async def test_a_timed_out_request_is_retried(openai_api: FakeOpenAIApi, build: Build) -> None:
    openai_api.inject(Fault(delay_s=5))
    model = build(METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="1")

    deltas = await collect(model.respond(request()))

    assert "".join(deltas) == "You said: What is the weather like today?"
    assert len(openai_api.requests) == 2


async def fail_after_two_deltas(
    openai_api: FakeOpenAIApi, build: Build, fault: Fault
) -> ProviderError:
    """Stream "one two three four" with ``fault`` after its third piece (the role chunk, then
    "one", " two"): the two deltas arrive, then the error, and nothing is retried."""
    openai_api.chat_reply = "one two three four"
    openai_api.inject(fault)
    deltas: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for delta in build().respond(request()):
            deltas.append(delta)

    assert deltas == ["one", " two"]
    assert len(openai_api.requests) == 1
    return caught.value


async def test_a_stream_cut_after_the_first_delta_is_not_retried(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    error = await fail_after_two_deltas(openai_api, build, Fault(cut_after_pieces=3))
    assert error.transient


async def test_an_error_event_in_the_stream_ends_the_reply_with_its_message(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    error = await fail_after_two_deltas(openai_api, build, Fault(error_after_pieces=3))
    assert "The server had an error while processing your request." in str(error)


async def test_a_wrong_key_is_not_transient_and_not_in_the_message(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    wrong_key = "sk-wrong-0123456789abcdef"

    with pytest.raises(ProviderError) as caught:
        await collect(build(OPENAI_API_KEY=wrong_key).respond(request()))

    assert not caught.value.transient
    assert "HTTP 401" in str(caught.value)
    assert "cdef" not in str(caught.value)  # not even the masked key the server echoes
    assert len(openai_api.requests) == 1
