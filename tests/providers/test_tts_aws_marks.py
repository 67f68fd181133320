"""Polly's speech marks: asked for beside the audio, in Polly's wire format, onto the chunks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from generated.models import TimingSource, Viseme
from handlers.providers.base import PcmChunk
from handlers.providers.tts.aws import PollyTextToSpeech
from tests.fakes.aws_common import aws_env, clip
from tests.fakes.aws_polly import MARKS_CONTENT_TYPE, FakePolly
from tests.fakes.common import collect
from tests.providers.test_tts_aws import request

WEATHER = clip("what_is_the_weather_like_today.wav")
HISTORY = clip("tell_me_about_the_history_of.wav")


def provider(polly: FakePolly) -> PollyTextToSpeech:
    return PollyTextToSpeech.from_env(aws_env(AWS_ENDPOINT_URL_POLLY=polly.endpoint))


def timed(voice: str = "Joanna", model: str = "default") -> Any:
    return dataclasses.replace(request(voice, model), timings="each_chunk")


def marks_calls(polly: FakePolly) -> list[Any]:
    return [c for c in polly.calls if c.body.get("OutputFormat") == "json"]


async def test_marks_are_asked_for_beside_the_audio_in_polly_s_format(polly: FakePolly) -> None:
    polly.gate = asyncio.Event()  # the audio stops after its first piece
    stream = provider(polly).synthesize(HISTORY.text, timed())

    first = await asyncio.wait_for(anext(stream), 5)
    second = asyncio.ensure_future(anext(stream))  # waits on the held audio
    # The marks request is made and answered while the audio request is still open.
    await asyncio.wait_for(polly.marks_served.wait(), 5)
    assert not second.done()
    polly.gate.set()
    chunks = [first, await second, *await collect(stream)]

    [audio] = [c for c in polly.calls if c.body["OutputFormat"] == "pcm"]
    [marks] = marks_calls(polly)
    assert marks.body == {
        "Engine": audio.body["Engine"],
        "OutputFormat": "json",
        "SpeechMarkTypes": ["viseme", "word"],
        "Text": HISTORY.text,
        "TextType": "text",
        "VoiceId": audio.body["VoiceId"],
    }
    assert marks.problem is None
    lines = [json.loads(line) for line in marks.served.decode().splitlines()]
    assert {m["type"] for m in lines} == {"viseme", "word"}
    assert b"".join(c.pcm for c in chunks) == HISTORY.pcm

    timeline = chunks[-1].timeline
    assert timeline is not None and timeline.source is TimingSource.PROVIDER
    assert "".join(w.text for w in timeline.words) == HISTORY.text
    # Polly's times (ms) and byte offsets came through: each word starts at its mark's time.
    word_marks = [m for m in lines if m["type"] == "word"]
    assert [round(w.start_ms) for w in timeline.words] == [m["time"] for m in word_marks]
    assert timeline.visemes[-1].viseme is Viseme.SIL
    assert {v.viseme for v in timeline.visemes} - {Viseme.SIL}


async def test_first_audio_does_not_wait_for_the_marks(polly: FakePolly) -> None:
    polly.marks_gate = asyncio.Event()  # the marks are held back
    stream = provider(polly).synthesize(WEATHER.text, timed())

    early: list[PcmChunk] = [await asyncio.wait_for(anext(stream), 5) for _ in range(5)]
    assert all(c.timeline is None for c in early)  # sent before the marks were known
    polly.marks_gate.set()
    rest = await collect(stream)

    assert b"".join(c.pcm for c in early + rest) == WEATHER.pcm
    last = rest[-1].timeline
    assert last is not None and "".join(w.text for w in last.words) == WEATHER.text


async def test_no_marks_unless_asked_and_none_for_the_generative_engine(polly: FakePolly) -> None:
    plain = await collect(provider(polly).synthesize(WEATHER.text, request()))
    generative = await collect(provider(polly).synthesize(WEATHER.text, timed(model="generative")))

    assert marks_calls(polly) == []
    assert all(c.timeline is None for c in plain + generative)
    assert b"".join(c.pcm for c in generative) == WEATHER.pcm


def raw_call(polly: FakePolly, **params: Any) -> Any:
    client = provider(polly)._client
    return client.synthesize_speech(Text="hello how are you", TextType="text", **params)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"Engine": "generative", "OutputFormat": "json", "SpeechMarkTypes": ["word"]},
            "ValidationException",
        ),
        (
            {"Engine": "neural", "OutputFormat": "pcm", "SampleRate": "16000"}
            | {"SpeechMarkTypes": ["viseme"]},
            "MarksNotSupportedForFormatException",
        ),
        ({"Engine": "neural", "OutputFormat": "json"}, "ValidationException"),
    ],
)
async def test_the_fake_refuses_what_polly_refuses(
    polly: FakePolly, params: dict[str, Any], code: str
) -> None:
    with pytest.raises(Exception) as caught:
        await asyncio.to_thread(raw_call, polly, VoiceId="Joanna", **params)

    assert getattr(caught.value, "response", {}).get("Error", {}).get("Code") == code


async def test_the_fake_answers_marks_as_json_lines(polly: FakePolly) -> None:
    response = await asyncio.to_thread(
        raw_call,
        polly,
        VoiceId="Joanna",
        Engine="neural",
        OutputFormat="json",
        SpeechMarkTypes=["word", "viseme"],
    )
    body = response["AudioStream"].read().decode()

    assert response["ContentType"] == MARKS_CONTENT_TYPE
    marks = [json.loads(line) for line in body.splitlines()]
    times = [m["time"] for m in marks]
    assert times == sorted(times) and all(isinstance(t, int) for t in times)
    text = b"hello how are you"
    words = [m for m in marks if m["type"] == "word"]
    assert [text[m["start"] : m["end"]].decode() for m in words] == ["hello", "how", "are", "you"]
    assert [m["value"] for m in words] == ["hello", "how", "are", "you"]
