"""``python -m bench.animation [--quick]``: lip-sync figures.

* visemes per second of speech (how often the mouth changes shape), for the local voice's exact
  timings and for the estimate on the Piper recordings;
* agreement with audio energy: the share of 10 ms frames where the mouth rests exactly when the
  audio is silent, judged per 150 ms delta on that delta's clock;
* what timings cost the local TTS: time to first audio with and without espeak-ng's phoneme
  events captured (target: under 5 ms more), and the whole synthesis's extra time (reading the
  events and building the reply's timeline included).

The estimate's own cost (the reference the server makes, ``handlers.animation.reference``'s
``REFERENCE_METHOD``, plus the fit) is printed too: for a provider without timings it is work
beside the provider's synthesis, not on its first audio. ``bench.lipsync_reference`` compares
the two references.

Through the server (a real server on loopback, real Socket.IO clients; instant STT, a scripted
model speaking the repository's texts): visemes per second and agreement judged on the deltas a
Receiver got, for every response type, and the time from commit to the first audio delta with the
session's ``animation`` on and off (alternating turns), for the local voice and for Polly (its
loopback fake on its own thread and loop, speech marks asked for beside the audio). First audio
is timed where the server hands the delta to Socket.IO, since the clients share its process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from generated.models import Viseme
from handlers.animation.energy import FRAME_MS, frame_rms, voiced_frames
from handlers.animation.estimate import estimate_timeline
from handlers.animation.reference import (
    REFERENCE_METHOD,
    TimedAudio,
    synthesize_on_espeak_thread,
    transcribe_on_espeak_thread,
)
from handlers.animation.timeline import DeltaAligner, DeltaTimings, Timeline
from handlers.pipeline import Reply
from handlers.providers.base import LlmRequest, PcmChunk, TtsRequest
from handlers.providers.toolkit import NothingToClose
from handlers.providers.tts.aws import PollyTextToSpeech
from tests.data import SPEECH_DIR
from tests.fakes.aws_common import aws_env
from tests.fakes.aws_polly import FakePolly
from tests.server.fakes import InstantStt
from tests.server.harness import ChatClient, RunningServer, make_config, make_registry

DELTA_SECONDS = 0.15
SERVER_RATE = 24_000
EXTRA_TEXTS = (
    "Hello, how are you? I cannot see the sky from here; what would you like it to be?",
    "The museum opens at nine in the morning and closes at six, except on public holidays.",
)


def texts_and_recordings() -> tuple[list[str], list[tuple[str, bytes, int]]]:
    manifest: list[dict[str, Any]] = json.loads((SPEECH_DIR / "manifest.json").read_text())
    recordings = []
    for entry in manifest:
        with wave.open(str(SPEECH_DIR / entry["file"])) as wav:
            recordings.append((entry["text"], wav.readframes(wav.getnframes()), wav.getframerate()))
    return [entry["text"] for entry in manifest] + list(EXTRA_TEXTS), recordings


def synth(text: str, *, timings: bool) -> TimedAudio:
    return synthesize_on_espeak_thread(text, timings=timings).result()


def estimate_reference(text: str) -> Timeline:
    """The reference the server fits for ``text`` (``REFERENCE_METHOD``'s)."""
    if REFERENCE_METHOD == "text":
        return transcribe_on_espeak_thread(text).result()
    reference = synth(text, timings=True).timeline
    assert reference is not None
    return reference


def judge(timeline: Timeline, pcm: bytes, rate: int) -> tuple[int, int, int, float]:
    """(agreeing frames, frames, shape changes, seconds of speech) with 150 ms deltas."""
    voiced = voiced_frames(frame_rms(pcm, rate)).tolist()
    size = round(rate * DELTA_SECONDS)
    aligner = DeltaAligner()
    aligner.append(timeline)
    deltas: list[tuple[float, DeltaTimings]] = []
    for start in range(0, len(pcm) // 2, size):
        n = min(size, len(pcm) // 2 - start)
        deltas.append((start * 1000 / rate, aligner.take(n, rate)))
    agree, index = 0, 0
    for frame, sound in enumerate(voiced):
        middle = (frame + 0.5) * FRAME_MS
        while index + 1 < len(deltas) and deltas[index + 1][0] <= middle:
            index += 1
        start_ms, delta = deltas[index]
        shape = Viseme.SIL
        for mark in delta.visemes:
            if mark.offset_ms > middle - start_ms:
                break
            shape = mark.id
        agree += (shape != Viseme.SIL) == sound
    changes = sum(1 for m in timeline.visemes if m.viseme != Viseme.SIL)
    return agree, len(voiced), changes, sum(voiced) * FRAME_MS / 1000


def summarise(rows: list[tuple[int, int, int, float]]) -> tuple[float, float]:
    agree = sum(r[0] for r in rows) / sum(r[1] for r in rows)
    per_second = sum(r[2] for r in rows) / sum(r[3] for r in rows)
    return per_second, agree


def first_audio_costs(texts: list[str], rounds: int) -> dict[str, float]:
    plain_first: list[float] = []
    timed_first: list[float] = []
    plain_total: list[float] = []
    timed_total: list[float] = []
    for _ in range(rounds):
        for text in texts:
            # Alternate, so drift in the machine's load hits both alike.
            for timings, firsts, totals in (
                (False, plain_first, plain_total),
                (True, timed_first, timed_total),
            ):
                began = time.perf_counter()
                result = synth(text, timings=timings)
                ended = time.perf_counter()
                assert result.first_audio_at is not None
                firsts.append((result.first_audio_at - result.started_at) * 1000)
                totals.append((ended - began) * 1000)
    return {
        "first_audio_ms_without": statistics.median(plain_first),
        "first_audio_ms_with": statistics.median(timed_first),
        "first_audio_extra_ms": statistics.median(timed_first) - statistics.median(plain_first),
        "synthesis_extra_ms": statistics.median(timed_total) - statistics.median(plain_total),
    }


def run(quick: bool, log: Callable[[str], None] = print) -> dict[str, float]:
    texts, recordings = texts_and_recordings()
    local_rows = []
    for text in texts:
        result = synth(text, timings=True)
        assert result.timeline is not None
        local_rows.append(judge(result.timeline, result.pcm, result.sample_rate))
    local_vps, local_agree = summarise(local_rows)

    estimated_rows, estimate_ms = [], []
    for text, pcm, rate in recordings:
        began = time.perf_counter()
        timeline = estimate_timeline(estimate_reference(text), pcm, rate)
        estimate_ms.append((time.perf_counter() - began) * 1000)
        estimated_rows.append(judge(timeline, pcm, rate))
    estimated_vps, estimated_agree = summarise(estimated_rows)

    costs = first_audio_costs(texts, 3 if quick else 15)
    figures = {
        "local_visemes_per_second": local_vps,
        "local_agreement_percent": 100 * local_agree,
        "estimated_visemes_per_second": estimated_vps,
        "estimated_agreement_percent": 100 * estimated_agree,
        "estimate_ms_per_sentence": statistics.median(estimate_ms),
        **costs,
    }
    log(
        f"local (espeak-ng events): {local_vps:.1f} visemes/s of speech, "
        f"{100 * local_agree:.1f}% of 10 ms frames agree with audio energy"
    )
    log(
        f"estimated (Piper recordings): {estimated_vps:.1f} visemes/s, "
        f"{100 * estimated_agree:.1f}% agree; {figures['estimate_ms_per_sentence']:.1f} ms "
        f"per sentence ({REFERENCE_METHOD} reference + fit, beside the provider's synthesis)"
    )
    log(
        f"local TTS first audio: {costs['first_audio_ms_without']:.2f} ms without timings, "
        f"{costs['first_audio_ms_with']:.2f} ms with (+{costs['first_audio_extra_ms']:.2f} ms; "
        f"target < 5 ms); whole synthesis +{costs['synthesis_extra_ms']:.2f} ms"
    )
    return figures


class ScriptedReplies(NothingToClose):
    """Answers each turn with the next text, word by word, round and round."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = itertools.cycle(texts)

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        for index, word in enumerate(next(self._texts).split(" ")):
            yield word if index == 0 else " " + word
            await asyncio.sleep(0)


async def server_figures(quick: bool, log: Callable[[str], None] = print) -> dict[str, float]:
    texts, _ = texts_and_recordings()
    _note_first_deltas()
    polly, polly_loop = _polly_elsewhere()
    aws = aws_env(AWS_ENDPOINT_URL_POLLY=polly.endpoint)
    factories: Any = {
        "stt": {"openai": lambda env: InstantStt()},
        "llm": {"openai": lambda env: ScriptedReplies(texts)},
        "tts": {"aws": lambda env: PollyTextToSpeech.from_env(aws)},
    }
    server = await RunningServer(make_config(), make_registry(factories)).start()
    figures: dict[str, float] = {}
    try:
        for mode in ("single", "chain", "stream"):
            turns = await _turns(server, "local", mode, True, len(texts))
            vps, agree = _judge_deltas(turns)
            figures[f"server_{mode}_visemes_per_second"] = vps
            figures[f"server_{mode}_agreement_percent"] = 100 * agree
            log(
                f"through the server, local voice, {mode}: {vps:.1f} visemes/s of speech, "
                f"{100 * agree:.1f}% of 10 ms frames agree with audio energy"
            )
        rounds = 2 if quick else 8
        for tts, mode in (("local", "stream"), ("local", "chain"), ("aws", "stream")):
            first: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(rounds):
                for animation in (False, True) if round_ % 2 else (True, False):
                    for turn in await _turns(server, tts, mode, animation, len(texts)):
                        first[animation].append(turn.first_audio_ms)
            extra = statistics.median(first[True]) - statistics.median(first[False])
            figures[f"server_{tts}_{mode}_first_audio_extra_ms"] = extra
            log(
                f"through the server, {tts} voice, {mode}: first audio "
                f"{statistics.median(first[False]):.1f} ms after commit without timings, "
                f"{statistics.median(first[True]):.1f} ms with ({extra:+.1f} ms, median of "
                f"{len(first[True])} turns each)"
            )
    finally:
        await server.stop()
        asyncio.run_coroutine_threadsafe(polly.stop(), polly_loop).result(10)
        polly_loop.call_soon_threadsafe(polly_loop.stop)
    figures.update(await _estimated_through_the_server(log))
    return figures


class RecordedVoice(NothingToClose):
    """A voice without timings: the Piper recording of the text, in 100 ms chunks."""

    def __init__(self, recordings: dict[str, tuple[bytes, int]]) -> None:
        self._recordings = recordings

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        pcm, rate = self._recordings[text]
        step = 2 * rate // 10
        for start in range(0, len(pcm), step):
            yield PcmChunk(pcm[start : start + step], rate)
            await asyncio.sleep(0)


async def _estimated_through_the_server(log: Callable[[str], None]) -> dict[str, float]:
    """Estimated timings (a voice that reports none, as OpenAI's) judged on the deltas sent."""
    _, recordings = texts_and_recordings()
    voice = RecordedVoice({text: (pcm, rate) for text, pcm, rate in recordings})
    factories: Any = {
        "stt": {"openai": lambda env: InstantStt()},
        "llm": {"openai": lambda env: ScriptedReplies([text for text, _, _ in recordings])},
        "tts": {"openai": lambda env: voice},
    }
    server = await RunningServer(make_config(), make_registry(factories)).start()
    figures: dict[str, float] = {}
    try:
        for mode in ("single", "chain", "stream"):
            turns = await _turns(server, "openai", mode, True, len(recordings))
            vps, agree = _judge_deltas(turns)
            figures[f"server_estimated_{mode}_visemes_per_second"] = vps
            figures[f"server_estimated_{mode}_agreement_percent"] = 100 * agree
            log(
                f"through the server, estimated (Piper recordings as an OpenAI-like voice), "
                f"{mode}: {vps:.1f} visemes/s of speech, {100 * agree:.1f}% agree"
            )
    finally:
        await server.stop()
    return figures


def _polly_elsewhere() -> tuple[FakePolly, asyncio.AbstractEventLoop]:
    """The fake Polly on its own thread and event loop, as a remote service would be: its work
    serving the second (speech marks) request is not the server's."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="fake-polly", daemon=True).start()

    async def start() -> FakePolly:
        polly = FakePolly()
        await polly.start()
        return polly

    return asyncio.run_coroutine_threadsafe(start(), loop).result(10), loop


FIRST_DELTA_AT: dict[str, float] = {}
"""item id -> time.monotonic() when its response's first delta was handed to Socket.IO."""


def _note_first_deltas() -> None:
    """Time first audio where the server hands it to Socket.IO: the test clients share this
    process, so their reading would also count the server's work beside it (the next chunk's
    marks, which a remote Receiver does not wait for)."""
    original = Reply._delta

    async def noted(self: Reply, audio: bytes, text: str | None, *, final: bool) -> None:
        if self.sequence == 0:
            FIRST_DELTA_AT[self.turn.item_id] = time.monotonic()
        await original(self, audio, text, final=final)

    Reply._delta = noted  # type: ignore[method-assign]


@dataclass
class _Turn:
    first_audio_ms: float
    deltas: list[Any]


async def _turns(
    server: RunningServer, tts: str, mode: str, animation: bool, count: int
) -> list[_Turn]:
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {
            "stt": {"provider": "openai"},
            "llm": {"provider": "openai"},
            "tts": {"provider": tts, "responseType": mode},
            "outputAudio": {"format": "pcm16", "sampleRate": SERVER_RATE},
            "animation": {"visemes": animation, "words": animation},
        },
    )
    await sender.wait_for("session.updated")
    turns = []
    for _ in range(count):
        s0, r0 = sender.mark(), receiver.mark()
        await sender.send_pcm(bytes(6400))
        committed = time.monotonic()
        await sender.commit()
        item = (await sender.wait_for("input.buffer.initialized", after=s0))["itemId"]
        await receiver.wait_final(item, after=r0)
        events = [e for e in receiver.events[r0:] if e.name == "response.audio.delta"]
        deltas = [e for e in events if e.payload["itemId"] == item]
        handed_on = FIRST_DELTA_AT.pop(item)
        turns.append(_Turn((handed_on - committed) * 1000, [d.payload for d in deltas]))
    await _close(sender, receiver)
    return turns


async def _close(*clients: ChatClient) -> None:
    for client in clients:
        await client.disconnect()


def _shape_changes(deltas: list[Any]) -> int:
    """Non-sil shapes the mouth takes on the reply's clock (a delta's first mark only restates
    the shape held as it starts)."""
    changes, shape = 0, "sil"
    for delta in deltas:
        for mark in delta.get("visemes") or []:
            if mark["id"] != shape:
                changes += mark["id"] != "sil"
                shape = mark["id"]
    return changes


def _judge_deltas(turns: list[_Turn]) -> tuple[float, float]:
    """(visemes per second of speech, share of agreeing frames), each frame on its delta's clock."""
    agree = frames = shapes = 0
    speech_s = 0.0
    for turn in turns:
        pcms = [bytes(d["audio"]) for d in turn.deltas]
        starts = [sum(len(p) for p in pcms[:i]) / 2 * 1000 / SERVER_RATE for i in range(len(pcms))]
        voiced = voiced_frames(frame_rms(b"".join(pcms), SERVER_RATE)).tolist()
        speech_s += sum(voiced) * FRAME_MS / 1000
        shapes += _shape_changes(turn.deltas)
        index = 0
        for frame, sound in enumerate(voiced):
            middle = (frame + 0.5) * FRAME_MS
            while index + 1 < len(starts) and starts[index + 1] <= middle:
                index += 1
            shape = "sil"
            for mark in turn.deltas[index].get("visemes") or []:
                if mark["offsetMs"] > middle - starts[index]:
                    break
                shape = mark["id"]
            agree += (shape != "sil") == sound
        frames += len(voiced)
    return shapes / speech_s, agree / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    asyncio.run(asyncio.to_thread(run, args.quick))
    asyncio.run(server_figures(args.quick))


if __name__ == "__main__":
    main()
