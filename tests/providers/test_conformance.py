"""What every provider must do, checked once for all of them against their fakes.

One row of ``ENTRIES`` per provider: its stage, its contract name, the class the registry must
build, how to start its fake (``tests/fakes/upstreams.py``; None: it runs in-process and needs
no credentials), and the model/voice to ask for. Adding a provider is one module, one registry
line, one fake, and one row here. What is particular to a provider (its wire format, SSML, event
frames, signatures...) stays in its own ``test_<stage>_<name>.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from generated.catalog import CATALOG, LLM
from generated.models import LlmProvider, SttProvider, TtsProvider
from generated.models import Stage as ContractStage
from handlers.providers.base import (
    ChatMessage,
    LlmRequest,
    ProviderError,
    ProviderUnavailable,
    Stage,
    SttRequest,
    TtsRequest,
)
from handlers.providers.llm.aws import BedrockLanguageModel
from handlers.providers.llm.azure import AzureOpenAILanguageModel
from handlers.providers.llm.gateways import (
    AiGamesLanguageModel,
    BayerLanguageModel,
    ClarityLanguageModel,
)
from handlers.providers.llm.local import LocalLanguageModel
from handlers.providers.llm.openai import OpenAILanguageModel
from handlers.providers.registry import PROVIDER_PATHS, ProviderRegistry
from handlers.providers.stt.aws import AwsSpeechToText
from handlers.providers.stt.google import GoogleSpeechToText
from handlers.providers.stt.local import LocalSpeechToText
from handlers.providers.stt.mistral import MistralSpeechToText
from handlers.providers.stt.openai import OpenAISpeechToText
from handlers.providers.tts.aws import PollyTextToSpeech
from handlers.providers.tts.azure import AzureTextToSpeech
from handlers.providers.tts.google import GoogleTextToSpeech
from handlers.providers.tts.local import LocalTextToSpeech
from handlers.providers.tts.openai import OpenAITextToSpeech
from tests.fakes import upstreams
from tests.fakes.aws_common import clip, isolate_from_local_aws
from tests.fakes.common import (
    FAST_POLICY,
    Builders,
    ProviderBuilder,
    collect,
    pcm_chunks,
)
from tests.fakes.upstreams import Upstream, UpstreamFactory

CHIRP3_HD_VOICE = "en-US-Chirp3-HD-Charon"


@dataclass(frozen=True)
class Entry:
    stage: Stage
    name: str
    """The contract's name for it: the registry key and the generated enum value."""
    cls: type[Any]
    upstream: UpstreamFactory | None
    model: str = "default"
    voice: str = "default"

    def __str__(self) -> str:
        return f"{self.stage}/{self.name}"


ENTRIES = (
    Entry("stt", "local", LocalSpeechToText, None, model="pocketsphinx-en-us"),
    Entry("stt", "openai", OpenAISpeechToText, upstreams.openai, model="whisper-1"),
    Entry("stt", "aws", AwsSpeechToText, upstreams.transcribe),
    Entry("stt", "google", GoogleSpeechToText, upstreams.google_speech),
    Entry("stt", "mistral", MistralSpeechToText, upstreams.mistral, model="voxtral-mini-latest"),
    Entry("llm", "local", LocalLanguageModel, None, model="eliza"),
    Entry("llm", "openai", OpenAILanguageModel, upstreams.openai, model="gpt-4o-mini"),
    Entry("llm", "aws", BedrockLanguageModel, upstreams.bedrock, model=LLM["aws"].default_model),
    Entry("llm", "azure", AzureOpenAILanguageModel, upstreams.azure_openai, model="gpt-4o"),
    Entry("llm", "aigames", AiGamesLanguageModel, upstreams.aigames, model="ATLAS"),
    Entry("llm", "clarity", ClarityLanguageModel, upstreams.clarity),
    Entry("llm", "bayer", BayerLanguageModel, upstreams.bayer, model="GPT-4o mini"),
    Entry("tts", "local", LocalTextToSpeech, None, model="espeak-ng", voice="en-us"),
    Entry("tts", "openai", OpenAITextToSpeech, upstreams.openai, model="tts-1", voice="alloy"),
    Entry("tts", "aws", PollyTextToSpeech, upstreams.polly, voice="Joanna"),
    Entry("tts", "azure", AzureTextToSpeech, upstreams.azure_speech, voice="en-US-JennyNeural"),
    # A Chirp 3 HD voice: the streaming RPC, which a listener who stops early can cancel.
    Entry("tts", "google", GoogleTextToSpeech, upstreams.google_speech, voice=CHIRP3_HD_VOICE),
)
CLOUD = tuple(entry for entry in ENTRIES if entry.upstream is not None)
CONTRACT_ENUMS = {"stt": SttProvider, "llm": LlmProvider, "tts": TtsProvider}

