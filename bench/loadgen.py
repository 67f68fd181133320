"""The load generator: many Sender/Receiver pairs on one asyncio loop, a socketio.AsyncClient each
(websocket transport).

The functions ending in ``_load`` run in their own process (``bench.common.in_process``): they take
a frozen spec and return plain JSON-able values.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import socketio

from bench.common import (
    JSON,
    SOCKETIO_PATH,
    LagMonitor,
    cpu_seconds,
    summary_ms,
    system_busy_seconds,
)
from bench.wire import WireClient

CHUNK_S = 0.020
SAMPLE_RATE = 16000
OUTPUT_RATE = 24000
CHUNK_BYTES = 2 * round(SAMPLE_RATE * CHUNK_S)  # 640: 20 ms of 16 kHz PCM16
CONNECT_CONCURRENCY = 16


def noise(seconds: float, seed: int = 0) -> bytes:
    """Quiet noise, not silence, so nothing downstream can take a shortcut."""
    rng = random.Random(seed)
    samples = round(seconds * SAMPLE_RATE)
    return b"".join(
        rng.randint(-300, 300).to_bytes(2, "little", signed=True) for _ in range(samples)
    )


def chunks_of(pcm: bytes) -> list[bytes]:
    return [pcm[offset : offset + CHUNK_BYTES] for offset in range(0, len(pcm), CHUNK_BYTES)]


@dataclass
class TurnRecord:
    """One committed utterance, as the clients saw it (loop.time() seconds)."""

    label: str
    committed: float
    transcript_at: float | None = None
    transcript: str | None = None
    text_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None
    audio_bytes: int = 0
    refused: bool = False

    def ms(self, at: float | None) -> float | None:
        return None if at is None else (at - self.committed) * 1000


class Client(Protocol):
    """What a Pair needs of a client: socketio.AsyncClient or bench.wire.WireClient."""

    def on(self, event: str, handler: Callable[[Any], Awaitable[None]]) -> Any: ...

    async def emit(self, event: str, data: Any = None) -> None: ...

    async def disconnect(self) -> None: ...


@dataclass
class Pair:
    """One session: a Sender and a Receiver, and the turns they saw.

    With ``http`` the clients are lean wire-protocol clients (bench.wire) sharing that HTTP
    session; without, socketio.AsyncClient (websocket transport).
    """

    session_id: str
    mode: str | None = None
    http: aiohttp.ClientSession | None = None
    provider: str | None = None
    """With ``mode``: the provider every stage uses (None keeps the session's default)."""
    turn_detection: str | None = None
    """``turnDetection.type`` to set with session.update once connected (None keeps ``none``)."""
    animation: dict[str, bool] | None = None
    """``animation`` to set with session.update once connected (None keeps the defaults)."""
    sender: Client = field(init=False)
    receiver: Client = field(init=False)
    turns: list[TurnRecord] = field(default_factory=list)
    awaiting_transcript: deque[TurnRecord] = field(default_factory=deque)
    awaiting_text: deque[TurnRecord] = field(default_factory=deque)
    awaiting_audio: deque[TurnRecord] = field(default_factory=deque)
    errors: dict[str, int] = field(default_factory=dict)
    deltas: int = 0
    speech_started: int = 0
    """`input.speech.started` seen by the Sender (turns server VAD opened)."""
    updated: asyncio.Event = field(default_factory=asyncio.Event)
    turn_done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.http is None:
            self.sender, self.receiver = socketio.AsyncClient(), socketio.AsyncClient()
        else:
            self.sender, self.receiver = WireClient(self.http), WireClient(self.http)

    def wire(self) -> None:
        loop = asyncio.get_running_loop()

        async def on_transcript(data: dict[str, Any]) -> None:
            if self.awaiting_transcript:
                turn = self.awaiting_transcript.popleft()
                turn.transcript_at = loop.time()
                turn.transcript = str(data.get("text", ""))
                if not turn.transcript.strip():  # nothing heard: no reply comes
                    turn.done_at = turn.transcript_at
                    self._drop(turn)
                    self.turn_done.set()

        async def on_text(data: dict[str, Any]) -> None:
            del data
            if self.awaiting_text:
                self.awaiting_text.popleft().text_at = loop.time()

        async def on_delta(data: dict[str, Any]) -> None:
            now = loop.time()
            self.deltas += 1
            if not self.awaiting_audio:
                return
            turn = self.awaiting_audio[0]
            if turn.first_audio_at is None:
                turn.first_audio_at = now
            turn.audio_bytes += len(data.get("audio", b""))
            if data.get("final"):
                turn.done_at = now
                self.awaiting_audio.popleft()
                self.turn_done.set()

        async def on_error(data: dict[str, Any]) -> None:
            code = str(data.get("code"))
            self.errors[code] = self.errors.get(code, 0) + 1
            if data.get("event") == "input.buffer.commit" and self.awaiting_transcript:
                turn = self.awaiting_transcript.pop()  # the newest commit was refused
                turn.refused = True
                self._drop(turn)
                self.turn_done.set()
            elif code in ("provider_error", "internal_error") and data.get("itemId"):
                # The turn failed: nothing more comes for it.
                for queue in (self.awaiting_transcript, self.awaiting_text, self.awaiting_audio):
                    queue.clear()
                self.turn_done.set()

        async def on_updated(data: dict[str, Any]) -> None:
            del data
            self.updated.set()

        async def on_speech_started(data: dict[str, Any]) -> None:
            del data
            self.speech_started += 1

        self.sender.on("request.transcribe.done", on_transcript)
        self.sender.on("custom.error", on_error)
        self.sender.on("session.updated", on_updated)
        self.sender.on("input.speech.started", on_speech_started)
        self.receiver.on("response.text", on_text)
        self.receiver.on("response.audio.delta", on_delta)
        self.receiver.on("custom.error", on_error)

    def _drop(self, turn: TurnRecord) -> None:
        for queue in (self.awaiting_text, self.awaiting_audio):
            with contextlib.suppress(ValueError):
                queue.remove(turn)

    async def connect(self, url: str) -> None:
        self.wire()
        auth = {"sessionId": self.session_id}
        for client, role in ((self.receiver, "receiver"), (self.sender, "sender")):
            if isinstance(client, WireClient):
                await client.connect(url, SOCKETIO_PATH, {**auth, "role": role})
            else:
                sio_client: Any = client  # socketio.AsyncClient (untyped)
                await sio_client.connect(
                    url,
                    socketio_path=SOCKETIO_PATH,
                    transports=["websocket"],
                    auth={**auth, "role": role},
                    wait_timeout=30,
                )
        if self.mode is not None:
            chosen = {} if self.provider is None else {"provider": self.provider}
            await self.sender.emit(
                "session.update",
                {
                    **({"stt": chosen, "llm": chosen} if chosen else {}),
                    "tts": {**chosen, "responseType": self.mode},
                    "inputAudio": {"format": "pcm16", "sampleRate": SAMPLE_RATE},
                    "outputAudio": {"format": "pcm16", "sampleRate": OUTPUT_RATE},
                },
            )
            await asyncio.wait_for(self.updated.wait(), 30)
        update: dict[str, Any] = {}
        if self.turn_detection is not None:
            update["turnDetection"] = {"type": self.turn_detection}
        if self.animation is not None:
            update["animation"] = self.animation
        if update:
            self.updated.clear()
            await self.sender.emit("session.update", update)
            await asyncio.wait_for(self.updated.wait(), 30)

    async def commit(self, label: str = "") -> TurnRecord:
        turn = TurnRecord(label, asyncio.get_running_loop().time())
        self.turns.append(turn)
        for queue in (self.awaiting_transcript, self.awaiting_text, self.awaiting_audio):
            queue.append(turn)
        self.turn_done.clear()
        await self.sender.emit("input.buffer.commit")
        return turn

    async def disconnect(self) -> None:
        for client in (self.sender, self.receiver):
            with contextlib.suppress(Exception):
                await client.disconnect()


async def gather_limited(
    calls: Iterable[Callable[[], Awaitable[None]]], limit: int = CONNECT_CONCURRENCY
) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def connect_all(url: str, pairs: list[Pair]) -> float:
    started = time.monotonic()
    await gather_limited(_connector(pair, url) for pair in pairs)
    return time.monotonic() - started


def _connector(pair: Pair, url: str) -> Callable[[], Awaitable[None]]:
    return lambda: pair.connect(url)


async def disconnect_all(pairs: list[Pair]) -> None:
    await gather_limited((pair.disconnect for pair in pairs), limit=64)


async def stream(pair: Pair, chunks: list[bytes], start: float, lateness: list[float]) -> None:
    """Send ``chunks`` 20 ms apart on the clock from ``start``; record how late each went out."""
    loop = asyncio.get_running_loop()
    for index, chunk in enumerate(chunks):
        due = start + index * CHUNK_S
        now = loop.time()
        if due > now:
            await asyncio.sleep(due - now)
            now = loop.time()
        lateness.append(now - due)
        await pair.sender.emit("input.buffer.append", chunk)


async def server_stats(url: str, *, reset: bool = False, gc: bool = False) -> JSON:
    """The bench server's /bench/stats (see bench.serve)."""
    params = {name: "1" for name, on in (("reset", reset), ("gc", gc)) if on}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/bench/stats", params=params) as response,
    ):
        response.raise_for_status()
        data: JSON = await response.json()
        return data


