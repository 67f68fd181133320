"""``python -m bench.turns [--quick]``: turn taking measured through the server (issue 9).

A real server (``create_app``, in this process, on loopback) with fast fake providers, and real
Socket.IO clients; server VAD is the real Silero engine. Figures:

- end of speech -> ``input.speech.stopped`` and -> ``input.buffer.committed`` at the Sender,
  p50/p95 (target ``silenceDurationMs`` + 100 ms), for 1 and for ``--sessions`` Senders streaming
  the repository's speech, padded with silence, in 20 ms appends at real time. The end of speech
  is when the append holding the words' last sample was sent (bounds from the audio's level);
- false starts: ``input.speech.started`` from silence and from noise-only audio (target 0);
- barge-in: a reply streaming deltas, the person talks over it: ``input.speech.started`` at the
  Sender -> ``response.cancelled`` at the Receiver, and the onset of the speech + ``minSpeechMs``
  (when a turn can start at the earliest) -> ``response.cancelled`` (target < 50 ms p95 for what
  the server adds); deltas of the cancelled response after ``response.cancelled`` (target none);
- echo: the embedded speech engine's reply, as the Receiver got it, fed back into the Sender's
  microphone at several levels and delays, directly and through a room, while the reply is in
  flight: turns it starts (the echo guard's false barge-ins; target 0), and whether a person
  talking over it still interrupts. ``--only echo`` runs just this section.

The load generator shares this process (and core) with the server, so the times include it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np

from bench.common import JSON, machine, summary_ms, today, write_json
from handlers.providers.base import PcmChunk, TtsRequest
from tests.server.fakes import ChunkTts, HeldLlm, InstantStt, ScriptedLlm
from tests.server.harness import ChatClient, RunningServer, make_config, make_registry
from tests.vad.signals import RATE, Speech, echo_path, noise, pcm16, silence, speech_fixtures

CHUNK_MS = 20
CHUNK_BYTES = RATE * CHUNK_MS // 1000 * 2
SILENCE_MS = 500
MIN_SPEECH_MS = 250
TARGET_MS = SILENCE_MS + 100


class PacedTts(ChunkTts):
    """Streams 100 ms chunks every 20 ms for as long as the text is (0.5 s a word): a reply
    that is still sending deltas when the person barges in."""

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        for _ in range(len(text.split()) * 5):
            yield PcmChunk(b"\x10\x00" * (self.rate // 10), self.rate)
            await asyncio.sleep(0.02)


async def start_server(tts: ChunkTts, llm: ScriptedLlm) -> RunningServer:
    registry = make_registry(
        {
            "stt": {"local": lambda env: InstantStt()},
            "llm": {"local": lambda env: llm},
            "tts": {"local": lambda env: tts},
        }
    )
    return await RunningServer(make_config(), registry).start()


async def vad_pair(
    server: RunningServer, response_type: str = "chain"
) -> tuple[ChatClient, ChatClient]:
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {"turnDetection": {"type": "server_vad"}, "tts": {"responseType": response_type}},
    )
    await sender.wait_for("session.updated")
    return sender, receiver


async def stream_real_time(
    sender: ChatClient, pcm: bytes, on_chunk: Callable[[int, float], None] | None = None
) -> None:
    """Append ``pcm`` in 20 ms chunks, each at its real time; ``on_chunk(end_ms, sent_at)``."""
    began = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), CHUNK_BYTES)):
        due = began + index * CHUNK_MS / 1000
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await sender.emit("input.buffer.append", pcm[offset : offset + CHUNK_BYTES])
        if on_chunk is not None:
            on_chunk((index + 1) * CHUNK_MS, time.monotonic())


def padded(speech: Speech, before_s: float, after_s: float) -> bytes:
    return pcm16(np.concatenate((silence(before_s), speech.samples, silence(after_s))))


# -- end of speech -> stopped / committed ------------------------------------------------------


async def end_of_speech(server: RunningServer, sessions: int, rounds: int) -> JSON:
    fixtures = speech_fixtures()
    stopped: list[float] = []
    committed: list[float] = []
    after_silence: list[float] = []
    pacing: list[float] = []
    missed = 0

    async def one(index: int) -> None:
        nonlocal missed
        sender, _ = await vad_pair(server)
        for round_ in range(rounds):
            speech = fixtures[(index + round_) % len(fixtures)]
            before_s = 0.4 + 0.1 * (index % 3)
            pcm = padded(speech, before_s, SILENCE_MS / 1000 + 0.6)
            end_ms = before_s * 1000 + speech.end_ms
            ended_at: list[float] = []
            silent_at: list[float] = []

            def note(
                chunk_end_ms: int,
                sent_at: float,
                end: float = end_ms,
                into: list[float] = ended_at,
                silent: list[float] = silent_at,
            ) -> None:
                if not into and chunk_end_ms >= end:
                    into.append(sent_at)
                if not silent and chunk_end_ms >= end + SILENCE_MS:
                    silent.append(sent_at)

            mark = sender.mark()
            await stream_real_time(sender, pcm, note)
            try:
                stop = await sender.wait_event("input.speech.stopped", after=mark, within=5)
                commit = await sender.wait_event("input.buffer.committed", after=mark, within=5)
            except AssertionError:
                missed += 1
                continue
            stopped.append(stop.at - ended_at[0])
            committed.append(commit.at - ended_at[0])
            after_silence.append(commit.at - silent_at[0])
            pacing.append(silent_at[0] - ended_at[0] - SILENCE_MS / 1000)
        await sender.disconnect()

    await asyncio.gather(*(one(index) for index in range(sessions)))
    return {
        "sessions": sessions,
        "turns": len(committed),
        "missed": missed,
        "end_to_stopped_ms": summary_ms(stopped),
        "end_to_committed_ms": summary_ms(committed),
        "silence_sent_to_committed_ms": summary_ms(after_silence),
        "sender_lag_ms": summary_ms(pacing),
        "target_ms": TARGET_MS,
    }


# -- false starts ------------------------------------------------------------------------------


async def false_starts(server: RunningServer, seconds: float) -> JSON:
    """Silence and noise-only audio, sent faster than real time (VAD runs on audio time)."""
    kinds = {
        "silence": silence(seconds),
        "noise_-60dB": noise(seconds, -60.0, seed=1),
        "noise_-45dB": noise(seconds, -45.0, seed=2),
        "noise_-30dB": noise(seconds, -30.0, seed=3),
    }
    found: dict[str, int] = {}
    for name, samples in kinds.items():
        sender, _ = await vad_pair(server)
        await sender.send_pcm(pcm16(samples))
        await asyncio.sleep(1.0)
        found[name] = len(sender.named("input.speech.started"))
        await sender.disconnect()
    return {"seconds_each": seconds, "starts": found}


# -- echo --------------------------------------------------------------------------------------


def microphone(
    delta: Any, echo_db: float, delay_ms: int, person: Speech | None, room: bool = False
) -> bytes:
    """The reply's first delta heard ``echo_db`` down ``delay_ms`` late (with ``room``, through a
    small loudspeaker and a room's reverberation), over room noise, and optionally a person
    talking from 0.8 s on."""
    from handlers.audio import resample_pcm16

    heard = resample_pcm16(delta["audio"], delta["sampleRate"], RATE)
    reply = echo_path(np.frombuffer(heard, dtype="<i2").astype(np.float32) / 32768.0, room)
    mic = noise(delay_ms / 1000 + reply.size / RATE + 1.0, -60.0, seed=delay_ms)
    start = delay_ms * RATE // 1000
    mic[start : start + reply.size] += reply * 10 ** (echo_db / 20)
    if person is not None:
        at = int(0.8 * RATE)
        end = min(mic.size, at + person.samples.size)
        mic[at:end] += person.samples[: end - at]
    return pcm16(mic)


async def echo(levels: Sequence[float], delays: Sequence[int]) -> JSON:
    llm = HeldLlm()
    registry = make_registry({"llm": {"local": lambda env: llm}})
    server = await RunningServer(make_config(), registry).start()
    fixtures = speech_fixtures()
    rows = []
    try:
        for room, echo_db, delay_ms in itertools.product((False, True), levels, delays):
            row: dict[str, Any] = {"echo_db": echo_db, "delay_ms": delay_ms, "room": room}
            for person in (None, fixtures[1]):
                sender, receiver = await vad_pair(server, "chain")
                await sender.send_pcm(padded(fixtures[0], 0.3, 0.8))
                delta = await receiver.wait_for("response.audio.delta", within=20)
                mark = sender.mark()
                await sender.send_pcm(microphone(delta, echo_db, delay_ms, person, room))
                await asyncio.sleep(0.8)
                if person is None:
                    row["false_starts"] = len(sender.named("input.speech.started", after=mark))
                else:
                    row["person_interrupts"] = "response.cancelled" in receiver.names()
                llm.go.set()
                llm.go = asyncio.Event()
                await sender.disconnect()
                await receiver.disconnect()
            rows.append(row)
    finally:
        await server.stop()
    return {"trials": rows}


# -- barge-in ----------------------------------------------------------------------------------


async def barge_in(trials: int) -> JSON:
    llm = HeldLlm()  # the model holds after its first sentence: the reply is being generated
    server = await start_server(PacedTts(), llm)
    fixtures = speech_fixtures()
    from_started: list[float] = []
    from_earliest: list[float] = []
    late_deltas = 0
    try:
        for trial in range(trials):
            sender, receiver = await vad_pair(server, "stream")
            first = fixtures[trial % len(fixtures)]
            await sender.send_pcm(padded(first, 0.3, SILENCE_MS / 1000 + 0.3))
            await receiver.wait_for("response.audio.delta", within=10)
            await asyncio.sleep(0.2)  # deltas streaming
            person = fixtures[(trial + 1) % len(fixtures)]
            lead_s = 0.2
            earliest_ms = lead_s * 1000 + person.start_ms + MIN_SPEECH_MS
            earliest: list[float] = []

            def note(
                chunk_end_ms: int,
                sent_at: float,
                at: float = earliest_ms,
                into: list[float] = earliest,
            ) -> None:
                if not into and chunk_end_ms >= at:
                    into.append(sent_at)

            s_mark, r_mark = sender.mark(), receiver.mark()
            talking = asyncio.create_task(
                stream_real_time(sender, padded(person, lead_s, 0.0), note)
            )
            cancelled = await receiver.wait_event("response.cancelled", after=r_mark, within=10)
            started = await sender.wait_event("input.speech.started", after=s_mark, within=5)
            await talking
            await asyncio.sleep(0.3)
            response = cancelled.payload["responseId"]
            late_deltas += sum(
                1
                for event in receiver.events[r_mark:]
                if event.name == "response.audio.delta"
                and event.payload["responseId"] == response
                and event.at > cancelled.at
            )
            from_started.append(cancelled.at - started.at)
            from_earliest.append(cancelled.at - earliest[0])
            llm.go.set()
            llm.go = asyncio.Event()
            await sender.disconnect()
            await receiver.disconnect()
    finally:
        await server.stop()
    return {
        "trials": trials,
        "speech_started_to_cancelled_ms": summary_ms(from_started),
        "earliest_turn_to_cancelled_ms": summary_ms(from_earliest),
        "deltas_after_cancelled": late_deltas,
    }


PARTS = ("speech", "echo", "barge_in")
"""The sections of the run: end of speech and false starts, echo, barge-in."""


async def run(
    quick: bool, log: Callable[[str], None], sessions: int = 20, parts: Sequence[str] = PARTS
) -> JSON:
    result: JSON = {}
    if "speech" in parts:
        server = await start_server(ChunkTts(), ScriptedLlm())
        try:
            rows = []
            for count in (1, sessions):
                row = await end_of_speech(server, count, 3 if quick else 6)
                rows.append(row)
                stop, commit = row["end_to_stopped_ms"], row["end_to_committed_ms"]
                log(
                    f"  {count} real-time Senders: end of speech -> input.speech.stopped p50"
                    f" {stop['p50']} / p95 {stop['p95']} ms, -> input.buffer.committed p50"
                    f" {commit['p50']} / p95 {commit['p95']} ms (target {TARGET_MS}); the append"
                    f" completing {SILENCE_MS} ms of silence -> committed p50"
                    f" {row['silence_sent_to_committed_ms']['p50']} / p95"
                    f" {row['silence_sent_to_committed_ms']['p95']} ms; the Senders' own lag"
                    f" sending that silence p95 {row['sender_lag_ms']['p95']} ms; {row['turns']}"
                    f" turns, {row['missed']} missed"
                )
            spurious = await false_starts(server, 10.0 if quick else 30.0)
            log(f"  false starts in {spurious['seconds_each']} s each: {spurious['starts']}")
        finally:
            await server.stop()
        result["end_of_speech"] = rows
        result["false_starts"] = spurious
    if "echo" in parts:
        echoes = await echo([-6.0, -12.0, -20.0], [60, 150] if quick else [60, 150, 300])
        for row in echoes["trials"]:
            log(
                f"  echo {row['echo_db']} dB{' through a room' if row['room'] else ''},"
                f" {row['delay_ms']} ms late: {row['false_starts']} turns started by it; a"
                f" person over it interrupts: {row['person_interrupts']}"
            )
        result["echo"] = echoes
    if "barge_in" in parts:
        barge = await barge_in(5 if quick else 15)
        log(
            f"  barge-in ({barge['trials']} trials): input.speech.started -> response.cancelled"
            f" p50 {barge['speech_started_to_cancelled_ms']['p50']} / p95"
            f" {barge['speech_started_to_cancelled_ms']['p95']} ms; onset + minSpeechMs ->"
            f" response.cancelled p50 {barge['earliest_turn_to_cancelled_ms']['p50']} / p95"
            f" {barge['earliest_turn_to_cancelled_ms']['p95']} ms; deltas after"
            f" response.cancelled: {barge['deltas_after_cancelled']}"
        )
        result["barge_in"] = barge
    return result


def turns_rows(run: JSON) -> list[tuple[str, str, str, str, str, str]]:
    """The README table's rows (see bench/report.py)."""
    from bench.report import _meets, _stamp

    data = run["result"]
    where, date = _stamp(run)
    rows = []
    for row in data["end_of_speech"]:
        stop, commit = row["end_to_stopped_ms"], row["end_to_committed_ms"]
        rows.append(
            (
                f"Server VAD through the server, {row['sessions']} real-time"
                f" {'Sender' if row['sessions'] == 1 else 'Senders'}: end of speech ->"
                " input.speech.stopped / input.buffer.committed",
                f"p50 {stop['p50']} / p95 {stop['p95']} ms; p50 {commit['p50']} / p95"
                f" {commit['p95']} ms ({row['turns']} turns, {row['missed']} missed; the"
                f" Senders' own lag sending the silence p95 {row['sender_lag_ms']['p95']} ms,"
                f" last silence append -> commit p95"
                f" {row['silence_sent_to_committed_ms']['p95']} ms)",
                f"silenceDurationMs + 100 = {row['target_ms']} ms",
                _meets((commit["p95"] or 1e9) <= row["target_ms"] and not row["missed"]),
                where,
                date,
            )
        )
    starts = data["false_starts"]["starts"]
    rows.append(
        (
            f"False starts through the server ({data['false_starts']['seconds_each']} s each)",
            ", ".join(f"{name} {count}" for name, count in starts.items()),
            "0",
            _meets(not any(starts.values())),
            where,
            date,
        )
    )
    if "echo" in data:
        trials = data["echo"]["trials"]
        rows.append(
            (
                "Echo of the avatar's reply through the server (embedded TTS; levels"
                f" {sorted({t['echo_db'] for t in trials})} dB, delays"
                f" {sorted({t['delay_ms'] for t in trials})} ms; direct"
                f"{' and through a room' if any(t.get('room') for t in trials) else ''}): turns"
                " it starts; a person talking over it interrupts",
                f"{sum(t['false_starts'] for t in trials)} false starts in {len(trials)} trials;"
                f" person heard in {sum(bool(t['person_interrupts']) for t in trials)} of"
                f" {len(trials)}",
                "0; all",
                _meets(
                    not any(t["false_starts"] for t in trials)
                    and all(t["person_interrupts"] for t in trials)
                ),
                where,
                date,
            )
        )
    barge = data["barge_in"]
    latency = barge["speech_started_to_cancelled_ms"]
    earliest = barge["earliest_turn_to_cancelled_ms"]
    rows.append(
        (
            f"Barge-in ({barge['trials']} trials): input.speech.started -> response.cancelled;"
            " onset + minSpeechMs -> response.cancelled; deltas after it",
            f"p50 {latency['p50']} / p95 {latency['p95']} ms; p50 {earliest['p50']} / p95"
            f" {earliest['p95']} ms; {barge['deltas_after_cancelled']} deltas",
            "< 50 ms p95; none after",
            _meets((earliest["p95"] or 1e9) < 50 and barge["deltas_after_cancelled"] == 0),
            where,
            date,
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, default=PARTS, help="run only these sections"
    )
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    log("Turn taking through the server (server VAD, barge-in):")
    result: Any = asyncio.run(run(args.quick, log, args.sessions, args.only))
    data = {
        "name": "turns",
        "date": today(),
        "machine": machine(),
        "quick": args.quick,
        "result": result,
    }
    name = "turns.quick" if args.quick else "turns"
    if tuple(args.only) != PARTS:  # a partial run does not replace the full run's figures
        name += "." + "-".join(args.only)
    path = write_json(name, data)
    log(f"  wrote {path}")


if __name__ == "__main__":
    main()
