"""PollyTextToSpeech against a loopback Polly endpoint speaking Polly's REST-JSON protocol."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers.providers.base import PcmChunk, ProviderError, ProviderUnavailable, TtsRequest
from handlers.providers.tts.aws import (
    NEURAL_VOICES,
    STANDARD_ONLY_VOICES,
    PollyTextToSpeech,
    choose_engine,
    split_text,
)
from tests.fakes.aws_common import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    aws_env,
    clip,
    isolate_from_local_aws,
)
from tests.fakes.aws_polly import FakePolly
from tests.fakes.common import collect

WEATHER = clip("what_is_the_weather_like_today.wav")


def provider(polly: FakePolly, **env: str) -> PollyTextToSpeech:
    return PollyTextToSpeech.from_env(aws_env(AWS_ENDPOINT_URL_POLLY=polly.endpoint, **env))


def request(voice: str = "Joanna", model: str = "default") -> TtsRequest:
    return TtsRequest(
        model=model,
        voice=voice,
        language="en-US",
        ssml_gender="unspecified",
        speed=1.0,
        sample_rate=24000,
    )


async def test_streams_polly_pcm_as_16_khz_chunks(polly: FakePolly) -> None:
    chunks = await collect(provider(polly).synthesize(WEATHER.text, request()))

    [call] = polly.calls
    assert call.problem is None  # SigV4 scope (key, region, polly), pcm, "16000", text
    assert call.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert f"/{REGION}/polly/aws4_request" in call.headers["Authorization"]
    assert call.body == {
        "Engine": "neural",
        "OutputFormat": "pcm",
        "SampleRate": "16000",
        "Text": WEATHER.text,
        "TextType": "text",
        "VoiceId": "Joanna",
    }
    assert b"".join(c.pcm for c in chunks) == call.served == WEATHER.pcm
    assert {c.sample_rate for c in chunks} == {16000}
    assert len(chunks) > 10 and all(len(c.pcm) % 2 == 0 for c in chunks)


async def test_yields_audio_before_polly_has_sent_it_all(polly: FakePolly) -> None:
    polly.gate = asyncio.Event()
    stream = provider(polly).synthesize(WEATHER.text, request())

    first = await asyncio.wait_for(anext(stream), 2)  # the fake holds the rest back meanwhile
    polly.gate.set()
    rest = await collect(stream)

    assert first.pcm + b"".join(c.pcm for c in rest) == WEATHER.pcm


@pytest.mark.parametrize(
    ("voice", "model", "engine"),
    [
        ("Joanna", "default", "neural"),
        ("Kevin", "", "neural"),
        ("Celine", "default", "standard"),
        ("Aditi", "default", "standard"),
        ("Joanna", "generative", "generative"),
        ("Ruth", "long-form", "long-form"),
        ("Matthew", "standard", "standard"),
        ("Jitka", "default", "neural"),  # not in the adapter's table: neural tried first
    ],
)
async def test_engine_per_voice(polly: FakePolly, voice: str, model: str, engine: str) -> None:
    chunks = await collect(provider(polly).synthesize("what time is it", request(voice, model)))

    assert [(c.body["VoiceId"], c.body["Engine"]) for c in polly.calls] == [(voice, engine)]
    assert b"".join(c.pcm for c in chunks) == clip("what_time_is_it.wav").pcm


async def test_unknown_standard_only_voice_falls_back_to_standard(polly: FakePolly) -> None:
    await collect(provider(polly).synthesize("what time is it", request("Zoltan")))

    assert [c.body["Engine"] for c in polly.calls] == ["neural", "standard"]


async def test_explicit_engine_the_voice_lacks_is_a_clear_error(polly: FakePolly) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider(polly).synthesize("hello", request("Celine", "neural")))

    assert not caught.value.transient
    assert str(caught.value) == "Polly voice Celine does not support the neural engine"
    assert len(polly.calls) == 1


async def test_unknown_engine_is_refused_before_calling_polly(polly: FakePolly) -> None:
    with pytest.raises(ProviderError, match="unknown Polly engine"):
        await collect(provider(polly).synthesize("hello", request(model="turbo")))
    assert polly.calls == []


async def test_stalled_audio_stream_times_out_after_the_first_chunks(polly: FakePolly) -> None:
    polly.scenarios = ["stall"]
    tts = provider(polly, METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")
    received: list[PcmChunk] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in tts.synthesize(WEATHER.text, request()):
            received.append(chunk)

    assert caught.value.transient
    assert received and b"".join(c.pcm for c in received) == WEATHER.pcm[: len(received) * 3200]


async def test_profile_credentials_from_the_default_chain(
    polly: FakePolly, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_from_local_aws(monkeypatch, tmp_path)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[voice]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    env = {"AWS_PROFILE": "voice", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": polly.endpoint}

    chunks = await collect(PollyTextToSpeech.from_env(env).synthesize(WEATHER.text, request()))

    assert polly.calls[0].problem is None
    assert b"".join(c.pcm for c in chunks) == WEATHER.pcm


def test_missing_region_is_unavailable() -> None:
    env = aws_env()
    del env["AWS_REGION"]
    with pytest.raises(ProviderUnavailable, match="AWS_REGION"):
        PollyTextToSpeech.from_env(env)


def test_voice_table_covers_each_contract_voice_once() -> None:
    assert not NEURAL_VOICES & STANDARD_ONLY_VOICES
    assert len(NEURAL_VOICES | STANDARD_ONLY_VOICES) == 95
    assert choose_engine("default", "Zeina") == ("standard", False)
    assert choose_engine("DEFAULT", "Zhiyu") == ("neural", False)


def test_long_text_is_split_at_sentences_within_polly_limit() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p) <= 3000 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text