SPEECH = clip("what_is_the_weather_like_today.wav")
TEXT = "Hello, how are you?"
QUESTION = "What is the weather like today?"


# -- driving any provider through its stage's public method -------------------------------


def stt_request(entry: Entry) -> SttRequest:
    return SttRequest(model=entry.model, language="en-US", sample_rate=SPEECH.sample_rate)


def llm_request(entry: Entry) -> LlmRequest:
    return LlmRequest(
        model=entry.model,
        instructions="You are a friendly digital human.",
        messages=(ChatMessage("user", QUESTION),),
    )


def tts_request(entry: Entry) -> TtsRequest:
    return TtsRequest(
        model=entry.model,
        voice=entry.voice,
        language="en-US",
        ssml_gender="unspecified",
        speed=1.0,
        sample_rate=16_000,
    )


def output_stream(provider: Any, entry: Entry) -> AsyncIterator[Any]:
    """The stream an LLM or TTS provider answers with."""
    if entry.stage == "llm":
        return provider.respond(llm_request(entry))  # type: ignore[no-any-return]
    return provider.synthesize(TEXT, tts_request(entry))  # type: ignore[no-any-return]


async def run(provider: Any, entry: Entry) -> str | bytes:
    """The transcript, the reply, or the audio (checked to be whole 16-bit samples)."""
    if entry.stage == "stt":
        transcript = await provider.transcribe(pcm_chunks(SPEECH.pcm), stt_request(entry))
        assert transcript.language == "en-US"
        return str(transcript.text)
    items = await collect(output_stream(provider, entry))
    if entry.stage == "llm":
        return "".join(items)
    assert items and all(len(chunk.pcm) % 2 == 0 and chunk.pcm for chunk in items)
    return b"".join(chunk.pcm for chunk in items)


@pytest.fixture
async def upstream(entry: Entry, tmp_path: Path) -> AsyncIterator[Upstream]:
    assert entry.upstream is not None
    async with entry.upstream(tmp_path) as started:
        yield started


@pytest.fixture
def build(entry: Entry, upstream: Upstream, builders: Builders) -> ProviderBuilder[Any]:
    return builders(entry.cls.from_env, upstream.env)


# -- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_happy_path_returns_what_the_service_sent(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    result = await run(build(), entry)

    expected = SPEECH.text if entry.stage == "stt" else upstream.answered()
    assert result == expected
    assert upstream.attempts == 1


def with_contract_defaults(entry: Entry) -> Entry:
    """``entry`` asking for what a new session gets: the contract's default model and voice."""
    row = CATALOG[ContractStage(entry.stage)][entry.name]
    voice = row.default_voice if row.default_voice is not None else entry.voice
    return replace(entry, model=row.default_model, voice=voice)


