"""Whole turns on the embedded providers (pocketsphinx, the local responder, espeak-ng): real
speech in, every response type and output format out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.server.audio_checks import (
    CHUNK_BYTES,
    WEATHER,
    clip,
    manifest,
    mp3_frames,
    read_wav,
    rms,
    seconds,
)
from tests.server.harness import RunningServer, TurnResult, check_response, run_turn

SECONDS_PER_WORD = (0.1, 1.0)
"""Speech at any sane rate: a reply of n words lasts between 0.1 n and 1.0 n seconds."""
MIN_RMS = 300.0
"""Speech, not silence: espeak-ng speaks at an RMS of a few thousand."""


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def decode(deltas: list[Any], fmt: str, rate: int) -> tuple[bytes | None, float]:
    """(PCM or None for MP3, seconds) of the concatenated deltas, checking each container."""
    assert {d["format"] for d in deltas} == {fmt}
    assert {d["sampleRate"] for d in deltas} == {rate}
    if fmt == "pcm16":
        assert all(len(d["audio"]) % 2 == 0 for d in deltas)
        pcm = b"".join(d["audio"] for d in deltas)
        return pcm, seconds(pcm, rate)
    if fmt == "wav":
        parts = []
        for delta in deltas:
            if not delta["audio"]:
                assert delta["final"], f"empty WAV delta {delta['sequence']} is not the final one"
                continue
            pcm, wav_rate = read_wav(delta["audio"])  # each delta a whole WAV file
            assert wav_rate == rate
            parts.append(pcm)
        pcm = b"".join(parts)
        return pcm, seconds(pcm, rate)
    assert fmt == "mp3"
    stream = b"".join(d["audio"] for d in deltas)
    frames, mp3_rate, duration = mp3_frames(stream)
    assert frames > 0
    assert mp3_rate == rate
    return None, duration


def check_speech(result: TurnResult, fmt: str, rate: int) -> None:
    pcm, duration = decode(result.deltas, fmt, rate)
    n_words = len(result.reply["text"].split())
    low, high = SECONDS_PER_WORD
    assert low * n_words <= duration <= high * n_words, (duration, n_words)
    if pcm is not None:
        assert rms(pcm) > MIN_RMS, "the reply is silence"


def check_transcript(result: TurnResult) -> None:
    transcript = result.transcript
    assert "weather" in transcript["text"].split()
    assert transcript["provider"] == "local"
    assert transcript["model"] == "pocketsphinx-en-us"
    assert transcript["language"] == "en-US"
    # The whole recording was committed: its duration, to the millisecond.
    assert abs(transcript["durationMs"] - manifest()[WEATHER]["seconds"] * 1000) < 5
    assert result.initialized == {
        "itemId": result.item_id,
        "format": "pcm16",
        "sampleRate": 16000,
    }


def check_mode(result: TurnResult, mode: str, fmt: str) -> None:
    deltas, reply = result.deltas, result.reply["text"]
    assert reply.strip()
    spoken = [d["text"] for d in deltas if "text" in d]
    if mode == "single":
        assert len(deltas) == 1
        assert spoken == [reply]
        return
    # chain and stream: each sentence's text rides on the delta that starts speaking it.
    assert spoken == sentences(reply)
    assert " ".join(spoken) == reply
    assert "text" in deltas[0]
    if mode == "chain":
        # One delta per sentence, plus possibly a closing final delta without text (and, but for
        # MP3's encoder flush, without audio).
        extra = deltas[len(spoken) :]
        assert all("text" in d for d in deltas[: len(spoken)])
        assert len(extra) <= 1, extra
        if extra:
            assert "text" not in extra[0]
            assert extra[0]["final"]
            if fmt != "mp3":
                assert extra[0]["audio"] == b""
        return
    assert mode == "stream"
    assert len(deltas) >= 3 * len(spoken), "stream mode sent whole sentences, not chunks"
    if fmt == "mp3":
        return
    rate = deltas[0]["sampleRate"]
    durations = [
        seconds(read_wav(d["audio"])[0] if fmt == "wav" else d["audio"], rate) for d in deltas[:-1]
    ]
    for index, duration in enumerate(durations):
        assert duration <= 0.21, (index, duration)
        ends_sentence = index + 1 == len(durations) or "text" in deltas[index + 1]
        if not ends_sentence:
            # About 100-200 ms, but for the sentence's last chunk.
            assert duration >= 0.09, (index, duration)


@pytest.mark.parametrize("mode", ["single", "chain", "stream"])
@pytest.mark.parametrize(("fmt", "rate"), [("pcm16", 24000), ("wav", 48000), ("mp3", 24000)])
async def test_full_turn(server: RunningServer, mode: str, fmt: str, rate: int) -> None:
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {"tts": {"responseType": mode}, "outputAudio": {"format": fmt, "sampleRate": rate}},
    )
    updated = await sender.wait_for("session.updated")
    assert updated["tts"]["responseType"] == mode
    assert updated["outputAudio"] == {"format": fmt, "sampleRate": rate}

    result = await run_turn(sender, receiver, clip(WEATHER), chunk_bytes=CHUNK_BYTES)

    check_transcript(result)
    check_response(result)
    check_mode(result, mode, fmt)
    check_speech(result, fmt, rate)
    # Nothing of the response arrives after its final delta.
    count = len(receiver.named("response.audio.delta"))
    await receiver.quiet()
    assert len(receiver.named("response.audio.delta")) == count


async def test_output_rate_changes_samples_not_duration(server: RunningServer) -> None:
    """The same reply at 24 kHz and at 16 kHz: the sample count scales with the rate, the
    duration stays (espeak-ng itself speaks at 22.05 kHz, so both are resampled)."""
    sender, receiver = await server.pair()
    durations = {}
    for rate in (24000, 16000):
        mark = sender.mark()
        await sender.emit(
            "session.update", {"outputAudio": {"format": "pcm16", "sampleRate": rate}}
        )
        updated = await sender.wait_for("session.updated", after=mark)
        assert updated["outputAudio"]["sampleRate"] == rate
        result = await run_turn(sender, receiver, clip(WEATHER))
        check_response(result)
        assert {d["sampleRate"] for d in result.deltas} == {rate}
        pcm, duration = decode(result.deltas, "pcm16", rate)
        assert pcm is not None and rms(pcm) > MIN_RMS
        durations[rate] = (duration, result.reply["text"])
    (d24, text24), (d16, text16) = durations[24000], durations[16000]
    assert text24 == text16
    assert abs(d24 - d16) / d24 < 0.05, durations
