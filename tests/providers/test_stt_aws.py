"""AwsSpeechToText against a loopback Transcribe streaming endpoint (HTTP/2, TLS, event streams)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from handlers.audio import resample_pcm16
from handlers.providers.base import ProviderError, ProviderUnavailable, SttRequest
from handlers.providers.stt.aws import AwsSpeechToText
from tests.fakes.aws_common import (
    SECRET_ACCESS_KEY,
    aws_env,
    clip,
)
from tests.fakes.aws_transcribe import FakeTranscribeStreaming

HISTORY = "tell_me_about_the_history_of.wav"
WEATHER = "what_is_the_weather_like_today.wav"


def provider(transcribe: FakeTranscribeStreaming, **env: str) -> AwsSpeechToText:
    return AwsSpeechToText.from_env(
        aws_env(
            AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING=transcribe.endpoint,
            AWS_CA_BUNDLE=str(transcribe.ca_file),
            **env,
        )
    )


async def chunks(pcm: bytes, size: int = 3200) -> AsyncIterator[bytes]:
    """The audio as a client streams it: one chunk at a time, the loop free in between."""
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]
        await asyncio.sleep(0)


def request(sample_rate: int = 16000, language: str = "en-US") -> SttRequest:
    return SttRequest(model="", language=language, sample_rate=sample_rate)


async def test_streams_signed_audio_and_joins_the_final_results(
    transcribe: FakeTranscribeStreaming,
) -> None:
    speech = clip(HISTORY)
    transcript = await provider(transcribe).transcribe(chunks(speech.pcm), request())

    [session] = transcribe.sessions
    assert session.problem is None  # path, SigV4 scope, language, 16 kHz, pcm
    assert bytes(session.pcm) == speech.pcm and session.exact_match
    assert session.audio_events > 1 and session.audio_ended
    assert session.bad_signatures == 0  # every event signed in the chain with the right secret
    assert session.partials_sent >= 1 and session.finals_sent == 3
    assert transcript.text == speech.text  # the three final segments, joined; partials ignored
    assert transcript.language == "en-US"


async def test_other_audio_gives_other_words(transcribe: FakeTranscribeStreaming) -> None:
    speech = clip(WEATHER)
    transcript = await provider(transcribe).transcribe(chunks(speech.pcm, 1001), request())

    assert bytes(transcribe.sessions[0].pcm) == speech.pcm  # odd-sized chunks arrive whole-sample
    assert transcript.text == "what is the weather like today"


async def test_resamples_other_rates_to_16_khz(transcribe: FakeTranscribeStreaming) -> None:
    speech = clip(WEATHER)
    at_48k = resample_pcm16(speech.pcm, 16000, 48000)

    transcript = await provider(transcribe).transcribe(chunks(at_48k, 9600), request(48000))

    [session] = transcribe.sessions
    assert session.problem is None  # the header still says 16000
    assert abs(len(session.pcm) - len(speech.pcm)) <= 64
    assert session.clip == speech and not session.exact_match
    assert transcript.text == speech.text


async def test_sends_the_request_language(transcribe: FakeTranscribeStreaming) -> None:
    transcribe.expected_language = "en-GB"
    speech = clip(WEATHER)

    transcript = await provider(transcribe).transcribe(
        chunks(speech.pcm), request(language="en-GB")
    )

    assert transcribe.sessions[0].problem is None
    assert transcript.language == "en-GB"


async def test_exception_event_mid_stream_is_a_provider_error(
    transcribe: FakeTranscribeStreaming,
) -> None:
    transcribe.scenarios = ["exception_event"]

    with pytest.raises(ProviderError) as caught:
        await provider(transcribe).transcribe(chunks(clip(HISTORY).pcm), request())

    assert not caught.value.transient
    assert "BadRequestException" in str(caught.value)


async def test_wrong_secret_fails_the_event_signatures(transcribe: FakeTranscribeStreaming) -> None:
    stt = provider(transcribe, AWS_SECRET_ACCESS_KEY="not-the-fake-secret")

    with pytest.raises(ProviderError) as caught:
        await stt.transcribe(chunks(clip(WEATHER).pcm), request())

    assert transcribe.sessions[0].bad_signatures == 1
    assert "not-the-fake-secret" not in str(caught.value)
    assert SECRET_ACCESS_KEY not in str(caught.value)


def test_missing_region_is_unavailable() -> None:
    env = aws_env()
    del env["AWS_REGION"]
    with pytest.raises(ProviderUnavailable, match="AWS_REGION"):
        AwsSpeechToText.from_env(env)