def count_errors(pairs: Iterable[Pair]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for pair in pairs:
        for code, count in pair.errors.items():
            errors[code] = errors.get(code, 0) + count
    return errors


# -- capacity --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapacitySpec:
    url: str
    sessions: int
    warmup_s: float = 3.0
    measure_s: float = 10.0
    commit_every_s: float = 2.0
    drain_s: float = 3.0
    behind_limit_s: float = 0.1
    """A Sender whose chunk goes out later than this after its time is behind real time."""
    client: str = "wire"
    """``wire`` (bench.wire, lean) or ``socketio`` (socketio.AsyncClient)."""
    turn_detection: str | None = None
    """``server_vad``: every session turns server VAD on (session.update) before it streams."""
    animation: dict[str, bool] | None = None
    """Every session's ``animation`` settings (None: the defaults, visemes and word timings)."""


async def _stream_and_commit(
    pair: Pair,
    chunk: bytes,
    start: float,
    stop: float,
    chunks_per_commit: int,
    window: tuple[float, float],
    lateness: list[float],
) -> float:
    """Send 20 ms chunks on the clock from ``start`` until ``stop``, committing every
    ``chunks_per_commit``; return the latest a chunk went out in the window (seconds)."""
    loop = asyncio.get_running_loop()
    index = 0
    worst = 0.0
    due = start
    while due < stop:
        now = loop.time()
        if due > now:
            await asyncio.sleep(due - now)
            now = loop.time()
        if window[0] <= due < window[1]:
            lateness.append(now - due)
            worst = max(worst, now - due)
        await pair.sender.emit("input.buffer.append", chunk)
        index += 1
        if index % chunks_per_commit == 0:
            await pair.commit()
        due = start + index * CHUNK_S
    return worst


async def capacity_load(spec: CapacitySpec) -> JSON:
    """S real-time Senders (each with a Receiver); commit -> transcript in a measured window."""
    async with http_session() as http:
        return await _capacity(spec, http if spec.client == "wire" else None)


@contextlib.asynccontextmanager
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    # No connection limit: every websocket holds one connection for as long as it is open.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield http


async def _capacity(spec: CapacitySpec, http: aiohttp.ClientSession | None) -> JSON:
    loop = asyncio.get_running_loop()
    pairs = [
        Pair(
            f"cap-{index:05d}",
            http=http,
            turn_detection=spec.turn_detection,
            animation=spec.animation,
        )
        for index in range(spec.sessions)
    ]
    connect_s = await connect_all(spec.url, pairs)
    monitor = LagMonitor()
    monitor.start()
    chunk = noise(CHUNK_S)
    chunks_per_commit = round(spec.commit_every_s / CHUNK_S)
    rng = random.Random(1)
    begin = loop.time() + 0.2
    # Spread the Senders over one commit period so that their commits do not all land at once.
    spread = min(spec.commit_every_s, 2.0)
    starts = [begin + rng.uniform(0, spread) for _ in pairs]
    opens = begin + spread + spec.warmup_s
    window = (opens, opens + spec.measure_s)
    lateness: list[float] = []
    measured: JSON = {}

    async def measure_window() -> None:
        await asyncio.sleep(max(0.0, window[0] - loop.time()))
        monitor.reset()
        cpu, busy = cpu_seconds(), system_busy_seconds()
        before = await server_stats(spec.url, reset=True)
        await asyncio.sleep(max(0.0, window[1] - loop.time()))
        after = await server_stats(spec.url)
        cpu, busy = cpu_seconds() - cpu, system_busy_seconds() - busy
        server_cpu = after["cpu_s"] - before["cpu_s"]
        measured["generator_cpu"] = round(cpu / spec.measure_s, 3)
        measured["generator_lag_ms"] = monitor.summary()
        measured["other_processes_cpu"] = round(
            max(0.0, busy - cpu - server_cpu) / spec.measure_s, 3
        )
        measured["server"] = {
            "cpu": round(server_cpu / after["window_s"], 3),
            "lag_ms": after["lag_ms"],
            "rss_kib": after["rss_kib"],
            "appends_per_s": round(
                (after["append_bytes"] - before["append_bytes"]) / CHUNK_BYTES / after["window_s"],
                1,
            ),
            "gc_pauses": after["gc_pauses"],
        }
        if "vad_worker_cpu_s" in after:
            # The VAD worker thread is part of the server's CPU above; this is its share.
            frames = after["vad_frames"] - before.get("vad_frames", 0)
            calls = after["vad_model_calls"] - before.get("vad_model_calls", 0)
            measured["server"]["vad_worker_cpu"] = round(
                (after["vad_worker_cpu_s"] - before.get("vad_worker_cpu_s", 0.0))
                / after["window_s"],
                3,
            )
            measured["server"]["vad_frames_per_s"] = round(frames / after["window_s"], 1)
            measured["server"]["vad_frames_per_model_call"] = round(frames / max(1, calls), 1)

    measuring = asyncio.create_task(measure_window())
    worst = await asyncio.gather(
        *(
            _stream_and_commit(pair, chunk, start, window[1], chunks_per_commit, window, lateness)
            for pair, start in zip(pairs, starts, strict=True)
        )
    )
    await measuring
    await monitor.stop()
    # Let the last commits be answered.
    deadline = loop.time() + spec.drain_s
    # Polls hundreds of queues; an Event per pair would cost the load more than this.
    while any(pair.awaiting_transcript for pair in pairs) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    in_window = [
        turn for pair in pairs for turn in pair.turns if window[0] <= turn.committed < window[1]
    ]
    latencies = [
        turn.transcript_at - turn.committed for turn in in_window if turn.transcript_at is not None
    ]
    result = {
        "sessions": spec.sessions,
        "client": spec.client,
        "connect_s": round(connect_s, 2),
        "commit_to_transcript_ms": summary_ms(latencies),
        "lost_commits": sum(1 for turn in in_window if turn.transcript_at is None),
        "errors": count_errors(pairs),
        "senders_behind": sum(1 for late in worst if late > spec.behind_limit_s),
        "send_lateness_ms": summary_ms(lateness),
        "receiver_deltas": sum(pair.deltas for pair in pairs),
        "turn_detection": spec.turn_detection or "none",
        "speech_started": sum(pair.speech_started for pair in pairs),
        "expected_appends_per_s": round(spec.sessions / CHUNK_S, 1),
        **measured,
    }
    await disconnect_all(pairs)
    return result


# -- turns (latency, embedded, memory) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnsSpec:
    url: str
    sessions: int
    turns: int
    """Turns per session, one after another (each waits for the previous reply to end)."""
    utterances: tuple[tuple[str, bytes], ...]
    """(label, 16 kHz PCM16) spoken in turn, round robin."""
    mode: str | None = None
    """tts responseType to set with session.update; None keeps the session default."""
    realtime: bool = True
    stagger_s: float = 1.0
    """Sessions start spread over this long."""
    pause_s: float = 0.2
    """Between the end of a reply and the next utterance."""
    turn_timeout_s: float = 20.0
    session_prefix: str = "turns"


async def _converse(
    pair: Pair, spec: TurnsSpec, start_delay: float, offset: int, lateness: list[float]
) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(start_delay)
    for turn_index in range(spec.turns):
        label, pcm = spec.utterances[(offset + turn_index) % len(spec.utterances)]
        chunks = chunks_of(pcm)
        if spec.realtime:
            await stream(pair, chunks, loop.time(), lateness)
        else:
            for chunk in chunks:
                await pair.sender.emit("input.buffer.append", chunk)
        turn = await pair.commit(label)
        try:
            await asyncio.wait_for(pair.turn_done.wait(), spec.turn_timeout_s)
        except TimeoutError:
            turn.label += " (timed out)"
            return
        if spec.pause_s:
            await asyncio.sleep(spec.pause_s)


def turn_rows(pairs: Iterable[Pair]) -> list[JSON]:
    return [
        {
            "label": turn.label,
            "transcript": turn.transcript,
            "transcript_ms": turn.ms(turn.transcript_at),
            "text_ms": turn.ms(turn.text_at),
            "first_audio_ms": turn.ms(turn.first_audio_at),
            "done_ms": turn.ms(turn.done_at),
            "audio_bytes": turn.audio_bytes,
            "refused": turn.refused,
        }
        for pair in pairs
        for turn in pair.turns
    ]


async def turns_load(spec: TurnsSpec) -> JSON:
    """``sessions`` conversations at once, ``turns`` each; every turn's timings."""
    pairs = [
        Pair(f"{spec.session_prefix}-{index:05d}", mode=spec.mode) for index in range(spec.sessions)
    ]
    connect_s = await connect_all(spec.url, pairs)
    monitor = LagMonitor()
    monitor.start()
    lateness: list[float] = []
    rng = random.Random(2)
    await asyncio.gather(
        *(
            _converse(pair, spec, rng.uniform(0, spec.stagger_s), index, lateness)
            for index, pair in enumerate(pairs)
        )
    )
    await monitor.stop()
    result = {
        "sessions": spec.sessions,
        "connect_s": round(connect_s, 2),
        "turns": turn_rows(pairs),
        "errors": count_errors(pairs),
        "send_lateness_ms": summary_ms(lateness),
        "generator_lag_ms": monitor.summary(),
    }
    await disconnect_all(pairs)
    return result


# -- memory ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemorySpec:
    url: str
    sessions: int
    streaming: bool
    """Idle sessions (connected, silent) or streaming ones (real time, a commit every 2 s)."""
    stream_s: float = 6.0
    warmup_sessions: int = 20


async def _settled_stats(url: str, pause_s: float = 1.0) -> JSON:
    await asyncio.sleep(pause_s)
    # reset: the server's own lag samples are not the sessions' memory.
    return await server_stats(url, gc=True, reset=True)


async def _one_turn(pair: Pair, chunk: bytes) -> None:
    for _ in range(25):
        await pair.sender.emit("input.buffer.append", chunk)
    await pair.commit()
    await asyncio.wait_for(pair.turn_done.wait(), 30)


async def memory_load(spec: MemorySpec) -> JSON:
    """The server's RSS before and with ``sessions`` idle or streaming sessions."""
    loop = asyncio.get_running_loop()
    chunk = noise(CHUNK_S)
    # Warm up: the first connections and turns allocate what later ones reuse. They stay
    # connected, so that nothing they leave behind is freed (or not) during the measurement.
    warm = [Pair(f"warm-{index:05d}") for index in range(spec.warmup_sessions)]
    await connect_all(spec.url, warm)
    await asyncio.gather(*(_one_turn(pair, chunk) for pair in warm))
    before = await _settled_stats(spec.url)
    pairs = [Pair(f"mem-{index:05d}") for index in range(spec.sessions)]
    await connect_all(spec.url, pairs)
    connected = await _settled_stats(spec.url)
    during: JSON = connected
    lateness: list[float] = []
    if spec.streaming:
        begin = loop.time() + 0.1
        rng = random.Random(3)
        stop = begin + spec.stream_s
        samples: list[JSON] = []

        async def sample() -> None:
            # Mid-stream, once every Sender has committed at least once.
            await asyncio.sleep(max(0.0, begin + spec.stream_s * 0.75 - loop.time()))
            samples.append(await server_stats(spec.url))

        sampling = asyncio.create_task(sample())
        await asyncio.gather(
            *(
                _stream_and_commit(
                    pair, chunk, begin + rng.uniform(0, 2.0), stop, 100, (begin, stop), lateness
                )
                for pair in pairs
            )
        )
        await sampling
        during = samples[0]
    result = {
        "before": before,
        "connected": connected,
        "during": during,
        "send_lateness_ms": summary_ms(lateness),
        "errors": count_errors([*warm, *pairs]),
    }
    await disconnect_all([*warm, *pairs])
    return result


@dataclass(frozen=True, slots=True)
class LeakSpec:
    url: str
    sessions: int = 10
    turns: int = 100
    """Per session: sessions x turns turns in all, sampled every ``sample_every`` turns."""
    sample_every: int = 100
    churn_rounds: int = 10
    """Then sessions that connect, speak once and leave: this many rounds of ``sessions``."""
    settle_s: float = 60.0
    """How long to wait for the engine to let go of closed connections (it keeps each ~45 s)."""
    utterances: tuple[tuple[str, bytes], ...] = ()


async def leak_load(spec: LeakSpec) -> JSON:
    """Memory over many turns of the same sessions, then over sessions coming and going."""
    utterances = spec.utterances or (("noise", noise(0.5)),)
    pairs = [Pair(f"leak-{index:04d}") for index in range(spec.sessions)]
    await connect_all(spec.url, pairs)
    per_round = max(1, spec.sample_every // spec.sessions)
    samples: list[JSON] = []
    done = 0
    while done < spec.turns:
        rounds = min(per_round, spec.turns - done)
        turn_spec = TurnsSpec(
            url=spec.url,
            sessions=spec.sessions,
            turns=rounds,
            utterances=utterances,
            realtime=False,
            stagger_s=0.0,
            pause_s=0.0,
        )
        await asyncio.gather(
            *(_converse(pair, turn_spec, 0.0, index + done, []) for index, pair in enumerate(pairs))
        )
        done += rounds
        stats = await _settled_stats(spec.url, 0.2)
        samples.append(
            {
                "turns": sum(1 for pair in pairs for turn in pair.turns if turn.done_at),
                "rss_kib": stats["rss_kib"],
                "gc_objects": stats["gc_objects"],
            }
        )
    errors = count_errors(pairs)
    await disconnect_all(pairs)
    churn: JSON = {}
    if spec.churn_rounds:
        churn = await _churn(spec, utterances, errors)
    return {"samples": samples, "churn": churn, "errors": errors}


async def _churn(
    spec: LeakSpec, utterances: tuple[tuple[str, bytes], ...], errors: dict[str, int]
) -> JSON:
    loop = asyncio.get_running_loop()
    before = await _settled_stats(spec.url, 0.2)
    turn_spec = TurnsSpec(
        url=spec.url,
        sessions=spec.sessions,
        turns=1,
        utterances=utterances,
        realtime=False,
        stagger_s=0.0,
        pause_s=0.0,
    )
    for round_index in range(spec.churn_rounds):
        pairs = [Pair(f"churn-{round_index:03d}-{index:04d}") for index in range(spec.sessions)]
        await connect_all(spec.url, pairs)
        await asyncio.gather(
            *(_converse(pair, turn_spec, 0.0, index, []) for index, pair in enumerate(pairs))
        )
        for code, count in count_errors(pairs).items():
            errors[code] = errors.get(code, 0) + count
        await disconnect_all(pairs)
    right_after = await _settled_stats(spec.url, 0.2)
    # The engine lets go of a closed connection when its writer's wait times out; then only a
    # leak would keep objects alive.
    deadline = loop.time() + spec.settle_s
    settled = right_after
    while settled["gc_objects"] > before["gc_objects"] + 50 and loop.time() < deadline:
        settled = await _settled_stats(spec.url, 5.0)
    return {
        "sessions": spec.churn_rounds * spec.sessions,
        "before": {"rss_kib": before["rss_kib"], "gc_objects": before["gc_objects"]},
        "right_after": {"rss_kib": right_after["rss_kib"], "gc_objects": right_after["gc_objects"]},
        "settled": {"rss_kib": settled["rss_kib"], "gc_objects": settled["gc_objects"]},
        "settle_s": round(spec.settle_s - max(0.0, deadline - loop.time()), 1),
    }
