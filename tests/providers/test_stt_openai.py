"""OpenAISpeechToText against the local fake's /v1/audio/transcriptions, with the real SDK.

The fake answers with the manifest text of the shared recording it finds in the uploaded WAV,
so these tests fail if the adapter uploads the wrong audio, a broken WAV or the wrong rate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from handlers.audio import parse_wav
from handlers.providers.base import ProviderError, ProviderUnavailable, SttRequest
from handlers.providers.registry import ProviderRegistry
from handlers.providers.stt.openai import OpenAISpeechToText, iso_639_1
from tests.fakes.common import ProviderBuilder, pcm_chunks
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., OpenAISpeechToText]
WEATHER = "what_is_the_weather_like_today.wav"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIApi]:
    async with FakeOpenAIApi() as api:
        yield api


@pytest.fixture
async def build(fake: FakeOpenAIApi) -> AsyncIterator[Build]:
    builder = ProviderBuilder(
        OpenAISpeechToText.from_env,
        {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.url + "/v1"},
    )
    yield builder
    await builder.aclose()


def stt_request(model: str, language: str = "en-US", rate: int = 16_000) -> SttRequest:
    return SttRequest(model=model, language=language, sample_rate=rate)


async def test_whisper_uploads_the_utterance_as_wav_and_returns_its_text(
    fake: FakeOpenAIApi, build: Build
) -> None:
    pcm = fake.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what is the weather like today"
    assert transcript.language == "en-US"
    (seen,) = fake.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.bearer_token == fake.api_key
    assert seen.form["model"] == "whisper-1"
    assert seen.form["language"] == "en"
    assert seen.form.get("stream") != "true"  # whisper-1 does not stream
    upload = seen.files["file"]
    assert upload.filename.endswith(".wav")
    assert parse_wav(upload.data) == (pcm, 16_000)


@pytest.mark.parametrize(
    ("contract_model", "api_model"),
    [
        ("gpt-4o-transcribe", "gpt-4o-transcribe"),
        ("gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe"),
        ("gpt_4o_mini_transcribe", "gpt-4o-mini-transcribe"),  # the contract's seed spelling
    ],
)
async def test_gpt_4o_models_stream_their_transcript(
    fake: FakeOpenAIApi, build: Build, contract_model: str, api_model: str
) -> None:
    pcm = fake.clips.pcm("please_tell_me_a_joke.wav")

    transcript = await build().transcribe(pcm_chunks(pcm, 4000), stt_request(contract_model))

    assert transcript.text == "please tell me a joke"
    (seen,) = fake.requests
    assert seen.form["model"] == api_model
    assert seen.form["stream"] == "true"


async def test_other_rates_and_odd_chunks_are_uploaded_faithfully(
    fake: FakeOpenAIApi, build: Build
) -> None:
    pcm = fake.clips.pcm("tell_me_about_the_history_of.wav", 24_000)

    transcript = await build().transcribe(
        pcm_chunks(pcm, 333), stt_request("gpt-4o-transcribe", rate=24_000)
    )

    assert transcript.text == fake.clips.text("tell_me_about_the_history_of.wav")
    assert parse_wav(fake.requests[0].files["file"].data) == (pcm, 24_000)


async def test_different_audio_gives_a_different_transcript(
    fake: FakeOpenAIApi, build: Build
) -> None:
    pcm = fake.clips.pcm("what_time_is_it.wav")

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what time is it"


async def test_silence_too_short_to_upload_is_an_empty_transcript(
    fake: FakeOpenAIApi, build: Build
) -> None:
    transcript = await build().transcribe(pcm_chunks(b"\0" * 640, 320), stt_request("whisper-1"))

    assert transcript.text == ""
    assert fake.requests == []


def test_language_is_sent_as_iso_639_1() -> None:
    assert iso_639_1("en-US") == "en"
    assert iso_639_1("de") == "de"
    assert iso_639_1("pt_BR") == "pt"
    assert iso_639_1("yue-HK") is None  # not a two-letter code: let the model detect it


async def test_a_language_without_iso_639_1_code_is_left_to_detection(
    fake: FakeOpenAIApi, build: Build
) -> None:
    pcm = fake.clips.pcm("hello_how_are_you.wav")

    transcript = await build().transcribe(
        pcm_chunks(pcm, 3200), stt_request("whisper-1", language="yue-HK")
    )

    assert transcript.text == "hello how are you"
    assert "language" not in fake.requests[0].form


async def test_429_then_success(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(status=429, retry_after_ms=10), times=2)
    pcm = fake.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what is the weather like today"
    assert len(fake.requests) == 3
    assert all(parse_wav(r.files["file"].data)[0] == pcm for r in fake.requests)


async def test_500_is_a_transient_provider_error(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(status=500), times=None)
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        await build(METAHUMAN_PROVIDER_MAX_RETRIES="0").transcribe(
            pcm_chunks(pcm, 3200), stt_request("gpt-4o-transcribe")
        )

    assert caught.value.transient


async def test_timeout_is_a_transient_provider_error(fake: FakeOpenAIApi, build: Build) -> None:
    fake.inject(Fault(delay_s=5))
    provider = build(METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="timed out") as caught:
        await provider.transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert caught.value.transient


async def test_a_rejected_model_is_a_permanent_error(fake: FakeOpenAIApi, build: Build) -> None:
    pcm = fake.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-2"))

    assert not caught.value.transient
    assert len(fake.requests) == 1


def test_from_env_without_key_names_the_variable() -> None:
    with pytest.raises(ProviderUnavailable, match="OPENAI_API_KEY"):
        OpenAISpeechToText.from_env({})


async def test_the_registry_builds_it_under_its_contract_name(fake: FakeOpenAIApi) -> None:
    provider = ProviderRegistry({"OPENAI_API_KEY": fake.api_key}).stt("openai")
    assert isinstance(provider, OpenAISpeechToText)
    await provider.aclose()
