"""Visemes and words on ``response.audio.delta``, through the server, on each delta's own clock.

The replies are the repository's speech texts (tests/data/speech, plus one with pauses), written
by a scripted model and spoken by the local espeak-ng voice (exact timings from its events) or by
a fake OpenAI-like voice that plays the Piper recordings of the same texts (estimated timings).
Every delta's marks are judged against that delta's own audio, as a Receiver would play it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from handlers.animation.energy import FRAME_MS, frame_rms, voiced_frames
from handlers.providers.base import LlmRequest, PcmChunk, TtsRequest
from handlers.providers.toolkit import NothingToClose
from tests.server.audio_checks import clip, manifest, read_wav
from tests.server.conftest import ServeFn
from tests.server.fakes import InstantStt
from tests.server.harness import ChatClient, TurnResult, check_response, run_turn

PAUSES = "Hello, how are you? I cannot see the sky from here; what would you like it to be?"
REPLIES = [str(entry["text"]) for entry in manifest().values()] + [PAUSES]
RATE = 24_000
MODES = ["single", "chain", "stream"]


class ListLlm(NothingToClose):
    """Answers each turn with the next of ``replies``, word by word."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        reply = self.replies.pop(0)
        for index, word in enumerate(reply.split(" ")):
            yield word if index == 0 else " " + word
            await asyncio.sleep(0)


class RecordedVoice(NothingToClose):
    """A voice without timings: the Piper recording of the text, in 100 ms chunks at 16 kHz."""

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        recorded = {entry["text"]: name for name, entry in manifest().items()}
        pcm = clip(recorded.get(text, "hello_how_are_you.wav"))
        for start in range(0, len(pcm), 3200):
            yield PcmChunk(pcm[start : start + 3200], 16_000)
            await asyncio.sleep(0)


async def speak(
    serve: ServeFn,
    mode: str,
    replies: list[str],
    *,
    tts: str = "local",
    fmt: str = "pcm16",
    animation: Mapping[str, bool] | None = None,
) -> list[TurnResult]:
    factories: Any = {"stt": {"openai": lambda env: InstantStt()}}
    factories["llm"] = {"openai": lambda env: ListLlm(replies)}
    if tts == "openai":
        factories["tts"] = {"openai": lambda env: RecordedVoice()}
    server = await serve(factories=factories)
    sender, receiver = await server.pair()
    update: dict[str, Any] = {
        "stt": {"provider": "openai"},
        "llm": {"provider": "openai"},
        "tts": {"provider": tts, "responseType": mode},
        "outputAudio": {"format": fmt, "sampleRate": RATE},
    }
    if animation is not None:
        update["animation"] = dict(animation)
    await sender.emit("session.update", update)
    updated = await sender.wait_for("session.updated")
    assert updated["animation"] == (
        dict(animation) if animation else {"visemes": True, "words": True}
    )
    results = []
    for _ in replies:
        result = await run_turn(sender, receiver, clip("what_time_is_it.wav")[:6400])
        check_response(result)
        results.append(result)
    await close(sender, receiver)
    return results


async def close(*clients: ChatClient) -> None:
    for client in clients:
        await client.disconnect()


def delta_pcm(delta: Any) -> bytes:
    if delta["format"] == "wav":
        return read_wav(delta["audio"])[0] if delta["audio"] else b""
    audio: bytes = delta["audio"]
    return audio


def shape_at(delta: Any, offset_ms: float) -> str:
    shape = "sil"
    for mark in delta.get("visemes") or []:
        if mark["offsetMs"] > offset_ms:
            break
        shape = mark["id"]
    return shape


def judge(deltas: list[Any]) -> tuple[int, int, int, int]:
    """(frames where the mouth rests exactly when the audio is silent, frames, voiced frames with
    an open mouth, voiced frames), each frame judged on the clock of the delta it falls in."""
    pcms = [delta_pcm(d) for d in deltas]
    starts = [sum(len(p) for p in pcms[:i]) / 2 * 1000 / RATE for i in range(len(pcms))]
    voiced = voiced_frames(frame_rms(b"".join(pcms), RATE)).tolist()
    agree = voiced_open = voiced_count = 0
    index = 0
    for frame, sound in enumerate(voiced):
        middle = (frame + 0.5) * FRAME_MS
        while index + 1 < len(starts) and starts[index + 1] <= middle:
            index += 1
        shape = shape_at(deltas[index], middle - starts[index])
        agree += (shape != "sil") == sound
        voiced_count += sound
        voiced_open += sound and shape != "sil"
    return agree, len(voiced), voiced_open, voiced_count


