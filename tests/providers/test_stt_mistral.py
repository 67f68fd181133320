"""MistralSpeechToText against the local fake Mistral transcription API, real mistralai SDK."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.audio import parse_wav
from handlers.providers.base import ProviderError, SttRequest
from handlers.providers.stt.mistral import MistralSpeechToText
from tests.fakes.common import Builders, pcm_chunks
from tests.fakes.mistral_api import FakeMistralApi

Build = Callable[..., MistralSpeechToText]
WEATHER = "what_is_the_weather_like_today.wav"


@pytest.fixture
def build(mistral_api: FakeMistralApi, builders: Builders) -> Build:
    return builders(
        MistralSpeechToText.from_env,
        {"MISTRAL_API_KEY": mistral_api.api_key, "MISTRAL_BASE_URL": mistral_api.url},
    )


def stt_request(model: str = "voxtral-mini-latest", language: str = "en-US") -> SttRequest:
    return SttRequest(model=model, language=language, sample_rate=16_000)


async def test_uploads_the_utterance_and_returns_its_text(
    mistral_api: FakeMistralApi, build: Build
) -> None:
    pcm = mistral_api.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3201), stt_request())

    assert transcript.text == "what is the weather like today"
    assert transcript.language == "en-US"
    (seen,) = mistral_api.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.bearer_token == mistral_api.api_key
    assert seen.form["model"] == "voxtral-mini-latest"
    assert seen.form["language"] == "en"
    assert seen.files["file"].filename.endswith(".wav")
    assert parse_wav(seen.files["file"].data) == (pcm, 16_000)


async def test_voxtral_small_uses_its_transcription_model(
    mistral_api: FakeMistralApi, build: Build
) -> None:
    pcm = mistral_api.clips.pcm("please_tell_me_a_joke.wav")

    transcript = await build().transcribe(
        pcm_chunks(pcm, 4000), stt_request("voxtral-small-latest")
    )

    assert transcript.text == "please tell me a joke"
    assert mistral_api.requests[0].form["model"] == "voxtral-small-transcribe-latest"


async def test_a_base_url_ending_in_v1_works_too(mistral_api: FakeMistralApi, build: Build) -> None:
    pcm = mistral_api.clips.pcm("what_time_is_it.wav")

    transcript = await build(MISTRAL_BASE_URL=mistral_api.url + "/v1/").transcribe(
        pcm_chunks(pcm, 4000), stt_request()
    )

    assert transcript.text == "what time is it"
    assert mistral_api.requests[0].path == "/v1/audio/transcriptions"


async def test_a_wrong_key_is_permanent_and_not_in_the_message(
    mistral_api: FakeMistralApi, build: Build
) -> None:
    pcm = mistral_api.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await build(MISTRAL_API_KEY="wrong-mistral-key-77").transcribe(
            pcm_chunks(pcm, 4000), stt_request()
        )

    assert not caught.value.transient
    assert "wrong-mistral-key-77" not in str(caught.value)
    assert len(mistral_api.requests) == 1


async def test_silence_too_short_to_upload_is_an_empty_transcript(
    mistral_api: FakeMistralApi, build: Build
) -> None:
    transcript = await build().transcribe(pcm_chunks(b"", 320), stt_request())

    assert transcript.text == ""
    assert mistral_api.requests == []
