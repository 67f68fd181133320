"""Failover per stage (handlers/providers/fallback.py): a transient failure before any output
moves the turn to the next provider; after output, a clear error; a provider that keeps failing
is skipped for its cool-down; the registry wraps the providers the operator lists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

import pytest

from generated.catalog import LLM, TTS
from handlers.providers.base import (
    ChatMessage,
    LlmRequest,
    PcmChunk,
    ProviderError,
    SttRequest,
    Transcript,
    TtsRequest,
)
from handlers.providers.fallback import (
    AllProvidersFailed,
    Candidate,
    CircuitBreaker,
    FallbackConfig,
    FallbackLanguageModel,
    FallbackSpeechToText,
    FallbackTextToSpeech,
)
from handlers.providers.llm.openai import OpenAILanguageModel
from handlers.providers.registry import ProviderRegistry
from handlers.providers.toolkit import NothingToClose
from tests.fakes import upstreams
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi, Fault

QUESTION = LlmRequest("gpt-5.6-luna", "Be brief.", (ChatMessage("user", "Weather?"),))


class Scripted(NothingToClose):
    """An LLM that fails (before or after its first delta) or answers, and records requests."""

    def __init__(
        self, reply: str = "Sunny all day.", *, fail: ProviderError | None = None, after: int = 0
    ) -> None:
        self.reply, self.fail, self.after = reply, fail, after
        self.requests: list[LlmRequest] = []

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        for index, word in enumerate(self.reply.split(" ")):
            if self.fail is not None and index == self.after:
                raise self.fail
            yield word if index == 0 else " " + word
        if self.fail is not None and self.after >= len(self.reply.split(" ")):
            raise self.fail


def cand(name: str, provider: object, model: str | None = None, voice: str | None = None) -> Any:
    """A Candidate over a test double (the doubles have no from_env)."""
    return Candidate(name, cast(Any, provider), model, voice)


def breaker(failures: int = 3, clock: list[float] | None = None) -> CircuitBreaker:
    now = clock if clock is not None else [0.0]
    return CircuitBreaker(failures, 30.0, clock=lambda: now[0])


def failover(*candidates: Any, shared: CircuitBreaker | None = None) -> FallbackLanguageModel:
    return FallbackLanguageModel(list(candidates), shared or breaker())


TRANSIENT = ProviderError("OpenAI chat completion timed out", transient=True)


async def test_a_transient_failure_before_output_moves_the_turn_to_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary, backup = Scripted(fail=TRANSIENT), Scripted("Backup says sunny.")
    llm = failover(cand("openai", primary), cand("local", backup, model="eliza"))
    with caplog.at_level(logging.INFO, logger="handlers.providers.fallback"):
        deltas = await collect(llm.respond(QUESTION))
    assert "".join(deltas) == "Backup says sunny."
    assert primary.requests[0].model == "gpt-5.6-luna"
    assert backup.requests[0].model == "eliza"  # the fallback's own model
    assert "llm turn served by local after 1 failed" in caplog.text


async def test_the_real_adapter_timing_out_or_500ing_fails_over(
    openai_api: FakeOpenAIApi, builders: Builders
) -> None:
    env = {**upstreams.openai_env(openai_api), "METAHUMAN_PROVIDER_TIMEOUT_S": "0.3"}
    primary = builders(OpenAILanguageModel.from_env, env)(METAHUMAN_PROVIDER_MAX_RETRIES="0")
    backup = Scripted("The backup answers.")
    llm = FallbackLanguageModel(
        [cand("openai", primary), cand("local", backup, model="eliza")],
        breaker(),
    )
    openai_api.inject(Fault(delay_s=2.0))  # a timeout
    assert "".join(await collect(llm.respond(QUESTION))) == "The backup answers."
    openai_api.inject(Fault(status=500))
    assert "".join(await collect(llm.respond(QUESTION))) == "The backup answers."
    assert len(backup.requests) == 2
    # Healthy again: the primary serves.
    openai_api.chat_reply = "OpenAI answers."
    assert "".join(await collect(llm.respond(QUESTION))) == "OpenAI answers."
    assert len(backup.requests) == 2


async def test_no_failover_once_output_started_and_the_error_says_why() -> None:
    primary = Scripted("One two three four.", fail=TRANSIENT, after=2)
    backup = Scripted()
    llm = failover(cand("openai", primary), cand("local", backup, model="eliza"))
    seen: list[str] = []
    with pytest.raises(ProviderError, match="after its output began") as failed:
        async for delta in llm.respond(QUESTION):
            seen.append(delta)
    assert seen == ["One", " two"]
    assert not backup.requests
    assert not failed.value.transient


async def test_a_non_transient_failure_is_raised_at_once() -> None:
    refused = ProviderError("HTTP 400: unsupported_value", transient=False)
    backup = Scripted()
    llm = failover(cand("openai", Scripted(fail=refused)), cand("local", backup))
    with pytest.raises(ProviderError, match="unsupported_value"):
        await collect(llm.respond(QUESTION))
    assert not backup.requests


async def test_the_sender_learns_only_when_every_provider_failed() -> None:
    llm = failover(
        cand("openai", Scripted(fail=TRANSIENT)),
        cand("local", Scripted(fail=ProviderError("local crashed", transient=True))),
    )
    with pytest.raises(AllProvidersFailed, match=r"openai: .*timed out; local: local crashed"):
        await collect(llm.respond(QUESTION))


async def test_a_provider_that_keeps_failing_is_skipped_for_its_cool_down() -> None:
    clock = [0.0]
    shared = breaker(failures=2, clock=clock)
    primary, backup = Scripted(fail=TRANSIENT), Scripted("Backup.")
    llm = failover(cand("openai", primary), cand("local", backup), shared=shared)
    for _ in range(2):
        await collect(llm.respond(QUESTION))
    assert len(primary.requests) == 2
    await collect(llm.respond(QUESTION))  # open: the primary is not tried
    assert (len(primary.requests), len(backup.requests)) == (2, 3)
    clock[0] = 31.0  # the cool-down is over: tried again, and it recovered
    primary.fail = None
    assert "".join(await collect(llm.respond(QUESTION))) == "Sunny all day."
    assert len(primary.requests) == 3


async def test_every_provider_cooling_down_is_still_tried() -> None:
    clock = [0.0]
    shared = breaker(failures=1, clock=clock)
    shared.failed("openai")
    shared.failed("local")
    llm = failover(cand("openai", Scripted("Still here.")), cand("local", Scripted()),
                   shared=shared)  # fmt: skip
    assert "".join(await collect(llm.respond(QUESTION))) == "Still here."


# -- speech to text: the fallback hears the whole utterance ---------------------------------------


class HalfThenFail(NothingToClose):
    def __init__(self) -> None:
        self.read = 0

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        async for chunk in audio:
            self.read += len(chunk)
            if self.read >= 300:
                raise ProviderError("OpenAI transcription: connection reset", transient=True)
        return Transcript("never")


class Counting(NothingToClose):
    def __init__(self) -> None:
        self.models: list[str] = []

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        self.models.append(request.model)
        size = 0
        async for chunk in audio:
            size += len(chunk)
        return Transcript(f"{size} bytes")


async def test_stt_fallback_hears_the_utterance_from_its_start() -> None:
    async def audio() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"\x01\x00" * 50

    primary, backup = HalfThenFail(), Counting()
    stt = FallbackSpeechToText(
        [cand("openai", primary), cand("local", backup, model="pocketsphinx-en-us")],
        breaker(),
    )
    transcript = await stt.transcribe(audio(), SttRequest("gpt-transcribe", "en-US", 16000))
    assert transcript.text == "1000 bytes"
    assert primary.read == 300 and backup.models == ["pocketsphinx-en-us"]


# -- text to speech --------------------------------------------------------------------------------


class Tts(NothingToClose):
    def __init__(self, fail: ProviderError | None = None) -> None:
        self.fail = fail
        self.requests: list[TtsRequest] = []

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        yield PcmChunk(b"\x00\x00" * 10, 16000)


async def test_tts_fallback_speaks_with_its_own_model_and_voice() -> None:
    primary = Tts(ProviderError("OpenAI speech: HTTP 503", transient=True))
    backup = Tts()
    tts = FallbackTextToSpeech(
        [
            cand("openai", primary),
            cand("local", backup, model="espeak-ng", voice="en-us"),
        ],
        breaker(),
    )
    request = TtsRequest("gpt-4o-mini-tts", "ballad", "en-US", "unspecified", 1.0, 24000)
    chunks = await collect(tts.synthesize("Hello.", request))
    assert len(chunks) == 1
    assert (backup.requests[0].model, backup.requests[0].voice) == ("espeak-ng", "en-us")


# -- configuration and the registry ----------------------------------------------------------------


def test_the_chain_starts_with_the_sessions_provider() -> None:
    config = FallbackConfig.from_env({"METAHUMAN_LLM_FALLBACK": " openai, aws ,local,openai"})
    assert config.chain("llm", "aws") == ("aws", "openai", "local")
    assert config.chain("llm", "azure") == ("azure",)
    assert config.chain("stt", "openai") == ("openai",)


def test_the_registry_wraps_listed_providers_with_their_fallbacks_defaults() -> None:
    made: dict[str, Scripted] = {}

    def factory(name: str) -> Callable[[Mapping[str, str]], Scripted]:
        def build(env: Mapping[str, str]) -> Scripted:
            made[name] = Scripted(name)
            return made[name]

        return build

    registry = ProviderRegistry(
        {"METAHUMAN_LLM_FALLBACK": "openai,aws"},
        factories={"llm": {"openai": factory("openai"), "aws": factory("aws")}},
    )
    wrapped = registry.llm("openai")
    assert isinstance(wrapped, FallbackLanguageModel)
    assert registry.llm("openai") is wrapped
    names = [(c.name, c.model) for c in wrapped.candidates]
    assert names == [("openai", None), ("aws", LLM["aws"].default_model)]
    assert not isinstance(registry.llm("local"), FallbackLanguageModel)
    assert TTS["local"].default_voice  # the catalog gives fallbacks a voice
