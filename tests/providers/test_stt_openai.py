"""OpenAISpeechToText against the local fake's /v1/audio/transcriptions, with the real SDK.

The fake answers with the manifest text of the shared recording it finds in the uploaded WAV,
so these tests fail if the adapter uploads the wrong audio, a broken WAV or the wrong rate.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.audio import parse_wav
from handlers.providers.base import ProviderError, SttRequest
from handlers.providers.stt.openai import OpenAISpeechToText, iso_639_1
from tests.fakes import upstreams
from tests.fakes.common import Builders, pcm_chunks
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., OpenAISpeechToText]
WEATHER = "what_is_the_weather_like_today.wav"


@pytest.fixture
def build(openai_api: FakeOpenAIApi, builders: Builders) -> Build:
    return builders(OpenAISpeechToText.from_env, upstreams.openai_env(openai_api))


def stt_request(model: str, language: str = "en-US", rate: int = 16_000) -> SttRequest:
    return SttRequest(model=model, language=language, sample_rate=rate)


async def test_whisper_uploads_the_utterance_as_wav_and_returns_its_text(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    pcm = openai_api.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what is the weather like today"
    assert transcript.language == "en-US"
    (seen,) = openai_api.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.bearer_token == openai_api.api_key
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
    openai_api: FakeOpenAIApi, build: Build, contract_model: str, api_model: str
) -> None:
    pcm = openai_api.clips.pcm("please_tell_me_a_joke.wav")

    transcript = await build().transcribe(pcm_chunks(pcm, 4000), stt_request(contract_model))

    assert transcript.text == "please tell me a joke"
    (seen,) = openai_api.requests
    assert seen.form["model"] == api_model
    assert seen.form["stream"] == "true"


async def test_other_rates_and_odd_chunks_are_uploaded_faithfully(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    pcm = openai_api.clips.pcm("tell_me_about_the_history_of.wav", 24_000)

    transcript = await build().transcribe(
        pcm_chunks(pcm, 333), stt_request("gpt-4o-transcribe", rate=24_000)
    )

    assert transcript.text == openai_api.clips.text("tell_me_about_the_history_of.wav")
    assert parse_wav(openai_api.requests[0].files["file"].data) == (pcm, 24_000)


async def test_different_audio_gives_a_different_transcript(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    pcm = openai_api.clips.pcm("what_time_is_it.wav")

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what time is it"


async def test_silence_too_short_to_upload_is_an_empty_transcript(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    transcript = await build().transcribe(pcm_chunks(b"\0" * 640, 320), stt_request("whisper-1"))

    assert transcript.text == ""
    assert openai_api.requests == []


def test_language_is_sent_as_iso_639_1() -> None:
    assert iso_639_1("en-US") == "en"
    assert iso_639_1("de") == "de"
    assert iso_639_1("pt_BR") == "pt"
    assert iso_639_1("yue-HK") is None  # not a two-letter code: let the model detect it


async def test_a_language_without_iso_639_1_code_is_left_to_detection(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    pcm = openai_api.clips.pcm("hello_how_are_you.wav")

    transcript = await build().transcribe(
        pcm_chunks(pcm, 3200), stt_request("whisper-1", language="yue-HK")
    )

    assert transcript.text == "hello how are you"
    assert "language" not in openai_api.requests[0].form


async def test_a_retry_after_429_uploads_the_same_audio(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    openai_api.inject(Fault(status=429, retry_after_ms=10), times=2)
    pcm = openai_api.clips.pcm(WEATHER)

    transcript = await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-1"))

    assert transcript.text == "what is the weather like today"
    assert len(openai_api.requests) == 3
    assert all(parse_wav(r.files["file"].data)[0] == pcm for r in openai_api.requests)


async def test_a_rejected_model_is_a_permanent_error(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    pcm = openai_api.clips.pcm(WEATHER)

    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        await build().transcribe(pcm_chunks(pcm, 3200), stt_request("whisper-2"))

    assert not caught.value.transient
    assert len(openai_api.requests) == 1
