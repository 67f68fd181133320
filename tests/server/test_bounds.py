"""Issue 12, findings 2 and the audio budget: what a client sends is bounded before it costs.

* The 1 Hz WAV bomb: a 120 KB WAV whose header claims 1 Hz asked the resampler for ~3.9 GB on
  the event loop. The header is now checked before any audio is read (``invalid_audio``), WAV
  decoding runs off the loop, memory stays flat and other clients' round trips are unaffected.
* An audio flood: a Sender appending far faster than real time gets one ``rate_limited``, the
  audio past its budget is dropped, and the same session serves its next real turn.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from pathlib import Path

import pytest

from tests.server.audio_checks import WEATHER, clip, make_wav
from tests.server.conftest import ServeFn
from tests.server.fakes import ChunkTts, InstantStt, ScriptedLlm, heard
from tests.server.harness import ChatClient

FAKES = {
    "stt": {"local": lambda env: InstantStt()},
    "llm": {"local": lambda env: ScriptedLlm()},
    "tts": {"local": lambda env: ChunkTts()},
}


def rss_mb() -> float:
    """This process's resident memory (the server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def wav_claiming(rate: int, channels: int = 1, width: int = 2, size: int = 120_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(bytes(size))
    return buffer.getvalue()


async def round_trips(client: ChatClient, stop: asyncio.Event) -> list[float]:
    """Empty session.update -> session.updated, again and again: each round trip's seconds."""
    times = []
    while not stop.is_set():
        mark = client.mark()
        started = time.monotonic()
        await client.emit("session.update", {})
        await client.wait_for("session.updated", after=mark, within=10)
        times.append(time.monotonic() - started)
        await asyncio.sleep(0.02)
    return times


async def test_the_1_hz_wav_bomb_is_refused_before_it_allocates(serve: ServeFn) -> None:
    server = await serve(factories=FAKES)
    attacker, _ = await server.pair()
    bystander, _ = await server.pair()
    stop = asyncio.Event()
    watching = asyncio.create_task(round_trips(bystander, stop))
    await asyncio.sleep(0.2)
    before = rss_mb()
    bomb = wav_claiming(1)
    for _ in range(20):
        mark = attacker.mark()
        await attacker.emit("input.buffer.append", bomb)
        error = await attacker.wait_error("invalid_audio", after=mark, within=5)
        assert "1 Hz" in error["message"], error
    peak = rss_mb()
    stop.set()
    trips = await watching
    print(
        f"20 x 120 KB WAVs claiming 1 Hz: RSS {before:.0f} -> {peak:.0f} MB;"
        f" bystander round trips: {len(trips)}, worst {max(trips) * 1000:.0f} ms"
    )
    assert peak - before < 30
    assert max(trips) < 0.5
    assert "input.buffer.initialized" not in attacker.names()
    # The attacker's connection still works: a real WAV (8 kHz, resampled) makes a turn.
    mark = attacker.mark()
    pcm_8k = clip(WEATHER)[::2]
    await attacker.emit("input.buffer.append", make_wav(pcm_8k, 8000))
    await attacker.commit()
    done = await attacker.wait_for("request.transcribe.done", after=mark)
    assert done["text"] == heard(len(pcm_8k) * 2, 16000)


@pytest.mark.parametrize(
    ("rate", "channels", "width", "why"),
    [
        (96_000, 1, 2, "96000 Hz"),
        (7_999, 1, 2, "7999 Hz"),
        (16_000, 3, 2, "3 channels"),
        (16_000, 1, 1, "8-bit"),
        (16_000, 1, 4, "32-bit"),
    ],
)
async def test_wav_headers_outside_what_is_accepted_are_refused(
    serve: ServeFn, rate: int, channels: int, width: int, why: str
) -> None:
    server = await serve(factories=FAKES)
    sender, _ = await server.pair()
    await sender.emit("input.buffer.append", wav_claiming(rate, channels, width, 6000))
    error = await sender.wait_error("invalid_audio")
    assert why in error["message"], error


async def test_an_audio_flood_is_rate_limited_and_the_session_serves_its_next_turn(
    serve: ServeFn,
) -> None:
    burst_s, rate = 3.0, 1.5
    server = await serve(audio_rate=rate, audio_burst_seconds=burst_s, factories=FAKES)
    sender, receiver = await server.pair()
    flood = b"\x01\x00" * 16000 * 30  # 30 s of audio, sent as fast as the socket takes it
    started = time.monotonic()
    await sender.send_pcm(flood)
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done")
    flooded_s = time.monotonic() - started  # the server has read all of it by now
    errors = sender.named("custom.error")
    # Told at once, then at most once a second while it goes on: not once per refused chunk.
    assert 1 <= len(errors) <= 1 + flooded_s, errors
    assert {e["code"] for e in errors} == {"rate_limited"}, errors
    admitted_ms = int(done["text"].split()[1])
    print(f"30 s flood in {flooded_s:.2f} s: {admitted_ms} ms admitted, {len(errors)} rate_limited")
    assert burst_s * 1000 - 100 <= admitted_ms <= (burst_s + rate * flooded_s) * 1000 + 100
    await receiver.wait_final(done["itemId"])

    # The next real turn, spoken in real time right after the flood, is served whole. A person
    # starts it a moment after the reply; the flood left the budget empty (up to a chunk owed),
    # and a chunk that came before it held anything would be refused (and told, unless the
    # flood was told within the last second): 0.2 s refill 0.3 s of audio, past any jitter.
    await asyncio.sleep(0.2)
    recovery_started = time.monotonic()
    mark = sender.mark()
    speech = b"\x02\x00" * 16000 * 2
    for offset in range(0, len(speech), 640):
        await sender.emit("input.buffer.append", speech[offset : offset + 640])
        await asyncio.sleep(0.02)
    await sender.commit()
    done = await sender.wait_for("request.transcribe.done", after=mark)
    recovered_s = time.monotonic() - recovery_started
    print(f"next real 2 s turn transcribed {recovered_s:.2f} s after the flood ended")
    assert done["text"] == heard(len(speech), 16000)
    assert not sender.named("custom.error", after=mark)
    assert recovered_s < 5.0
