"""MistralSpeechToText against the local fake Mistral transcription API, real mistralai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from handlers.audio import parse_wav
from handlers.providers.base import ProviderError, ProviderUnavailable, SttRequest
from handlers.providers.registry import ProviderRegistry
from handlers.providers.stt.mistral import MistralSpeechToText
from tests.fakes.common import ProviderBuilder, pcm_chunks
from tests.fakes.mistral_api import FakeMistralApi
from tests.fakes.openai_api import Fault

Build = Callable[..., MistralSpeechToText]
WEATHER = "what_is_the_weather_like_today.wav"


@pytest.fixture
async def fake() -> AsyncIterator[FakeMistralApi]:
    async with FakeMistralApi() as api:
        yield api


@pytest.fixture
async def build(fake: FakeMistralApi) -> AsyncIterator[Build]:
    builder = ProviderBuilder(
        MistralSpeechToText.from_env,
        {"MISTRAL_API_KEY": fake.api_key, "MISTRAL_BASE_URL": fake.url},
    )
    yield builder
    await builder.aclose()


def stt_request(model: str = "voxtral-mini-latest", language: str = "en-US") -> SttRequest:
    return SttRequest(model=model, language=language, sample_rate=16_000)


async def test_uploads_the_utterance_and_returns_its_text(
    fake: FakeMistralApi, build: Build
) -> None:
    pcm = fake.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3201), stt_request())

    assert transcript.text == "what is the weather like today"
    assert transcript.language == "en-US"
    (seen,) = fake.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.bearer_token == fake.api_key
    assert seen.form["model"] == "voxtral-mini-latest"
    assert seen.form["language"] == "en"
    assert seen.files["file"].filename.endswith(".wav")
    assert parse_wav(seen.files["file"].data) == (pcm, 16_000)


async def test_voxtral_small_uses_its_transcription_model(
    fake: FakeMistralApi, build: Build
) -> None:
    pcm = fake.clips.pcm("please_tell_me_a_joke.wav")

    transcript = await build().transcribe(
        pcm_chunks(pcm, 4000), stt_request("voxtral-small-latest")
    )

    assert transcript.text == "please tell me a joke"
    assert fake.requests[0].form["model"] == "voxtral-small-transcribe-latest"


async def test_a_base_url_ending_in_v1_works_too(fake: FakeMistralApi, build: Build) -> None:
    pcm = fake.clips.pcm("what_time_is_it.wav")

    transcript = await build(MISTRAL_BASE_URL=fake.url + "/v1/").transcribe(
        pcm_chunks(pcm, 4000), stt_request()
    )

    assert transcript.text == "what time is it"
    assert fake.requests[0].path == "/v1/audio/transcriptions"


async def test_429_then_success(fake: FakeMistralApi, build: Build) -> None:
    fake.inject(Fault(status=429), times=2)
    pcm = fake.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 4000), stt_request())

    assert transcript.text == "what is the weather like today"
    assert len(fake.requests) == 3


async def test_500_is_a_transient_provider_error(fake: FakeMistralApi, build: Build) -> None:
    fake.inject(Fault(status=500), times=None)
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        await build(METAHUMAN_PROVIDER_MAX_RETRIES="1").transcribe(
            pcm_chunks(pcm, 4000), stt_request()
        )

    assert caught.value.transient
    assert len(fake.requests) == 2


async def test_timeout_is_a_transient_provider_error(fake: FakeMistralApi, build: Build) -> None:
    fake.inject(Fault(delay_s=5))
    provider = build(METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="timed out") as caught:
        await provider.transcribe(pcm_chunks(pcm, 4000), stt_request())

    assert caught.value.transient


async def test_a_wrong_key_is_permanent_and_not_in_the_message(
    fake: FakeMistralApi, build: Build
) -> None:
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await build(MISTRAL_API_KEY="wrong-mistral-key-77").transcribe(
            pcm_chunks(pcm, 4000), stt_request()
        )

    assert not caught.value.transient
    assert "wrong-mistral-key-77" not in str(caught.value)
    assert len(fake.requests) == 1


async def test_silence_too_short_to_upload_is_an_empty_transcript(
    fake: FakeMistralApi, build: Build
) -> None:
    transcript = await build().transcribe(pcm_chunks(b"", 320), stt_request())

    assert transcript.text == ""
    assert fake.requests == []


def test_from_env_without_key_names_the_variable() -> None:
    with pytest.raises(ProviderUnavailable, match="MISTRAL_API_KEY"):
        MistralSpeechToText.from_env({"MISTRAL_BASE_URL": "http://127.0.0.1:9"})


async def test_the_registry_builds_it_under_its_contract_name(fake: FakeMistralApi) -> None:
    provider = ProviderRegistry({"MISTRAL_API_KEY": fake.api_key}).stt("mistral")
    assert isinstance(provider, MistralSpeechToText)
    await provider.aclose()
