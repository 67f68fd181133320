"""GoogleSpeechToText against a local gRPC server speaking Google's Speech v1 protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from handlers.audio import resample_pcm16
from handlers.providers.base import ProviderError, SttRequest
from handlers.providers.stt.google import GoogleSpeechToText
from tests.fakes.google_speech import Failures, GoogleSpeechFake, fixture

WEATHER = fixture("what_is_the_weather_like_today.wav")
JOKE = fixture("please_tell_me_a_joke.wav")


def env_for(google_speech: GoogleSpeechFake, **extra: str) -> dict[str, str]:
    return {
        "GOOGLE_STT_ENDPOINT": google_speech.endpoint,
        "METAHUMAN_PROVIDER_TIMEOUT_S": "5",
        **extra,
    }


async def chunked(pcm: bytes, chunk_bytes: int = 3200) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), chunk_bytes):
        yield pcm[start : start + chunk_bytes]


async def transcribe(
    env: dict[str, str],
    audio: AsyncIterator[bytes],
    *,
    model: str = "default",
    sample_rate: int = 16000,
) -> str:
    provider = GoogleSpeechToText.from_env(env)
    try:
        request = SttRequest(model=model, language="en-US", sample_rate=sample_rate)
        transcript = await provider.transcribe(audio, request)
    finally:
        await provider.aclose()
    assert transcript.language == "en-US"
    return transcript.text


async def test_final_results_are_joined_and_interim_ones_ignored(
    google_speech: GoogleSpeechFake,
) -> None:
    text = await transcribe(env_for(google_speech), chunked(WEATHER.pcm))

    assert text == "what is the weather like today"
    (streaming,) = google_speech.stt_configs
    assert streaming.config.language_code == "en-US"
    assert streaming.config.sample_rate_hertz == 16000
    assert streaming.config.model == ""  # "default": Google's choice
    assert google_speech.stt_audio == [WEATHER.pcm]
    assert not google_speech.call_cancelled.is_set()


async def test_other_rates_are_resampled_to_16_khz(google_speech: GoogleSpeechFake) -> None:
    audio_48k = resample_pcm16(JOKE.pcm, 16000, 48000)
    text = await transcribe(env_for(google_speech), chunked(audio_48k, 9600), sample_rate=48000)
    assert text == "please tell me a joke"
    assert abs(len(google_speech.stt_audio[0]) - len(JOKE.pcm)) <= 4


@pytest.mark.parametrize("model", ["latest_short", "latest_long"])
async def test_model_reaches_google(google_speech: GoogleSpeechFake, model: str) -> None:
    google_speech.expected_stt_model = model
    text = await transcribe(env_for(google_speech), chunked(JOKE.pcm), model=model)
    assert text == "please tell me a joke"


async def test_unknown_model_is_refused(google_speech: GoogleSpeechFake) -> None:
    with pytest.raises(ProviderError, match="model"):
        await transcribe(env_for(google_speech), chunked(JOKE.pcm), model="whisper-1")
    assert google_speech.calls == 0


async def test_audio_is_sent_while_it_arrives(google_speech: GoogleSpeechFake) -> None:
    """The rest of the audio comes only after the fake got the first chunk: no buffering."""

    async def microphone() -> AsyncIterator[bytes]:
        yield WEATHER.pcm[:3200]
        await asyncio.wait_for(google_speech.first_audio_received.wait(), timeout=5)
        async for chunk in chunked(WEATHER.pcm[3200:]):
            yield chunk

    assert (
        await transcribe(env_for(google_speech), microphone()) == "what is the weather like today"
    )


async def test_wrong_audio_gives_no_words(google_speech: GoogleSpeechFake) -> None:
    assert (
        await transcribe(env_for(google_speech), chunked(WEATHER.pcm[: len(WEATHER.pcm) // 2]))
        == ""
    )


async def test_resource_exhausted_then_success_replays_the_audio(
    google_speech: GoogleSpeechFake,
) -> None:
    google_speech.failures = Failures(grpc.StatusCode.RESOURCE_EXHAUSTED, count=2)
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="2")
    assert await transcribe(env, chunked(WEATHER.pcm)) == "what is the weather like today"
    assert google_speech.calls == 3
    assert google_speech.stt_audio[-1] == WEATHER.pcm


async def test_failure_while_the_person_speaks_is_retried_with_all_audio(
    google_speech: GoogleSpeechFake,
) -> None:
    """The first stream fails after part of the audio went out; the retry resends all of it."""
    google_speech.failures = Failures(grpc.StatusCode.UNAVAILABLE, count=1)
    half = len(WEATHER.pcm) // 2
    first_call_over = asyncio.Event()

    async def microphone() -> AsyncIterator[bytes]:
        async for chunk in chunked(WEATHER.pcm[:half]):
            yield chunk
        # Only go on once the retry has started, like a person still speaking.
        await asyncio.wait_for(first_call_over.wait(), timeout=5)
        async for chunk in chunked(WEATHER.pcm[half:]):
            yield chunk

    async def watch_calls() -> None:
        await google_speech.wait_for_calls(2)
        first_call_over.set()

    watcher = asyncio.create_task(watch_calls())
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="1")
    assert await transcribe(env, microphone()) == "what is the weather like today"
    await watcher
    assert google_speech.stt_audio[-1] == WEATHER.pcm


async def test_invalid_argument_is_not_retried(google_speech: GoogleSpeechFake) -> None:
    google_speech.expected_language = "fr-FR"
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="2")
    with pytest.raises(ProviderError, match="INVALID_ARGUMENT") as caught:
        await transcribe(env, chunked(WEATHER.pcm))
    assert not caught.value.transient
    assert google_speech.calls == 1


async def test_timeout_counts_from_the_end_of_the_audio(google_speech: GoogleSpeechFake) -> None:
    async def slow_speaker() -> AsyncIterator[bytes]:
        # Speaking takes longer than the timeout: that alone must not time out.
        for start in range(0, len(WEATHER.pcm), 16000):
            await asyncio.sleep(0.05)
            yield WEATHER.pcm[start : start + 16000]

    env = env_for(
        google_speech, METAHUMAN_PROVIDER_TIMEOUT_S="0.2", METAHUMAN_PROVIDER_MAX_RETRIES="0"
    )
    assert await transcribe(env, slow_speaker()) == "what is the weather like today"

    google_speech.failures = Failures(delay_s=2.0)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="timed out") as caught:
        await transcribe(env, chunked(WEATHER.pcm))
    assert caught.value.transient
    assert time.monotonic() - started < 1.5


async def test_an_error_in_the_audio_source_reaches_the_caller(
    google_speech: GoogleSpeechFake,
) -> None:
    class MicrophoneGone(Exception):
        pass

    async def broken_microphone() -> AsyncIterator[bytes]:
        yield WEATHER.pcm[:3200]
        raise MicrophoneGone

    with pytest.raises(MicrophoneGone):
        await transcribe(env_for(google_speech), broken_microphone())