@pytest.mark.parametrize("entry", [with_contract_defaults(e) for e in CLOUD], ids=str)
async def test_the_contracts_default_model_and_voice_are_served(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    # A new session asks for these: the fakes refuse what the real APIs refuse, so a default the
    # provider does not serve fails here, not on a user's first turn.
    result = await run(build(), entry)

    assert result == (SPEECH.text if entry.stage == "stt" else upstream.answered())


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.upstream is None], ids=str)
async def test_happy_path_in_process(entry: Entry) -> None:
    provider = entry.cls.from_env({})
    try:
        result = await run(provider, entry)
    finally:
        await provider.aclose()

    if entry.stage == "stt":
        assert result == SPEECH.text
    else:
        assert len(result) > 0


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_timeout_is_a_transient_provider_error(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    upstream.hang()
    provider = build(METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")
    started = time.monotonic()

    with pytest.raises(ProviderError) as caught:
        await run(provider, entry)

    assert caught.value.transient
    assert upstream.timeout_text in str(caught.value)
    assert upstream.attempts == 1
    # The configured 0.3 s ended the call, not the 30 s default: a bound far from both, so a
    # loaded CI machine (client set-up, gRPC channels) cannot fail it.
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_429_then_success(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    upstream.fail(429, times=1)

    result = await run(build(METAHUMAN_PROVIDER_MAX_RETRIES="2"), entry)

    assert result == (SPEECH.text if entry.stage == "stt" else upstream.answered())
    assert upstream.attempts == 2


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_500_is_a_transient_provider_error_after_the_retries(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    upstream.fail(500, times=None)

    with pytest.raises(ProviderError) as caught:
        await run(build(METAHUMAN_PROVIDER_MAX_RETRIES="1"), entry)

    assert caught.value.transient
    assert upstream.server_error_text in str(caught.value)
    assert upstream.attempts == 2  # the first try and one retry
    assert not any(secret in str(caught.value) for secret in upstream.secrets)


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_missing_credential_is_unavailable_and_names_the_variable(
    entry: Entry, upstream: Upstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_from_local_aws(monkeypatch, tmp_path)

    env = {**FAST_POLICY, **upstream.without_credential()}

    with pytest.raises(ProviderUnavailable) as caught:
        entry.cls.from_env(env)
    reason = await ProviderRegistry(env).unavailable_reason(entry.stage, entry.name)

    for said in (str(caught.value), reason):
        assert said is not None and upstream.credential in said
        assert not any(secret in said for secret in upstream.secrets)


@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
def test_registry_names_are_the_contracts(stage: Stage) -> None:
    contract = {member.value for member in CONTRACT_ENUMS[stage]}
    assert set(PROVIDER_PATHS[stage]) == contract
    assert set(CATALOG[ContractStage(stage)]) == contract
    assert {entry.name for entry in ENTRIES if entry.stage == stage} == contract


@pytest.mark.parametrize("entry", ENTRIES, ids=str)
async def test_the_registry_builds_it_under_its_contract_name(entry: Entry, tmp_path: Path) -> None:
    if entry.upstream is None:
        provider = await registry_build(ProviderRegistry({}), entry)
        assert type(provider) is entry.cls
        return
    async with entry.upstream(tmp_path) as started:
        provider = await registry_build(ProviderRegistry(started.env), entry)
        try:
            assert type(provider) is entry.cls
        finally:
            await provider.aclose()


@pytest.mark.parametrize("entry", CLOUD, ids=str)
async def test_cancel_mid_stream_closes_the_upstream_call(
    entry: Entry, upstream: Upstream, build: ProviderBuilder[Any]
) -> None:
    provider = build()
    if entry.stage == "stt":
        await cancel_a_transcription(provider, entry, upstream)
    else:
        upstream.slow_down()
        stream = output_stream(provider, entry)
        assert isinstance(stream, AsyncGenerator)
        first = await asyncio.wait_for(anext(stream), 5)
        await stream.aclose()  # the session moved on (barge-in)
        upstream.release()
        answered = upstream.answered()
        assert answered.startswith(first if entry.stage == "llm" else first.pcm)

    # The fake notices the client leave before its answer was complete (it sends no more).
    await asyncio.wait_for(upstream.hung_up.wait(), 5)


async def cancel_a_transcription(provider: Any, entry: Entry, upstream: Upstream) -> None:
    audio_received = upstream.audio_received
    if audio_received is None:
        # The audio is uploaded after the utterance: cancel while the service works on it.
        upstream.hang()
        audio = pcm_chunks(SPEECH.pcm)
    else:
        audio = endless_microphone()
    turn = asyncio.create_task(provider.transcribe(audio, stt_request(entry)))
    if audio_received is None:
        while upstream.attempts == 0:  # noqa: ASYNC110 (the fakes count calls, no event)
            await asyncio.sleep(0.01)
    else:
        await asyncio.wait_for(audio_received.wait(), 5)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn


async def endless_microphone() -> AsyncIterator[bytes]:
    yield SPEECH.pcm[:3200]
    await asyncio.Event().wait()  # the person never stops speaking
    yield b""


async def registry_build(registry: ProviderRegistry, entry: Entry) -> Any:
    # The registry's getters may become async (building off the event loop); accept both.
    built = getattr(registry, entry.stage)(entry.name)
    return await built if inspect.isawaitable(built) else built
