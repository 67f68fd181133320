"""OpenAITextToSpeech against the local fake's /v1/audio/speech, with the real openai SDK.

The fake streams real speech (a shared recording at 24 kHz) in pieces of odd sizes, so pieces
end in the middle of samples; the adapter must still yield whole samples, byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import pytest

from handlers.audio import WholeSamples
from handlers.providers.base import PcmChunk, ProviderError, TtsRequest
from handlers.providers.tts.openai import OpenAITextToSpeech
from tests.fakes import upstreams
from tests.fakes.common import Builders, collect
from tests.fakes.openai_api import FakeOpenAIApi, Fault

Build = Callable[..., OpenAITextToSpeech]


@pytest.fixture
def build(openai_api: FakeOpenAIApi, builders: Builders) -> Build:
    return builders(OpenAITextToSpeech.from_env, upstreams.openai_env(openai_api))


def tts_request(model: str = "tts-1", voice: str = "alloy", speed: float = 1.0) -> TtsRequest:
    return TtsRequest(
        model=model,
        voice=voice,
        language="en-US",
        ssml_gender="unspecified",
        speed=speed,
        sample_rate=16_000,
    )


def assert_whole_samples_of(chunks: list[PcmChunk], expected: bytes) -> None:
    assert all(chunk.sample_rate == 24_000 for chunk in chunks)
    assert all(len(chunk.pcm) % 2 == 0 and chunk.pcm for chunk in chunks)
    assert b"".join(chunk.pcm for chunk in chunks) == expected


async def test_streams_the_served_pcm_at_24_khz(openai_api: FakeOpenAIApi, build: Build) -> None:
    chunks = await collect(build().synthesize("Hello, how are you?", tts_request()))

    assert_whole_samples_of(chunks, openai_api.speech_pcm)
    assert len(chunks) > 1  # yielded as it arrived, not at the end
    (seen,) = openai_api.requests
    assert seen.path == "/v1/audio/speech"
    assert seen.bearer_token == openai_api.api_key
    assert seen.json == {
        "model": "tts-1",
        "voice": "alloy",
        "input": "Hello, how are you?",
        "response_format": "pcm",
        "speed": 1.0,
    }


@pytest.mark.parametrize("sizes", [(1,), (3, 5, 7), (4095, 1), (1001, 2, 3)])
async def test_pieces_split_at_odd_offsets_come_out_whole(
    openai_api: FakeOpenAIApi, build: Build, sizes: tuple[int, ...]
) -> None:
    # About 300 pieces: enough splits, still fast.
    length = min(len(openai_api.speech_pcm), 300 * sum(sizes) // len(sizes))
    openai_api.speech_pcm = openai_api.speech_pcm[: length - length % 2]
    openai_api.speech_piece_sizes = sizes
    openai_api.speech_piece_pause_s = 0.0005

    chunks = await collect(build().synthesize("Hi", tts_request()))

    assert_whole_samples_of(chunks, openai_api.speech_pcm)


async def test_whole_samples_regroups_any_split() -> None:
    data = random.Random(7).randbytes(10_000)
    cuts = sorted(random.Random(8).sample(range(1, len(data)), 300))

    async def pieces() -> AsyncIterator[bytes]:
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            yield data[a:b]

    out = [piece async for piece in WholeSamples(pieces())]

    assert all(len(piece) % 2 == 0 for piece in out)
    assert b"".join(out) == data


async def test_other_models_voices_and_speeds(openai_api: FakeOpenAIApi, build: Build) -> None:
    chunks = await collect(
        build().synthesize("Fast words", tts_request("gpt-4o-mini-tts", "verse", speed=9.0))
    )

    assert_whole_samples_of(chunks, openai_api.speech_pcm)
    body = openai_api.requests[0].json
    assert (body["model"], body["voice"], body["speed"]) == ("gpt-4o-mini-tts", "verse", 4.0)


async def test_blank_text_makes_no_request(openai_api: FakeOpenAIApi, build: Build) -> None:
    assert await collect(build().synthesize("  ", tts_request())) == []
    assert openai_api.requests == []


async def test_a_stream_cut_midway_fails_after_its_audio_without_retry(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    openai_api.speech_piece_sizes = (1000,)
    openai_api.inject(Fault(cut_after_pieces=5))
    received: list[PcmChunk] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in build().synthesize("Hello", tts_request()):
            received.append(chunk)

    assert caught.value.transient
    assert (
        b"".join(c.pcm for c in received)
        == openai_api.speech_pcm[: len(b"".join(c.pcm for c in received))]
    )
    assert len(openai_api.requests) == 1


async def test_an_unknown_voice_is_a_permanent_error(
    openai_api: FakeOpenAIApi, build: Build
) -> None:
    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        await collect(build().synthesize("Hi", tts_request(voice="Joanna")))

    assert not caught.value.transient
