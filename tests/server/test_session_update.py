"""session.update: partial merges, provider switches with their defaults, the full echo."""

from __future__ import annotations

from typing import Any

from generated.catalog import DEFAULT_TTS_RESPONSE_TYPE, LLM, STT, TTS
from generated.events import json_schema
from tests.server.audio_checks import WEATHER, clip, seconds
from tests.server.conftest import ServeFn
from tests.server.fakes import ChunkTts, InstantStt, ScriptedLlm, heard, scripted_reply
from tests.server.harness import ChatClient, RunningServer, check_response, run_turn


async def update(sender: ChatClient, payload: Any) -> Any:
    mark = sender.mark()
    await sender.emit("session.update", payload)
    updated = await sender.wait_for("session.updated", after=mark)
    assert "custom.error" not in sender.names(after=mark)
    return updated


def fields_of(definition: str) -> set[str]:
    """The fields every session.updated carries: the required ones (the optional
    requestedModel/modelNotice appear only when another model serves the one asked for)."""
    schema = json_schema("session.updated")
    return set(schema["$defs"][definition]["required"])


async def test_echo_lists_every_field_with_the_defaults(server: RunningServer) -> None:
    sender, _ = await server.pair()
    settings = await update(sender, {})
    schema = json_schema("session.updated")
    assert set(settings) == set(schema["properties"])
    sections = {
        "stt": "SttSettings",
        "llm": "LlmSettings",
        "tts": "TtsSettings",
        "inputAudio": "InputAudio",
        "outputAudio": "OutputAudio",
    }
    for key, definition in sections.items():
        assert set(settings[key]) == fields_of(definition), key
    assert settings["sessionId"] == sender.session_id
    assert settings["stt"] == {
        "provider": "local",
        "model": STT["local"].default_model,
        "language": "en-US",
    }
    assert settings["llm"]["provider"] == "local"
    assert settings["llm"]["model"] == LLM["local"].default_model
    assert settings["llm"]["instructions"]
    assert settings["tts"]["provider"] == "local"
    assert settings["tts"]["model"] == TTS["local"].default_model
    assert settings["tts"]["voice"] == TTS["local"].default_voice
    assert settings["tts"]["responseType"] == DEFAULT_TTS_RESPONSE_TYPE.value
    assert settings["tts"]["ssmlGender"] == "unspecified"
    assert settings["inputAudio"] == {"format": "pcm16", "sampleRate": 16000}


async def test_partial_updates_merge(server: RunningServer) -> None:
    sender, _ = await server.pair()
    defaults = await update(sender, {})
    voiced = await update(sender, {"tts": {"provider": "local", "voice": "en-gb"}})
    assert voiced["tts"] == {**defaults["tts"], "voice": "en-gb"}
    faster = await update(sender, {"tts": {"speed": 1.5}})
    # Changing the speed keeps the voice, and everything else.
    assert faster["tts"] == {**defaults["tts"], "voice": "en-gb", "speed": 1.5}
    cooler = await update(sender, {"llm": {"temperature": 0.2}, "outputAudio": {"format": "mp3"}})
    assert cooler["llm"] == {**defaults["llm"], "temperature": 0.2}
    assert cooler["tts"] == faster["tts"]
    assert cooler["outputAudio"] == {**defaults["outputAudio"], "format": "mp3"}
    assert cooler["stt"] == defaults["stt"]
    assert cooler["inputAudio"] == defaults["inputAudio"]
    # The settings belong to the session: another session still has the defaults.
    other, _ = await server.pair()
    assert {**(await update(other, {})), "sessionId": sender.session_id} == defaults


async def test_switching_provider_selects_its_defaults(serve: ServeFn) -> None:
    server = await serve(
        factories={
            "stt": {"openai": lambda env: InstantStt()},
            "llm": {"openai": lambda env: ScriptedLlm()},
            "tts": {"openai": lambda env: ChunkTts()},
        }
    )
    sender, receiver = await server.pair()
    defaults = await update(
        sender,
        {"tts": {"provider": "local", "voice": "en-gb", "speed": 1.25, "responseType": "stream"}},
    )

    switched = await update(
        sender,
        {
            "stt": {"provider": "openai"},
            "llm": {"provider": "openai"},
            "tts": {"provider": "openai"},
        },
    )
    assert switched["stt"] == {
        **defaults["stt"],
        "provider": "openai",
        "model": STT["openai"].default_model,
    }
    assert switched["llm"] == {
        **defaults["llm"],
        "provider": "openai",
        "model": LLM["openai"].default_model,
    }
    # The provider's default model and voice; the options (speed, response type) stay. The
    # model's lifecycle notice (a shutdown date) may come with it: tests/lifecycle checks it.
    switched["tts"].pop("modelNotice", None)
    assert switched["tts"] == {
        **defaults["tts"],
        "provider": "openai",
        "model": TTS["openai"].default_model,
        "voice": TTS["openai"].default_voice,
    }
    nova = await update(sender, {"tts": {"provider": "openai", "voice": "nova", "model": "tts-1"}})
    assert (nova["tts"]["voice"], nova["tts"]["model"]) == ("nova", "tts-1")

    # The next turn runs on the providers now selected.
    result = await run_turn(sender, receiver, clip(WEATHER))
    check_response(result)
    assert result.transcript["provider"] == "openai"
    assert result.transcript["model"] == STT["openai"].default_model
    assert result.transcript["text"] == heard(len(clip(WEATHER)), 16000)
    assert result.reply["text"] == scripted_reply(result.transcript["text"])
    pcm = b"".join(d["audio"] for d in result.deltas)
    assert abs(seconds(pcm, 24000) - 0.04 * len(result.reply["text"].split())) < 0.01

    # And back: local brings back its own defaults, not the previous local voice.
    back = await update(sender, {"tts": {"provider": "local"}})
    assert "modelNotice" not in back["tts"]
    assert back["tts"] == {**defaults["tts"], "voice": TTS["local"].default_voice}
    assert back["tts"]["voice"] != defaults["tts"]["voice"]


async def test_a_started_utterance_keeps_its_input_encoding(server: RunningServer) -> None:
    sender, receiver = await server.pair()
    pcm = clip(WEATHER)
    half = len(pcm) // 2 // 640 * 640
    mark = sender.mark()
    await sender.send_pcm(pcm[:half])
    await sender.emit("session.update", {"inputAudio": {"format": "wav", "sampleRate": 24000}})
    await sender.wait_for("session.updated", after=mark)
    # Still raw 16 kHz PCM: the utterance began so; the new encoding is for the next one.
    await sender.send_pcm(pcm[half:])
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert "weather" in done["text"]
    assert abs(done["durationMs"] - seconds(pcm, 16000) * 1000) <= 1
    assert "custom.error" not in sender.names(after=mark)
    await receiver.wait_for("response.audio.delta", lambda p: p["final"])