def check_offsets(delta: Any, source: str) -> None:
    """Marks inside the delta's audio, increasing, saying where they came from."""
    length_ms = len(delta_pcm(delta)) / 2 * 1000 / RATE
    if length_ms < 1:
        return
    assert delta["timingSource"] == source
    offsets = [m["offsetMs"] for m in delta["visemes"]]
    assert offsets and offsets[0] == 0  # each delta says the shape it starts in
    assert offsets == sorted(set(offsets))
    assert all(0 <= o < length_ms for o in offsets)
    assert all(a["id"] != b["id"] for a, b in itertools.pairwise(delta["visemes"]))
    for word in delta["words"]:
        assert 0 <= word["offsetMs"] < length_ms
        assert word["offsetMs"] + word["durationMs"] <= length_ms + 1
    starts = [w["offsetMs"] for w in delta["words"]]
    assert starts == sorted(starts)


def check_stream_words(deltas: list[Any], reply: str) -> None:
    """Each word of the reply, in order; a word (or a run espeak-ng says as one) that a delta's
    end cuts is in the next delta too, a repeat of one just heard."""
    tokens, index = reply.split(), 0
    for delta in deltas:
        for word in delta.get("words") or []:
            text = word["text"].strip()
            if index < len(tokens) and text == tokens[index]:
                index += 1
            else:
                assert text in tokens[max(0, index - 3) : index], (text, reply)
    assert index == len(tokens)


@pytest.mark.parametrize("mode", MODES)
async def test_local_visemes_agree_with_the_audio_sent(serve: ServeFn, mode: str) -> None:
    results = await speak(serve, mode, REPLIES)

    agree = frames = voiced_open = voiced = 0
    for reply, result in zip(REPLIES, results, strict=True):
        assert result.reply["text"] == reply
        a, f, vo, v = judge(result.deltas)
        assert a / f >= 0.85, reply  # no single reply far off
        agree, frames, voiced_open, voiced = agree + a, frames + f, voiced_open + vo, voiced + v
        for delta in result.deltas:
            check_offsets(delta, "provider")
        spoken = [d for d in result.deltas if d.get("text")]
        if mode == "single":
            [delta] = spoken
            assert "".join(w["text"] for w in delta["words"]) == reply
        elif mode == "chain":
            for delta in spoken:
                assert "".join(w["text"] for w in delta["words"]) == delta["text"]
        else:
            check_stream_words(result.deltas, reply)
    assert frames > 1000  # several seconds of speech were judged
    assert agree / frames >= 0.90
    assert voiced_open / voiced >= 0.95


async def test_wav_deltas_carry_timings_on_their_own_clock(serve: ServeFn) -> None:
    [result] = await speak(serve, "chain", [PAUSES], fmt="wav")

    agree, frames, _, _ = judge(result.deltas)
    assert agree / frames >= 0.90
    for delta in result.deltas:
        check_offsets(delta, "provider")


@pytest.mark.parametrize("mode", MODES)
async def test_estimated_timings_for_a_voice_without_them(serve: ServeFn, mode: str) -> None:
    replies = REPLIES[:-1]  # the Piper recordings' texts
    results = await speak(serve, mode, replies, tts="openai")

    agree = frames = 0
    for reply, result in zip(replies, results, strict=True):
        a, f, _, _ = judge(result.deltas)
        agree, frames = agree + a, frames + f
        for delta in result.deltas:
            check_offsets(delta, "estimated")
        if mode != "stream":
            joined = "".join(w["text"] for d in result.deltas for w in d.get("words") or [])
            assert joined == reply
    assert agree / frames >= (0.85 if mode == "stream" else 0.90)


@pytest.mark.parametrize(
    ("animation", "fields"),
    [
        ({"visemes": False, "words": False}, set()),
        ({"visemes": True, "words": False}, {"visemes", "timingSource"}),
        ({"visemes": False, "words": True}, {"words", "timingSource"}),
    ],
)
async def test_animation_flags_decide_the_fields(
    serve: ServeFn, animation: dict[str, bool], fields: set[str]
) -> None:
    [result] = await speak(serve, "chain", [PAUSES], animation=animation)

    timing_fields = {"visemes", "words", "timingSource"}
    for delta in result.deltas:
        if delta_pcm(delta):
            assert timing_fields & set(delta) == fields
        else:
            assert not {"visemes", "words"} & set(delta)
