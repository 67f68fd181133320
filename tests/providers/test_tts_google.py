"""GoogleTextToSpeech against a local gRPC server speaking Google's TextToSpeech v1 protocol."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.cloud import texttospeech

from handlers.providers.base import PcmChunk, ProviderError, ProviderUnavailable, TtsRequest
from handlers.providers.tts.google import GoogleTextToSpeech
from tests.fakes.google_speech import Failures, GoogleSpeechFake, fixture

RATE = 24000
Gender = texttospeech.SsmlVoiceGender


@pytest.fixture
def google_speech(google_speech: GoogleSpeechFake) -> GoogleSpeechFake:
    # A longer answer than the fake's default: more pieces to stream.
    google_speech.served = fixture("what_is_the_weather_like_today.wav")
    return google_speech


def tts_request(**changes: object) -> TtsRequest:
    fields: dict[str, object] = {
        "model": "default",
        "voice": "default",
        "language": "en-US",
        "ssml_gender": "unspecified",
        "speed": 1.0,
        "sample_rate": 48000,
    }
    fields.update(changes)
    return TtsRequest(**fields)  # type: ignore[arg-type]


def env_for(google_speech: GoogleSpeechFake, **extra: str) -> dict[str, str]:
    return {
        "GOOGLE_TTS_ENDPOINT": google_speech.endpoint,
        "METAHUMAN_PROVIDER_TIMEOUT_S": "5",
        **extra,
    }


async def synthesize(env: dict[str, str], text: str, request: TtsRequest) -> list[PcmChunk]:
    provider = GoogleTextToSpeech.from_env(env)
    try:
        return [chunk async for chunk in provider.synthesize(text, request)]
    finally:
        await provider.aclose()


async def test_default_voice_yields_the_served_pcm_without_the_wav_header(
    google_speech: GoogleSpeechFake,
) -> None:
    chunks = await synthesize(
        env_for(google_speech), "What is the weather like today?", tts_request()
    )

    (sent,) = google_speech.tts_requests
    assert sent.input.text == "What is the weather like today?"
    assert sent.voice.language_code == "en-US"
    assert sent.voice.name == ""  # "default" leaves the choice to Google
    assert sent.voice.ssml_gender == Gender.SSML_VOICE_GENDER_UNSPECIFIED
    assert sent.audio_config.audio_encoding == texttospeech.AudioEncoding.LINEAR16
    assert sent.audio_config.sample_rate_hertz == RATE
    assert sent.audio_config.speaking_rate == 1.0

    assert {chunk.sample_rate for chunk in chunks} == {RATE}
    assert b"".join(chunk.pcm for chunk in chunks) == google_speech.served_pcm
    assert not chunks[0].pcm.startswith(b"RIFF")
    # ~200 ms pieces, so the pipeline can stream them.
    assert len(chunks) > 5
    assert all(len(chunk.pcm) == 2 * RATE // 5 for chunk in chunks[:-1])


async def test_named_voice_gender_and_speed_reach_google(google_speech: GoogleSpeechFake) -> None:
    request = tts_request(voice="en-US-Neural2-F", ssml_gender="female", speed=1.25)
    chunks = await synthesize(env_for(google_speech), "Hi.", request)

    (sent,) = google_speech.tts_requests
    assert sent.voice.name == "en-US-Neural2-F"
    assert sent.voice.ssml_gender == Gender.FEMALE
    assert sent.audio_config.speaking_rate == 1.25
    assert b"".join(chunk.pcm for chunk in chunks) == google_speech.served_pcm


@pytest.mark.parametrize(
    ("gender", "expected"),
    [
        ("unspecified", Gender.SSML_VOICE_GENDER_UNSPECIFIED),
        ("neutral", Gender.NEUTRAL),
        ("male", Gender.MALE),
        ("female", Gender.FEMALE),
    ],
)
async def test_ssml_gender(google_speech: GoogleSpeechFake, gender: str, expected: Gender) -> None:
    await synthesize(env_for(google_speech), "Hi.", tts_request(ssml_gender=gender))
    assert google_speech.tts_requests[0].voice.ssml_gender == expected


async def test_chirp3_hd_voice_streams_headerless_pcm(google_speech: GoogleSpeechFake) -> None:
    request = tts_request(voice="en-US-Chirp3-HD-Charon", speed=0.9)
    chunks = await synthesize(env_for(google_speech), "Tell me more.", request)

    assert google_speech.tts_requests == []  # the streaming RPC, not SynthesizeSpeech
    (config,) = google_speech.stream_tts_configs
    assert config.voice.name == "en-US-Chirp3-HD-Charon"
    assert config.voice.language_code == "en-US"
    assert config.streaming_audio_config.audio_encoding == texttospeech.AudioEncoding.PCM
    assert config.streaming_audio_config.sample_rate_hertz == RATE
    assert config.streaming_audio_config.speaking_rate == pytest.approx(0.9)
    assert google_speech.stream_tts_texts == ["Tell me more."]

    # The fake sends pieces of odd sizes; every chunk must still hold whole samples.
    assert len(chunks) > 5
    assert all(len(chunk.pcm) % 2 == 0 and chunk.sample_rate == RATE for chunk in chunks)
    assert b"".join(chunk.pcm for chunk in chunks) == google_speech.served_pcm


async def test_resource_exhausted_then_success_is_retried(google_speech: GoogleSpeechFake) -> None:
    google_speech.failures = Failures(grpc.StatusCode.RESOURCE_EXHAUSTED, count=2)
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="2")
    chunks = await synthesize(env, "Hi.", tts_request())
    assert google_speech.calls == 3
    assert b"".join(chunk.pcm for chunk in chunks) == google_speech.served_pcm


async def test_streaming_unavailable_then_success_is_retried(
    google_speech: GoogleSpeechFake,
) -> None:
    google_speech.failures = Failures(grpc.StatusCode.UNAVAILABLE, count=1)
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="1")
    chunks = await synthesize(env, "Hi.", tts_request(voice="en-US-Chirp3-HD-Charon"))
    assert google_speech.calls == 2
    assert b"".join(chunk.pcm for chunk in chunks) == google_speech.served_pcm


async def test_internal_error_becomes_provider_error_after_retries(
    google_speech: GoogleSpeechFake,
) -> None:
    google_speech.failures = Failures(grpc.StatusCode.INTERNAL, count=10)
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="1")
    with pytest.raises(ProviderError, match="INTERNAL") as caught:
        await synthesize(env, "Hi.", tts_request())
    assert caught.value.transient
    assert google_speech.calls == 2


async def test_invalid_argument_is_not_retried(google_speech: GoogleSpeechFake) -> None:
    env = env_for(google_speech, METAHUMAN_PROVIDER_MAX_RETRIES="2")
    with pytest.raises(ProviderError, match="INVALID_ARGUMENT") as caught:
        await synthesize(env, "Hi.", tts_request(language="de-DE"))  # the fake wants en-US
    assert not caught.value.transient
    assert google_speech.calls == 1


async def test_timeout_of_the_unary_call(google_speech: GoogleSpeechFake) -> None:
    # The streaming RPC (a Chirp 3 HD voice) is a conformance check.
    voice = "default"
    google_speech.failures = Failures(delay_s=2.0)
    env = env_for(
        google_speech, METAHUMAN_PROVIDER_TIMEOUT_S="0.2", METAHUMAN_PROVIDER_MAX_RETRIES="0"
    )
    started = time.monotonic()
    with pytest.raises(ProviderError, match="timed out") as caught:
        await synthesize(env, "Hi.", tts_request(voice=voice))
    assert caught.value.transient
    assert time.monotonic() - started < 1.5


async def test_unknown_model_is_refused(google_speech: GoogleSpeechFake) -> None:
    with pytest.raises(ProviderError, match="model"):
        await synthesize(env_for(google_speech), "Hi.", tts_request(model="gpt-4o"))
    assert google_speech.calls == 0


# -- credentials (no network: nothing here may reach Google or a metadata server) -----------


def no_credentials_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CLOUDSDK_CONFIG": str(tmp_path), "NO_GCE_CHECK": "true", **extra}


@pytest.mark.parametrize("content", [None, "not json", '{"type": "nonsense"}'])
def test_unusable_credentials_file(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    env = no_credentials_env(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(path))
    with pytest.raises(ProviderUnavailable, match="GOOGLE_APPLICATION_CREDENTIALS"):
        GoogleTextToSpeech.from_env(env)


def test_service_account_file_is_accepted_offline(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "demo",
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": "tts@demo.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    env = no_credentials_env(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(path))
    assert isinstance(GoogleTextToSpeech.from_env(env), GoogleTextToSpeech)


def test_gcloud_application_default_file_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "application_default_credentials.json").write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "not-the-cloud-sdk-client.apps.googleusercontent.com",
                "client_secret": "x",
                "refresh_token": "y",
            }
        )
    )
    assert isinstance(GoogleTextToSpeech.from_env(no_credentials_env(tmp_path)), GoogleTextToSpeech)
