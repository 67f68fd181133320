"""Whole turns through the real server on cloud providers, each provider's real SDK talking to a
loopback fake of its wire protocol: what the Sender and Receiver get must be what the fakes served.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web

from handlers.audio import parse_wav, resample_pcm16
from handlers.config import ServerConfig
from handlers.providers.lifecycle import load_lifecycle
from handlers.providers.registry import ProviderRegistry
from handlers.server import create_app
from tests.contract.validation import validate_event
from tests.data import SPEECH_DIR
from tests.fakes import upstreams
from tests.fakes.aws_bedrock import FakeBedrockRuntime
from tests.fakes.aws_common import aws_env, isolate_from_local_aws
from tests.fakes.aws_polly import FakePolly
from tests.fakes.openai_api import FakeOpenAIApi

AUDIO = SPEECH_DIR
QUESTION = "what_is_the_weather_like_today.wav"


async def serve(env: Mapping[str, str]) -> tuple[web.AppRunner, str]:
    app, _ = create_app(ServerConfig(), ProviderRegistry(env))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def one_turn(url: str, update: dict[str, Any]) -> dict[str, list[Any]]:
    """Configure a session, speak the question, and return every event by name."""
    session = "cloud-" + secrets.token_hex(4)
    sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
    events: dict[str, list[Any]] = {}
    updated, done = asyncio.Event(), asyncio.Event()

    def recorder(name: str) -> Any:
        async def record(data: Any) -> None:
            validate_event(name, data)
            events.setdefault(name, []).append(data)
            if name == "session.updated":
                updated.set()
            if name == "custom.error" or (name == "response.audio.delta" and data["final"]):
                done.set()

        return record

    for name in ("session.updated", "request.transcribe.done", "custom.error"):
        sender.on(name, recorder(name))
    for name in ("response.text", "response.audio.delta"):
        receiver.on(name, recorder(name))
    options: dict[str, Any] = {"socketio_path": "/socketio", "transports": ["websocket"]}
    await receiver.connect(url, auth={"role": "receiver", "sessionId": session}, **options)
    await sender.connect(url, auth={"role": "sender", "sessionId": session}, **options)
    try:
        await sender.emit("session.update", update)
        await asyncio.wait_for(updated.wait(), 10)
        pcm, _ = parse_wav((AUDIO / QUESTION).read_bytes())
        for offset in range(0, len(pcm), 640):
            await sender.emit("input.buffer.append", pcm[offset : offset + 640])
        await sender.emit("input.buffer.commit")
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await sender.disconnect()
        await receiver.disconnect()
    return events


async def test_openai_for_every_stage(openai_api: FakeOpenAIApi) -> None:
    openai_api.chat_reply = "It is sunny and warm. Enjoy the afternoon!"
    runner, url = await serve(upstreams.openai_env(openai_api))
    try:
        events = await one_turn(
            url,
            {
                "stt": {"provider": "openai", "model": "whisper-1"},
                "llm": {"provider": "openai", "model": "gpt-4.1-mini"},
                "tts": {"provider": "openai", "voice": "nova", "responseType": "single"},
                "outputAudio": {"format": "pcm16", "sampleRate": 24000},
            },
        )
    finally:
        await runner.cleanup()
    assert "custom.error" not in events, events.get("custom.error")
    (transcript,) = events["request.transcribe.done"]
    assert transcript["text"] == "what is the weather like today"
    assert (transcript["provider"], transcript["model"]) == ("openai", "whisper-1")
    (reply,) = events["response.text"]
    assert reply["text"] == openai_api.chat_reply
    (delta,) = events["response.audio.delta"]
    assert delta["final"] and delta["sampleRate"] == 24000
    # The fake's speech is 24 kHz PCM, as the session asked: it must arrive byte for byte.
    assert delta["audio"] == b"".join(openai_api.speech_pieces())
    chat = openai_api.requests_to("/chat/completions")[-1]
    assert chat.json["model"] == "gpt-4.1-mini"
    assert chat.json["messages"][-1] == {"role": "user", "content": transcript["text"]}
    speech = openai_api.requests_to("/audio/speech")[-1]
    assert (speech.json["voice"], speech.json["input"]) == ("nova", openai_api.chat_reply)


async def test_bedrock_and_polly_behind_local_recognition(
    bedrock: FakeBedrockRuntime,
    polly: FakePolly,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    isolate_from_local_aws(monkeypatch, tmp_path)
    env = aws_env(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.endpoint, AWS_ENDPOINT_URL_POLLY=polly.endpoint
    )
    runner, url = await serve(env)
    try:
        events = await one_turn(
            url,
            {
                "llm": {"provider": "aws", "model": "anthropic.claude-v2"},
                "tts": {"provider": "aws", "voice": "Joanna", "responseType": "chain"},
                "outputAudio": {"format": "pcm16", "sampleRate": 16000},
            },
        )
    finally:
        await runner.cleanup()
    assert "custom.error" not in events, events.get("custom.error")
    (transcript,) = events["request.transcribe.done"]
    assert "weather" in transcript["text"]
    (reply,) = events["response.text"]
    # The seed's claude-v2 is end-of-life on Bedrock (the fake answers it 404, as Bedrock does):
    # session.update served it with its successor's inference profile.
    served = load_lifecycle().resolve("llm", "aws", "anthropic.claude-v2").served
    assert served != "anthropic.claude-v2"
    assert reply["text"].startswith(f"{served} heard: " + transcript["text"])
    assert bedrock.calls[-1].model_id == served
    deltas = events["response.audio.delta"]
    assert [d["sequence"] for d in deltas] == list(range(len(deltas)))
    assert deltas[-1]["final"] and not any(d["final"] for d in deltas[:-1])
    spoken = [d["text"] for d in deltas if d.get("text")]
    assert " ".join(spoken) == reply["text"]
    # Each sentence is one audio request, and one speech-marks request for its lip sync.
    audio_calls = [call for call in polly.calls if call.body["OutputFormat"] == "pcm"]
    marks_calls = [call for call in polly.calls if call.body["OutputFormat"] == "json"]
    assert [call.body["Text"] for call in audio_calls] == spoken
    assert sorted(call.body["Text"] for call in marks_calls) == sorted(spoken)
    assert {call.body["VoiceId"] for call in polly.calls} == {"Joanna"}
    # Polly answers 16 kHz PCM; the session asked for 16 kHz, so no resampling may alter it.
    audio = b"".join(d["audio"] for d in deltas)
    assert audio and len(audio) % 2 == 0
    assert audio == resample_pcm16(audio, 16000, 16000)
