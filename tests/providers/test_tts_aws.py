"""PollyTextToSpeech against a loopback Polly endpoint speaking Polly's REST-JSON protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
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

WEATHER = clip("what_is_the_weather_like_today.wav")


@pytest.fixture
async def fake() -> AsyncIterator[FakePolly]:
    server = FakePolly()
    await server.start()
    yield server
    await server.stop()


def provider(fake: FakePolly, **env: str) -> PollyTextToSpeech:
    return PollyTextToSpeech.from_env(aws_env(AWS_ENDPOINT_URL_POLLY=fake.endpoint, **env))


def request(voice: str = "Joanna", model: str = "default") -> TtsRequest:
    return TtsRequest(
        model=model,
        voice=voice,
        language="en-US",
        ssml_gender="unspecified",
        speed=1.0,
        sample_rate=24000,
    )


async def collect(stream: AsyncIterator[PcmChunk]) -> list[PcmChunk]:
    return [chunk async for chunk in stream]


async def test_streams_polly_pcm_as_16_khz_chunks(fake: FakePolly) -> None:
    chunks = await collect(provider(fake).synthesize(WEATHER.text, request()))

    [call] = fake.calls
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


async def test_yields_audio_before_polly_has_sent_it_all(fake: FakePolly) -> None:
    fake.gate = asyncio.Event()
    stream = provider(fake).synthesize(WEATHER.text, request())

    first = await asyncio.wait_for(anext(stream), 2)  # the fake holds the rest back meanwhile
    fake.gate.set()
    rest = await collect(stream)

    assert first.pcm + b"".join(c.pcm for c in rest) == WEATHER.pcm


async def test_stopping_early_closes_the_polly_stream(fake: FakePolly) -> None:
    fake.gate = asyncio.Event()
    fake.pace_s = 0.02
    stream = provider(fake).synthesize(WEATHER.text, request())
    assert isinstance(stream, AsyncGenerator)

    await asyncio.wait_for(anext(stream), 2)
    await stream.aclose()  # the session moved on (barge-in)
    fake.gate.set()

    # The worker thread stops at its next read and closes the connection, which the
    # fake, still sending, notices: the rest of the audio is never read.
    await asyncio.wait_for(fake.calls[0].hung_up.wait(), 2)
    assert len(fake.calls[0].served) < len(WEATHER.pcm)


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
async def test_engine_per_voice(fake: FakePolly, voice: str, model: str, engine: str) -> None:
    chunks = await collect(provider(fake).synthesize("what time is it", request(voice, model)))

    assert [(c.body["VoiceId"], c.body["Engine"]) for c in fake.calls] == [(voice, engine)]
    assert b"".join(c.pcm for c in chunks) == clip("what_time_is_it.wav").pcm


async def test_unknown_standard_only_voice_falls_back_to_standard(fake: FakePolly) -> None:
    await collect(provider(fake).synthesize("what time is it", request("Zoltan")))

    assert [c.body["Engine"] for c in fake.calls] == ["neural", "standard"]


async def test_explicit_engine_the_voice_lacks_is_a_clear_error(fake: FakePolly) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider(fake).synthesize("hello", request("Celine", "neural")))

    assert not caught.value.transient
    assert str(caught.value) == "Polly voice Celine does not support the neural engine"
    assert len(fake.calls) == 1


async def test_unknown_engine_is_refused_before_calling_polly(fake: FakePolly) -> None:
    with pytest.raises(ProviderError, match="unknown Polly engine"):
        await collect(provider(fake).synthesize("hello", request(model="turbo")))
    assert fake.calls == []


async def test_throttling_is_retried(fake: FakePolly) -> None:
    fake.scenarios = ["throttle"]

    chunks = await collect(provider(fake).synthesize(WEATHER.text, request()))

    assert [c.scenario for c in fake.calls] == ["throttle", "ok"]
    assert b"".join(c.pcm for c in chunks) == WEATHER.pcm


async def test_server_error_raises_after_the_retries(fake: FakePolly) -> None:
    fake.scenarios = ["error500"] * 3
    polly = provider(fake, METAHUMAN_PROVIDER_MAX_RETRIES="1")

    with pytest.raises(ProviderError) as caught:
        await collect(polly.synthesize(WEATHER.text, request()))

    assert caught.value.transient
    assert "ServiceFailureException" in str(caught.value)
    assert len(fake.calls) == 2  # first try + one retry
    assert SECRET_ACCESS_KEY not in str(caught.value)


async def test_unanswered_request_times_out(fake: FakePolly) -> None:
    fake.scenarios = ["hang"]
    polly = provider(fake, METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")

    with pytest.raises(ProviderError) as caught:
        await collect(polly.synthesize(WEATHER.text, request()))

    assert caught.value.transient
    assert "ReadTimeout" in str(caught.value)


async def test_stalled_audio_stream_times_out_after_the_first_chunks(fake: FakePolly) -> None:
    fake.scenarios = ["stall"]
    polly = provider(fake, METAHUMAN_PROVIDER_TIMEOUT_S="0.3", METAHUMAN_PROVIDER_MAX_RETRIES="0")
    received: list[PcmChunk] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in polly.synthesize(WEATHER.text, request()):
            received.append(chunk)

    assert caught.value.transient
    assert received and b"".join(c.pcm for c in received) == WEATHER.pcm[: len(received) * 3200]


async def test_profile_credentials_from_the_default_chain(
    fake: FakePolly, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_from_local_aws(monkeypatch, tmp_path)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[voice]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    env = {"AWS_PROFILE": "voice", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": fake.endpoint}

    chunks = await collect(PollyTextToSpeech.from_env(env).synthesize(WEATHER.text, request()))

    assert fake.calls[0].problem is None
    assert b"".join(c.pcm for c in chunks) == WEATHER.pcm


def test_missing_region_is_unavailable() -> None:
    env = aws_env()
    del env["AWS_REGION"]
    with pytest.raises(ProviderUnavailable, match="AWS_REGION"):
        PollyTextToSpeech.from_env(env)


def test_missing_credentials_are_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_from_local_aws(monkeypatch, tmp_path)
    with pytest.raises(ProviderUnavailable, match="credentials"):
        PollyTextToSpeech.from_env({"AWS_DEFAULT_REGION": REGION})
    with pytest.raises(ProviderUnavailable, match="AWS_SECRET_ACCESS_KEY"):
        PollyTextToSpeech.from_env({"AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID})
    with pytest.raises(ProviderUnavailable, match="profile"):
        PollyTextToSpeech.from_env({"AWS_REGION": REGION, "AWS_PROFILE": "nowhere"})


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
