"""Bad input gets its custom.error code (or connect_error), changes nothing it should not, and
the same connection's next valid turn still works."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import pytest

from handlers.providers.base import Stage
from tests.server.audio_checks import (
    WEATHER,
    clip,
    downsample_by_2,
    make_wav,
    manifest,
)
from tests.server.conftest import ServeFn
from tests.server.fakes import FailingLlm, FailingStt, FailingTts, GatedLlm
from tests.server.harness import (
    ChatClient,
    RunningServer,
    TurnResult,
    check_response,
    new_session_id,
    run_turn,
)

CLIP_MS = manifest()[WEATHER]["seconds"] * 1000


async def assert_turn_works(sender: ChatClient, receiver: ChatClient) -> TurnResult:
    """A whole turn on the real providers: the session is still usable."""
    result = await run_turn(sender, receiver, clip(WEATHER))
    assert "weather" in result.transcript["text"].split()
    assert abs(result.transcript["durationMs"] - CLIP_MS) < 5
    check_response(result)
    assert result.reply["text"]
    return result


async def settings_of(sender: ChatClient) -> Any:
    """The effective settings, as the echo of an empty session.update."""
    mark = sender.mark()
    await sender.emit("session.update", {})
    return await sender.wait_for("session.updated", after=mark)


def eight_bit_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(16000)
        wav.writeframes(b"\x80" * 320)
    return buffer.getvalue()


# -- audio -------------------------------------------------------------------------------------

BAD_AUDIO = {
    "odd-byte-count": b"\x00" * 641,
    "bad-base64": "AAAAA",
    "bad-base64-object": {"audio": "AAAAA"},
    "bad-wav": b"RIFF" + b"\x00" * 40,
    "8-bit-wav": eight_bit_wav(),
}


@pytest.mark.parametrize("chunk", BAD_AUDIO.values(), ids=BAD_AUDIO.keys())
async def test_undecodable_audio_is_dropped_and_the_buffer_kept(
    server: RunningServer, chunk: Any
) -> None:
    sender, receiver = await server.pair()
    # A bad chunk before any audio starts no utterance.
    await sender.emit("input.buffer.append", chunk)
    error = await sender.wait_error("invalid_audio")
    assert error["event"] == "input.buffer.append"
    assert "input.buffer.initialized" not in sender.names()
    # A bad chunk in the middle of an utterance is dropped; the rest of it stays.
    pcm = clip(WEATHER)
    half = len(pcm) // 2 - len(pcm) // 2 % 640
    mark = sender.mark()
    await sender.send_pcm(pcm[:half])
    await sender.emit("input.buffer.append", chunk)
    await sender.send_pcm(pcm[half:])
    await sender.commit()
    await sender.wait_error("invalid_audio", after=mark)
    item = (await sender.wait_for("input.buffer.initialized", after=mark))["itemId"]
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert done["itemId"] == item
    assert abs(done["durationMs"] - CLIP_MS) < 5
    assert "weather" in done["text"].split()
    await receiver.wait_final(item)
    assert sender.named("input.buffer.initialized") == [
        {"itemId": item, "format": "pcm16", "sampleRate": 16000}
    ]
    await assert_turn_works(sender, receiver)


WRONG_APPEND_PAYLOADS = {
    "number": (123,),
    "object": ({"pcm": "AAAA"},),
    "list": (["AAAA"],),
    "null": (None,),
    "audio-not-a-string": ({"audio": 5},),
    "not-base64-characters": ("this is not base64!",),
    "two-arguments": (b"\x00\x00", b"\x00\x00"),
    "no-argument": (),
}


@pytest.mark.parametrize("args", WRONG_APPEND_PAYLOADS.values(), ids=WRONG_APPEND_PAYLOADS.keys())
async def test_wrong_append_payload(server: RunningServer, args: tuple[Any, ...]) -> None:
    sender, receiver = await server.pair()
    await sender.emit("input.buffer.append", *args)
    error = await sender.wait_error("invalid_payload")
    assert error["event"] == "input.buffer.append"
    assert "input.buffer.initialized" not in sender.names()
    await assert_turn_works(sender, receiver)


async def test_base64_object_and_wav_chunks_are_accepted(server: RunningServer) -> None:
    sender, receiver = await server.pair()
    pcm = clip(WEATHER)
    chunks = [pcm[i : i + 640] for i in range(0, len(pcm), 640)]
    as_8k = downsample_by_2(pcm)
    chunks_8k = [as_8k[i : i + 320] for i in range(0, len(as_8k), 320)]
    shapes: dict[str, list[Any]] = {
        "base64": [base64.b64encode(c).decode() for c in chunks],
        "object": [{"audio": base64.b64encode(c).decode()} for c in chunks],
        # Whole WAV files of 20 ms each, recognised by their header.
        "wav": [make_wav(c, 16000) for c in chunks],
        "wav-base64": [base64.b64encode(make_wav(c, 16000)).decode() for c in chunks],
        # At 8 kHz: resampled to the session's 16 kHz.
        "wav-8k": [make_wav(c, 8000) for c in chunks_8k],
    }
    for name, payloads in shapes.items():
        s_mark, r_mark = sender.mark(), receiver.mark()
        for payload in payloads:
            await sender.emit("input.buffer.append", payload)
        await sender.commit()
        initialized = await sender.wait_for("input.buffer.initialized", after=s_mark)
        assert initialized["sampleRate"] == 16000
        done = await sender.wait_for("request.transcribe.done", after=s_mark)
        assert done["itemId"] == initialized["itemId"]
        # The duration is the clip's at the session's rate (so 8 kHz audio was resampled).
        assert abs(done["durationMs"] - CLIP_MS) < 10, (name, done)
        words = done["text"].split()
        # pocketsphinx hears 8 kHz speech badly ("what a what ..."), but hears something.
        assert ("what" if name == "wav-8k" else "weather") in words, (name, done)
        await receiver.wait_final(done["itemId"], after=r_mark)
    assert "custom.error" not in sender.names()


# -- session.update ----------------------------------------------------------------------------

INVALID_UPDATES = {
    "unknown-provider": {"stt": {"provider": "nosuch"}},
    "model-of-another-provider": {"stt": {"provider": "local", "model": "whisper-1"}},
    "voice-of-another-provider": {"tts": {"provider": "local", "voice": "alloy"}},
    "voice-without-provider": {"tts": {"voice": "en-gb"}},
    "model-without-provider": {"llm": {"model": "eliza"}},
    "rate-as-string": {"outputAudio": {"sampleRate": "16000"}},
    "rate-out-of-range": {"inputAudio": {"sampleRate": 4000}},
    "null-field": {"tts": {"speed": None}},
    "unknown-field": {"tts": {"speed": 1.2}, "bogus": 1},
    "not-an-object": "chain",
}


@pytest.mark.parametrize("update", INVALID_UPDATES.values(), ids=INVALID_UPDATES.keys())
async def test_invalid_session_update_changes_nothing(server: RunningServer, update: Any) -> None:
    sender, receiver = await server.pair()
    before = await settings_of(sender)
    mark = sender.mark()
    await sender.emit("session.update", update)
    error = await sender.wait_error("invalid_payload", after=mark)
    assert error["event"] == "session.update"
    assert await settings_of(sender) == before
    await assert_turn_works(sender, receiver)


async def test_unavailable_provider_keeps_previous_settings(server: RunningServer) -> None:
    """openai without OPENAI_API_KEY in the registry's environment: provider_unavailable, and
    the whole update (also its valid parts) is not applied."""
    sender, receiver = await server.pair()
    before = await settings_of(sender)
    mark = sender.mark()
    await sender.emit("session.update", {"tts": {"speed": 1.5}, "llm": {"provider": "openai"}})
    error = await sender.wait_error("provider_unavailable", after=mark)
    assert error["event"] == "session.update"
    assert error["stage"] == "llm"
    assert error["provider"] == "openai"
    assert "OPENAI_API_KEY" in error["message"]
    after = await settings_of(sender)
    assert after == before
    assert after["llm"]["provider"] == "local"
    assert after["tts"]["speed"] == 1.0
    assert sender.names(after=mark) == ["custom.error", "session.updated"]
    await assert_turn_works(sender, receiver)


# -- commit, roles, unknown events -------------------------------------------------------------


async def test_commit_with_nothing_buffered(server: RunningServer) -> None:
    sender, receiver = await server.pair()
    await sender.commit()
    error = await sender.wait_error("empty_buffer")
    assert error["event"] == "input.buffer.commit"
    await assert_turn_works(sender, receiver)
    # Committing again: that utterance is gone, nothing new is buffered.
    mark = sender.mark()
    await sender.commit()
    await sender.wait_error("empty_buffer", after=mark)
    # A commit with a payload is not a commit.
    await sender.send_pcm(clip(WEATHER))
    mark = sender.mark()
    await sender.emit("input.buffer.commit", {"now": True})
    error = await sender.wait_error("invalid_payload", after=mark)
    assert error["event"] == "input.buffer.commit"
    assert "request.transcribe.done" not in sender.names(after=mark)
    # The audio is still buffered: a proper commit takes it.
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert abs(done["durationMs"] - CLIP_MS) < 5
    assert "weather" in done["text"].split()
    await receiver.wait_for("response.text", lambda p: p["itemId"] == done["itemId"])
    await receiver.wait_final(done["itemId"])
    await assert_turn_works(sender, receiver)


@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("input.buffer.append", (b"\x00\x00" * 320,)),
        ("input.buffer.commit", ()),
        ("session.update", ({"tts": {"speed": 1.2}},)),
    ],
)
async def test_receivers_only_listen(
    server: RunningServer, event: str, args: tuple[Any, ...]
) -> None:
    sender, receiver = await server.pair()
    await receiver.emit(event, *args)
    error = await receiver.wait_error("role_not_allowed")
    assert error["event"] == event
    await receiver.quiet()
    assert sender.events == []  # the Sender neither sees the error nor an utterance
    await assert_turn_works(sender, receiver)
    assert receiver.named("custom.error") == [error]


@pytest.mark.parametrize(
    "event", ["hello", "response.text", "session.updated", "connect_error", "input.buffer"]
)
async def test_unknown_event(server: RunningServer, event: str) -> None:
    sender, receiver = await server.pair()
    await sender.emit(event, {"x": 1})
    error = await sender.wait_error("unknown_event")
    assert error["event"] == event
    await receiver.emit(event)
    assert (await receiver.wait_error("unknown_event"))["event"] == event
    await assert_turn_works(sender, receiver)


# python-socketio routes a client-sent 'connect'/'disconnect' event to the lifecycle handlers:
# without the dispatcher's guard a client could re-handshake into another session or role.
@pytest.mark.parametrize(
    ("event", "args"),
    [("connect", ({}, {"role": "sender", "sessionId": "elsewhere"})), ("disconnect", ("x",))],
)
async def test_reserved_event_names_sent_by_a_client(
    server: RunningServer, event: str, args: tuple[Any, ...]
) -> None:
    _, receiver = await server.pair()
    await receiver.emit(event, *args)
    error = await receiver.wait_error("unknown_event", within=2.0)
    assert error["event"] == event
    mark = receiver.mark()
    await receiver.emit("hello")
    await receiver.wait_error("unknown_event", after=mark, within=2.0)


# -- limits ------------------------------------------------------------------------------------


async def test_buffer_overflow_is_reported_once_and_the_rest_committed(serve: ServeFn) -> None:
    server = await serve(max_buffer_seconds=1.5)
    sender, receiver = await server.pair()
    pcm = clip(WEATHER)  # 2.07 s
    await sender.send_pcm(pcm)
    await sender.send_pcm(pcm)  # still more: reported once only
    await sender.commit()
    item = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    done = await sender.wait_for("request.transcribe.done")
    errors = sender.named("custom.error")
    assert len(errors) == 1, errors
    assert errors[0]["code"] == "buffer_overflow"
    assert errors[0]["itemId"] == item
    assert errors[0]["event"] == "input.buffer.append"
    assert done["itemId"] == item
    assert done["durationMs"] == 1500
    assert "weather" in done["text"].split()  # the kept 1.5 s hold "what is the weather"
    await receiver.wait_final(item)
    # The next utterance starts empty: a short one fits.
    mark = sender.mark()
    await sender.send_pcm(pcm[: 16000 * 2])
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert done["durationMs"] == 1000
    assert "custom.error" not in sender.names(after=mark)


async def test_turn_queue_full(serve: ServeFn) -> None:
    llm = GatedLlm()
    server = await serve(max_queued_turns=2, factories={"llm": {"openai": lambda env: llm}})
    sender, receiver = await server.pair()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    pcm = clip(WEATHER)
    items = []
    for _ in range(2):
        mark = sender.mark()
        await sender.send_pcm(pcm)
        await sender.commit()
        items.append((await sender.wait_for("input.buffer.initialized", after=mark))["itemId"])
        await llm.started.wait()  # the first turn is held in its language model
    mark = sender.mark()
    await sender.send_pcm(pcm)
    await sender.commit()
    third = (await sender.wait_for("input.buffer.initialized", after=mark))["itemId"]
    error = await sender.wait_error("turn_queue_full", after=mark)
    assert error["itemId"] == third
    assert error["event"] == "input.buffer.commit"

    llm.release.set()
    for item in items:
        await receiver.wait_final(item)
    # The refused utterance stayed buffered: committing again runs it.
    mark = sender.mark()
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=mark)
    assert done["itemId"] == third
    assert abs(done["durationMs"] - CLIP_MS) < 5
    await receiver.wait_final(third)
    finals = [d["itemId"] for d in receiver.named("response.audio.delta") if d["final"]]
    assert finals == [*items, third]


# -- provider failures -------------------------------------------------------------------------

FAILING = {"stt": FailingStt, "llm": FailingLlm, "tts": FailingTts}


@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
@pytest.mark.parametrize("mode", ["single", "chain", "stream"])
async def test_provider_error_in_each_stage(serve: ServeFn, stage: Stage, mode: str) -> None:
    failing = FAILING[stage]
    server = await serve(factories={stage: {"openai": lambda env: failing()}})
    sender, receiver = await server.pair()
    update: dict[str, dict[str, str]] = {"tts": {"responseType": mode}}
    update.setdefault(stage, {})["provider"] = "openai"
    await sender.emit("session.update", update)
    await sender.wait_for("session.updated")
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    item = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    error = await sender.wait_error("provider_error")
    assert error["stage"] == stage
    assert error["provider"] == "openai"
    assert error["itemId"] == item
    assert "fake" in error["message"]
    await receiver.quiet(0.3)
    transcripts = sender.named("request.transcribe.done")
    deltas = receiver.named("response.audio.delta")
    texts = receiver.named("response.text")
    if stage == "stt":
        assert transcripts == []
        assert receiver.events == []
    elif stage == "llm":
        assert [t["itemId"] for t in transcripts] == [item]
        assert receiver.events == []
    else:
        assert [t["itemId"] for t in texts] == [item]
        # No speech; the response may still be closed by an empty final delta.
        assert all(d["audio"] == b"" for d in deltas)
        assert [d["final"] for d in deltas] in ([], [True])
    # Back on the local provider, the same session works again.
    mark = sender.mark()
    await sender.emit("session.update", {stage: {"provider": "local"}})
    await sender.wait_for("session.updated", after=mark)
    await assert_turn_works(sender, receiver)


# -- handshake ---------------------------------------------------------------------------------

BAD_HANDSHAKES = {
    "none": None,
    "no-session": {"role": "sender"},
    "no-role": {"sessionId": "abc"},
    "unknown-role": {"role": "boss", "sessionId": "abc"},
    "bad-session-id": {"role": "sender", "sessionId": "a/b"},
    "extra-field": {"role": "sender", "sessionId": "abc", "name": "x"},
    "empty-token": {"role": "sender", "sessionId": "abc", "token": ""},
    "null-token": {"role": "receiver", "sessionId": "abc", "token": None},
}


@pytest.mark.parametrize("auth", BAD_HANDSHAKES.values(), ids=BAD_HANDSHAKES.keys())
async def test_invalid_handshake(server: RunningServer, auth: Any) -> None:
    client = server.client("sender", "unused", auth=auth)
    refusal = await client.refused()
    assert refusal["data"] == {"code": "invalid_handshake"}
    assert refusal["message"].startswith("invalid handshake")
    assert not client.connected
    sender, receiver = await server.pair()
    await assert_turn_works(sender, receiver)


async def test_tokens(serve: ServeFn) -> None:
    server = await serve(tokens=frozenset({"s3cr3t-token", "another-token"}))
    session = new_session_id()
    for token in (None, "wrong", "s3cr3t-token-but-longer", "s3cr3t"):
        client = server.client("sender", session, token=token)
        refusal = await client.refused()
        assert refusal["data"] == {"code": "unauthorized"}
        assert refusal["message"] in ("a token is required", "invalid token")
    receiver = server.client("receiver", session, token="another-token")
    await receiver.connect()
    sender = server.client("sender", session, token="s3cr3t-token")
    await sender.connect()
    await assert_turn_works(sender, receiver)
