"""LocalLanguageModel: the rule-based demo responder (``eliza``), run in-process."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError
from handlers.providers.llm.local import (
    MODEL_NAME,
    LocalLanguageModel,
    reflect,
    reply_to,
    word_deltas,
)
from tests.data import SPEECH_DIR

AUDIO = SPEECH_DIR
MANIFEST: list[dict[str, str]] = json.loads((AUDIO / "manifest.json").read_text())
NOW = datetime(2026, 11, 25, 15, 42, tzinfo=timezone(timedelta(hours=1), "CET"))


def said(*user_texts: str) -> tuple[ChatMessage, ...]:
    """A conversation in which the user said ``user_texts`` and got short answers."""
    messages: list[ChatMessage] = []
    for text in user_texts:
        if messages:
            messages.append(ChatMessage("assistant", "I see."))
        messages.append(ChatMessage("user", text))
    return tuple(messages)


def llm_request(*user_texts: str, max_output_tokens: int | None = None) -> LlmRequest:
    return LlmRequest(
        model=MODEL_NAME,
        instructions="You are a helpful assistant.",
        messages=said(*user_texts),
        max_output_tokens=max_output_tokens,
    )


@pytest.fixture
def llm() -> LocalLanguageModel:
    return LocalLanguageModel(clock=lambda: NOW)


async def reply(llm: LocalLanguageModel, *user_texts: str) -> str:
    return "".join([delta async for delta in llm.respond(llm_request(*user_texts))])


def test_from_env_needs_nothing() -> None:
    assert isinstance(LocalLanguageModel.from_env({}), LocalLanguageModel)


async def test_the_same_input_always_gets_the_same_reply(llm: LocalLanguageModel) -> None:
    for text in ("the sky is blue", "please tell me a joke", "I am sad", "what is the weather"):
        first = await reply(llm, text)
        assert await reply(llm, text) == first
        assert await reply(LocalLanguageModel(clock=lambda: NOW), text) == first


async def test_statements_about_oneself_are_reflected(llm: LocalLanguageModel) -> None:
    assert (await reply(llm, "I am sad")).startswith("Why do you say you are sad?")
    assert "Why do you feel like I don't understand you?" in await reply(
        llm, "I feel like you don't understand me"
    )
    assert "Do you really think my work is pointless?" in await reply(
        llm, "I think your work is pointless"
    )


@pytest.mark.parametrize(
    ("fragment", "reflected"),
    [
        ("my job makes me sad", "your job makes you sad"),
        ("you are wrong", "I am wrong"),
        ("i was tired", "you were tired"),
        ("you never listen to me", "I never listen to you"),
        ("tell you about myself", "tell me about yourself"),
    ],
)
def test_reflection_swaps_first_and_second_person(fragment: str, reflected: str) -> None:
    assert reflect(fragment) == reflected


# Each shared recording's words, and what pocketsphinx heard, hit the rule meant for them.
TOPICS = {
    "what_is_the_weather_like_today.wav": "weather",
    "please_tell_me_a_joke.wav": "Here's one.",
    "hello_how_are_you.wav": "I'm doing well",
    "what_time_is_it.wav": "it's 3:42 PM (CET)",
    "tell_me_about_the_history_of.wav": "The history of the city",
}


@pytest.mark.parametrize("variant", ["text", "pocketsphinx"])
@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
async def test_each_recordings_question_fires_its_rule(
    llm: LocalLanguageModel, entry: dict[str, str], variant: str
) -> None:
    answer = await reply(llm, entry[variant])

    assert TOPICS[entry["file"]] in answer
    assert 2 <= answer.count(". ") + answer.count("? ") + answer.count("! ") + 1 <= 4


async def test_the_time_comes_from_the_clock() -> None:
    morning = LocalLanguageModel(clock=lambda: NOW.replace(hour=9, minute=5))

    assert "it's 9:05 AM" in await reply(morning, "what time is it")
    assert "Wednesday, 25 November 2026" in await reply(morning, "what day is it")


async def test_jokes_change_as_the_conversation_asks_for_more(llm: LocalLanguageModel) -> None:
    jokes = [
        await reply(llm, *["tell me a joke"] * asked) for asked in range(1, 4)
    ]  # the same words, asked once, twice, three times

    assert len(set(jokes)) == 3


async def test_the_persons_name_is_remembered(llm: LocalLanguageModel) -> None:
    assert "Nice to meet you, Sam." in await reply(llm, "Hi, my name is Sam")
    assert (await reply(llm, "my name is sam", "hello")).startswith("Hello, Sam!")
    assert "Your name is Sam" in await reply(
        llm, "call me Sam", "the sky is blue", "what's my name"
    )
    assert "haven't told me your name" in await reply(llm, "what is my name")
    assert "Sam" not in await reply(llm, "call me a taxi")


async def test_it_says_what_it_is(llm: LocalLanguageModel) -> None:
    answer = await reply(llm, "who are you")

    assert "not a real AI model" in answer


async def test_unmatched_input_gets_a_fallback_chosen_by_the_input(
    llm: LocalLanguageModel,
) -> None:
    statements = [f"the {thing} is on the table" for thing in ("cup", "book", "cat", "key", "pen")]
    replies = [await reply(llm, text) for text in statements]

    assert len(set(replies)) > 1  # not one canned answer
    assert replies == [await reply(llm, text) for text in statements]  # but no randomness
    # A question nothing matches is answered honestly: the demo has no real knowledge.
    assert "real" in await reply(llm, "why is the sky blue")


@pytest.mark.parametrize("text", ["", "   ", "...", "?!"])
async def test_empty_input_gets_a_prompt_to_speak(llm: LocalLanguageModel, text: str) -> None:
    assert "didn't catch anything" in await reply(llm, text)


async def test_no_user_message_gets_a_prompt_to_speak(llm: LocalLanguageModel) -> None:
    request = LlmRequest(model=MODEL_NAME, instructions="", messages=())

    assert "didn't catch anything" in "".join([d async for d in llm.respond(request)])


async def test_the_reply_streams_word_by_word_and_joins_up(llm: LocalLanguageModel) -> None:
    request = llm_request("hello how are you")

    deltas = [delta async for delta in llm.respond(request)]

    assert "".join(deltas) == reply_to(request.messages, NOW)
    assert deltas[:3] == ["Hello!", " I'm", " doing"]
    assert all(delta.startswith(" ") and " " not in delta[1:] for delta in deltas[1:])


async def test_max_output_tokens_caps_the_words(llm: LocalLanguageModel) -> None:
    deltas = [d async for d in llm.respond(llm_request("hello how are you", max_output_tokens=4))]

    assert "".join(deltas) == "Hello! I'm doing well,"


def test_word_deltas_keep_the_spacing() -> None:
    assert word_deltas("Hello there,  you.", None) == ["Hello", " there,", "  you."]
    assert word_deltas("Hello there, you.", 2) == ["Hello", " there,"]


async def test_streaming_yields_to_other_tasks_between_words(llm: LocalLanguageModel) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    deltas = [delta async for delta in llm.respond(llm_request("tell me about the river"))]
    ticking.cancel()

    assert ticks >= len(deltas) - 1 > 10


async def test_instructions_and_temperature_do_not_change_the_reply(
    llm: LocalLanguageModel,
) -> None:
    plain = llm_request("I am tired")
    dressed = LlmRequest(
        model=MODEL_NAME,
        instructions="Answer only in French, in one word.",
        messages=plain.messages,
        temperature=1.5,
    )

    assert [d async for d in llm.respond(dressed)] == [d async for d in llm.respond(plain)]


async def test_an_unknown_model_is_refused(llm: LocalLanguageModel) -> None:
    request = LlmRequest(model="gpt-4o", instructions="", messages=said("hello"))

    with pytest.raises(ProviderError, match=MODEL_NAME):
        [d async for d in llm.respond(request)]
