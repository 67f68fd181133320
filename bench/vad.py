"""``python -m bench.vad [--quick]`` (or ``python -m bench --only vad``): server VAD figures.

- cost: the engine's CPU per 32 ms frame for batches of 1..512 streams (one pass of
  ``process_pending`` on this thread), so the CPU of one real-time session and how many one core
  holds at that batch size;
- realtime: N sessions streaming the repository's speech (with pauses, in 20 ms appends) at real
  time into one engine on its worker thread, from one asyncio feeder: the worker's CPU per
  session, the event loop's cost per append, end of speech -> ``SpeechStopped`` / ``Commit``
  arriving on the loop (p50/p95/p99; target ``silence_duration_ms`` + 100 ms), and the decision
  delay (event on the loop - when the audio that decided it was appended; what VAD adds);
- false starts: turns started by silence and by noise-only audio (target 0);
- echo (``--only echo`` runs just this): turns started by the avatar's own reply heard by the
  microphone (at several levels and delays, directly and through a room), without and with the
  echo guard (target 0 with it); how often and how soon a person talking over the reply is heard
  with the guard on (onset -> ``SpeechStarted``); with no echo at all (a headset), a person whose
  words start 0.2-3 s after the avatar's; the guard's own CPU per frame.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.common import (
    JSON,
    cpu_seconds,
    machine,
    summary_ms,
    system_busy_seconds,
    today,
    write_json,
)
from handlers.vad import (
    Commit,
    EchoGuard,
    SpeechStarted,
    SpeechStopped,
    TurnEvent,
    TurnSettings,
    VadEngine,
)
from tests.vad.signals import (
    RATE,
    Speech,
    chunks,
    noise,
    pcm16,
    silence,
    speech_fixtures,
    with_echo,
    without_echo,
)

CHUNK_MS = 20
SETTINGS = TurnSettings()
TARGET_MS = SETTINGS.silence_duration_ms + 100
PATTERNS = 10


# -- cost per frame ----------------------------------------------------------------------------


def frame_cost_us(batch: int, repeats: int) -> float:
    """Best CPU time per frame of one engine pass over ``batch`` streams with a frame each."""
    engine = VadEngine()
    streams = [engine.open_stream(RATE, lambda _events: None) for _ in range(batch)]
    frame = pcm16(noise(0.032, -30.0, seed=batch))
    best = math.inf
    for _ in range(repeats):
        for stream in streams:
            stream.push(frame)
        started = time.thread_time()
        engine.process_pending()
        best = min(best, time.thread_time() - started)
    return best / batch * 1e6


def cost(quick: bool, log: Callable[[str], None]) -> JSON:
    rows = []
    for batch in (1, 8, 32, 128, 512):
        us = frame_cost_us(batch, repeats=5 if quick else 20)
        row = {
            "batch": batch,
            "us_per_frame": round(us, 1),
            "cpu_per_session_pct": round(us / 32_000 * 100, 3),
            "sessions_per_core": int(32_000 / us),
        }
        rows.append(row)
        log(
            f"  batch {batch:>3}: {us:6.1f} us/frame = {row['cpu_per_session_pct']:.3f} % of a"
            f" core per real-time session -> {row['sessions_per_core']} sessions/core"
        )
    return {"rows": rows}


# -- real time ---------------------------------------------------------------------------------


@dataclass
class Pattern:
    """One looped session audio: speech with pauses, and its words' true ends (ms)."""

    pcm: bytes
    starts_ms: list[float]
    ends_ms: list[float]
    chunks: list[bytes] = field(default_factory=list)


def patterns(seed: int) -> list[Pattern]:
    fixtures = speech_fixtures()
    generator = random.Random(seed)
    made = []
    for index in range(PATTERNS):
        order = fixtures[index % len(fixtures) :] + fixtures[: index % len(fixtures)]
        parts, starts, ends, at_ms = [], [], [], 0.0
        for speech in order:
            gap = silence(generator.uniform(0.9, 1.6))
            parts += [gap, speech.samples]
            at_ms += gap.size / RATE * 1000
            starts.append(at_ms + speech.start_ms)
            ends.append(at_ms + speech.end_ms)
            at_ms += speech.samples.size / RATE * 1000
        audio = np.concatenate(parts)
        audio = audio + noise(audio.size / RATE, -60.0, seed=index)
        pcm = pcm16(audio)
        made.append(Pattern(pcm, starts, ends, chunks(pcm, CHUNK_MS)))
    return made


@dataclass
class Session:
    pattern: Pattern
    first_tick: int
    stopped: list[tuple[float, int]] = field(default_factory=list)
    commits: list[tuple[float, int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)


async def realtime(sessions: int, seconds: float, looped: list[Pattern]) -> JSON:
    engine = VadEngine()
    engine.start()
    loop = asyncio.get_running_loop()
    tick_walls: list[float] = []
    states = [Session(looped[i % len(looped)], i % 50) for i in range(sessions)]

    def sink(state: Session) -> Callable[[list[TurnEvent]], None]:
        def on_events(events: list[TurnEvent]) -> None:
            now = time.perf_counter()
            for event in events:
                if isinstance(event, SpeechStarted):
                    state.starts.append(event.audio_start_ms)
                elif isinstance(event, SpeechStopped):
                    state.stopped.append((now, event.audio_end_ms))
                elif isinstance(event, Commit):
                    state.commits.append((now, event.audio_end_ms, event.detected_ms))

        return on_events

    streams = [engine.open_stream(RATE, sink(state), loop=loop) for state in states]
    ticks = int(seconds * 1000 / CHUNK_MS)
    push_s = 0.0
    started = time.perf_counter()
    cpu_before, frames_before = engine.worker_cpu_s, engine.frames_processed
    busy_before, own_before = system_busy_seconds(), cpu_seconds()
    for tick in range(ticks):
        due = started + tick * CHUNK_MS / 1000
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tick_walls.append(time.perf_counter())
        before = time.perf_counter()
        for state, stream in zip(states, streams, strict=True):
            index = tick - state.first_tick
            if index >= 0:
                pieces = state.pattern.chunks
                stream.push(pieces[index % len(pieces)])
        push_s += time.perf_counter() - before
    wall = time.perf_counter() - started
    others_busy = (system_busy_seconds() - busy_before - (cpu_seconds() - own_before)) / wall
    await asyncio.sleep(1.0)  # let the last decisions arrive
    worker_cpu = engine.worker_cpu_s - cpu_before
    frames = engine.frames_processed - frames_before
    engine.close()

    def wall_at(state: Session, audio_ms: float) -> float:
        """When the append holding audio time ``audio_ms`` of this session went out."""
        tick = state.first_tick + int(audio_ms // CHUNK_MS)
        return tick_walls[min(tick, len(tick_walls) - 1)]

    def nearest(candidates: list[float], heard: float) -> float:
        return min(candidates, key=lambda candidate: abs(candidate - heard))

    stop_latency: list[float] = []
    commit_latency: list[float] = []
    decision_delay: list[float] = []
    turns = 0
    unmatched: list[JSON] = []
    for state in states:
        loop_ms = len(state.pattern.pcm) / 2 / RATE * 1000
        laps = range(int(seconds * 1000 / loop_ms) + 2)
        true_ends = [end + lap * loop_ms for lap in laps for end in state.pattern.ends_ms]
        true_starts = [start + lap * loop_ms for lap in laps for start in state.pattern.starts_ms]
        for heard in state.starts:
            miss = heard - nearest(true_starts, heard)
            if abs(miss) > 250:
                unmatched.append({"audio_start_ms": heard, "from_words_ms": round(miss)})
        for arrived, end_ms in state.stopped:
            stop_latency.append(arrived - wall_at(state, nearest(true_ends, end_ms)))
        for arrived, end_ms, detected_ms in state.commits:
            commit_latency.append(arrived - wall_at(state, nearest(true_ends, end_ms)))
            decision_delay.append(arrived - wall_at(state, detected_ms - 1))
        turns += len(state.commits)
    audio_s = sum(max(0, int(seconds * 1000 / CHUNK_MS) - s.first_tick) for s in states) * 0.02
    return {
        "sessions": sessions,
        "seconds": round(wall, 1),
        "turns": turns,
        "starts": sum(len(state.starts) for state in states),
        "false_starts": len(unmatched),
        "false_start_details": unmatched[:20],
        "worker_cores": round(worker_cpu / wall, 3),
        "other_processes_cores": round(others_busy, 2),
        # Per frame the worker did run (it may not have kept up with all that was pushed).
        "worker_cpu_per_session_pct": round(worker_cpu / max(1, frames) / 0.032 * 100, 3),
        "frames_behind_at_end": max(0, int(audio_s / 0.032) - frames),
        "loop_us_per_append": round(push_s / max(1, audio_s / 0.02) * 1e6, 2),
        "end_to_speech_stopped_ms": summary_ms(stop_latency),
        "end_to_commit_ms": summary_ms(commit_latency),
        "decision_delay_ms": summary_ms(decision_delay),
        "frames_per_model_call": round(engine.frames_processed / max(1, engine.model_calls), 1),
    }


# -- false starts ------------------------------------------------------------------------------


def false_starts(quick: bool, log: Callable[[str], None]) -> JSON:
    seconds = 20.0 if quick else 60.0
    engine = VadEngine()
    brown = np.cumsum(noise(seconds, -30.0, seed=11))
    brown = (brown - brown.mean()) / (brown.std() + 1e-9) * 10 ** (-35 / 20)
    cases = {
        "silence": silence(seconds),
        "white noise -50 dBFS": noise(seconds, -50.0, seed=1),
        "white noise -40 dBFS": noise(seconds, -40.0, seed=2),
        "white noise -30 dBFS": noise(seconds, -30.0, seed=3),
        "brown noise -35 dBFS": brown.astype(np.float32),
    }
    results = {}
    for name, audio in cases.items():
        events: list[TurnEvent] = []
        stream = engine.open_stream(RATE, events.extend)
        for piece in chunks(pcm16(audio), 100):
            stream.push(piece)
            engine.process_pending()
        results[name] = sum(isinstance(event, SpeechStarted) for event in events)
        log(f"  {name}: {results[name]} false starts in {seconds:.0f} s")
    return {"seconds": seconds, "starts": results, "total": sum(results.values())}


# -- echo --------------------------------------------------------------------------------------


def started(
    engine: VadEngine, mic: np.ndarray, guard: EchoGuard | None, reply: np.ndarray, at_ms: int
) -> list[SpeechStarted]:
    """The turns ``mic`` starts, the guard (if any) told that ``reply`` played at ``at_ms``."""
    events: list[TurnEvent] = []
    stream = engine.open_stream(RATE, events.extend, guard=guard)
    if guard is not None:
        guard.play(pcm16(reply), RATE, at_ms)
    for piece in chunks(pcm16(mic), CHUNK_MS):
        stream.push(piece)
        engine.process_pending()
    return [event for event in events if isinstance(event, SpeechStarted)]


ECHO_LEVELS_DB = (-30.0, -20.0, -12.0, -6.0)
ECHO_DELAYS_MS = (60, 150, 300)


def echo(log: Callable[[str], None]) -> JSON:
    """Each level x delay, direct and through a room (``with_echo(room=True)``): turns started
    by the echo without and with the guard; a person talking over it half a second after the
    echo begins (before the guard knows the echo's delay) and 1.35 s after."""
    fixtures = {speech.name: speech for speech in speech_fixtures()}
    reply = fixtures["tell_me_about_the_history_of.wav"]
    person = fixtures["what_is_the_weather_like_today.wav"]
    engine = VadEngine()
    played_at_ms = 1000
    rows = []
    for room in (False, True):
        for echo_db in ECHO_LEVELS_DB:
            unguarded = guarded = heard = trials = 0
            onset_to_started: list[float] = []
            for delay_ms in ECHO_DELAYS_MS:
                mic = with_echo(reply.samples, echo_db, delay_ms, played_at_ms, room=room)
                unguarded += len(started(engine, mic, None, reply.samples, played_at_ms))
                guarded += len(started(engine, mic, EchoGuard(), reply.samples, played_at_ms))
                for person_at_s in ((played_at_ms + delay_ms) / 1000 + 0.5, 2.5):
                    mic = with_echo(
                        reply.samples, echo_db, delay_ms, played_at_ms, person.samples,
                        person_at_s, room=room,
                    )  # fmt: skip
                    turns = started(engine, mic, EchoGuard(), reply.samples, played_at_ms)
                    onset_ms = person_at_s * 1000 + person.start_ms
                    trials += 1
                    # Heard: one turn, confirmed while the person still talks.
                    if len(turns) == 1 and turns[0].detected_ms <= onset_ms + PERSON_WORDS_MS:
                        heard += 1
                        onset_to_started.append((turns[0].detected_ms - onset_ms) / 1000)
            summary = summary_ms(onset_to_started)
            rows.append(
                {
                    "room": room,
                    "echo_db": echo_db,
                    "delays_ms": list(ECHO_DELAYS_MS),
                    "starts_without_guard": unguarded,
                    "starts_with_guard": guarded,
                    "person_trials": trials,
                    "person_heard": heard,
                    "onset_to_started_ms": summary,
                }
            )
            log(
                f"  echo {echo_db:+.0f} dB{' through a room' if room else ''}, delays"
                f" {'/'.join(map(str, ECHO_DELAYS_MS))} ms: {unguarded} turns started by the echo"
                f" without the guard, {guarded} with it; a person talking over it heard in"
                f" {heard} of {trials}, onset -> SpeechStarted p50 {summary['p50']} / max"
                f" {summary['max']} ms"
            )
    quiet_rows = no_echo(engine, reply, log)
    cost = guard_cost(reply.samples)
    log(
        f"  guard CPU: {cost['active_us_per_frame']} us per 32 ms frame while the avatar plays"
        f" ({cost['active_pct_of_core']} % of a core), {cost['idle_us_per_frame']} us when it"
        f" is silent; with no echo (a headset): {cost['no_echo_us_per_frame']} us"
    )
    return {"rows": rows, "no_echo": quiet_rows, "guard_cost": cost}


NO_ECHO_ONSETS_S = (0.2, 0.5, 1.0, 3.0)
NO_ECHO_NOISE_DB = (None, -60.0, -45.0)
"""The microphone's floor with no echo: digital silence (headless Chromium's fake microphone, an
echo canceller's output), a quiet room, a noisy one."""


def no_echo(engine: VadEngine, reply: Speech, log: Callable[[str], None]) -> list[JSON]:
    """A microphone that never hears the avatar (a headset, a browser's echo canceller): a person
    whose words start ``NO_ECHO_ONSETS_S`` after the avatar's, each of the other fixtures over
    each floor of ``NO_ECHO_NOISE_DB``; heard: one turn, confirmed while they still talk."""
    persons = [speech for speech in speech_fixtures() if speech.name != reply.name]
    played_at_ms = 1000
    seconds = played_at_ms / 1000 + reply.samples.size / RATE + 1.0
    rows = []
    for onset_s in NO_ECHO_ONSETS_S:
        words_at_s = (played_at_ms + reply.start_ms) / 1000 + onset_s
        heard = trials = 0
        onset_to_started: list[float] = []
        for noise_db in NO_ECHO_NOISE_DB:
            for person in persons:
                mic = without_echo(seconds, person, words_at_s, noise_db)
                turns = started(engine, mic, EchoGuard(), reply.samples, played_at_ms)
                trials += 1
                late_ms = turns[0].detected_ms - words_at_s * 1000 if len(turns) == 1 else None
                if late_ms is not None and late_ms <= person.end_ms - person.start_ms:
                    heard += 1
                    onset_to_started.append(late_ms / 1000)
        summary = summary_ms(onset_to_started)
        rows.append(
            {
                "onset_s": onset_s,
                "person_trials": trials,
                "person_heard": heard,
                "onset_to_started_ms": summary,
            }
        )
        log(
            f"  no echo (headset), a person's words {onset_s} s after the avatar's: heard in"
            f" {heard} of {trials}, onset -> SpeechStarted p50 {summary['p50']} / max"
            f" {summary['max']} ms"
        )
    return rows


PERSON_WORDS_MS = 1370
"""How long the person's words last (what_is_the_weather_like_today.wav)."""


def guard_cost(reply: np.ndarray, repeats: int = 5) -> JSON:
    """The guard's own CPU per frame, one frame a call as on the real-time worker: the reply's
    echo through a room while the avatar plays, and silence after it. Best of ``repeats``."""
    mic = with_echo(reply, -12.0, 150, 0, room=True)
    frames = mic[: mic.size // 512 * 512].reshape(-1, 512)
    playing = reply.size // 512 + 16
    quiet = noise(frames.size / RATE, -60.0, seed=8).reshape(-1, 512)
    probabilities = [0.9]
    best_active = best_idle = best_quiet = math.inf
    for _ in range(repeats):
        guard = EchoGuard()
        guard.play(pcm16(reply), RATE, 0)
        started = time.thread_time()
        for index in range(playing):
            guard.gate(index, frames[index : index + 1], probabilities)
        active = time.thread_time() - started
        started = time.thread_time()
        for index in range(playing, frames.shape[0]):
            guard.gate(index, frames[index : index + 1], probabilities)
        idle = time.thread_time() - started
        best_active = min(best_active, active / playing)
        best_idle = min(best_idle, idle / (frames.shape[0] - playing))
        # No echo: the bound on the echo's gain is learnt every frame (no delay is ever found).
        guard = EchoGuard()
        guard.play(pcm16(reply), RATE, 0)
        started = time.thread_time()
        for index in range(playing):
            guard.gate(index, quiet[index : index + 1], probabilities)
        best_quiet = min(best_quiet, (time.thread_time() - started) / playing)
    return {
        "active_us_per_frame": round(best_active * 1e6, 1),
        "active_pct_of_core": round(best_active / 0.032 * 100, 3),
        "idle_us_per_frame": round(best_idle * 1e6, 1),
        "no_echo_us_per_frame": round(best_quiet * 1e6, 1),
    }


def echo_only(quick: bool, log: Callable[[str], None]) -> JSON:
    """Only the echo section (``--only echo``)."""
    log("Echo of the avatar's reply (guard: EchoGuard defaults):")
    return {"echo": echo(log)}


# -- the suite ---------------------------------------------------------------------------------


async def run(
    quick: bool, log: Callable[[str], None], session_steps: Sequence[int] | None = None
) -> JSON:
    log("VAD engine cost per frame (Silero ONNX, one thread):")
    frame_costs = cost(quick, log)
    log("False starts:")
    spurious = false_starts(quick, log)
    log("Echo of the avatar's reply (guard: EchoGuard defaults):")
    echoes = echo(log)
    looped = patterns(seed=5)
    steps = session_steps or ([50, 150] if quick else [50, 150, 300, 600])
    seconds = 8.0 if quick else 20.0
    realtime_rows = []
    for sessions in steps:
        row = await realtime(sessions, seconds, looped)
        realtime_rows.append(row)
        commit, delay = row["end_to_commit_ms"], row["decision_delay_ms"]
        log(
            f"  {sessions} real-time sessions: worker {row['worker_cores']:.2f} cores"
            f" ({row['worker_cpu_per_session_pct']:.3f} % per session,"
            f" {row['frames_per_model_call']} frames/call), loop {row['loop_us_per_append']} us"
            f" per append; end -> commit p50 {commit['p50']} / p95 {commit['p95']} / p99"
            f" {commit['p99']} ms (target {TARGET_MS}); decision delay p99 {delay['p99']} ms;"
            f" {row['turns']} turns, {row['starts']} starts ({row['false_starts']} not at words);"
            f" other processes kept {row['other_processes_cores']} cores busy"
        )
    held = [
        row["sessions"]
        for row in realtime_rows
        if row["worker_cores"] < 0.9 and (row["decision_delay_ms"]["p99"] or math.inf) < 50
    ]
    return {
        "silence_duration_ms": SETTINGS.silence_duration_ms,
        "target_ms": TARGET_MS,
        "cost": frame_costs,
        "false_starts": spurious,
        "echo": echoes,
        "realtime": realtime_rows,
        "most_sessions_held": max(held, default=0),
    }


def vad_rows(run_data: JSON) -> list[tuple[str, str, str, str, str, str]]:
    """The README table's rows (see bench/report.py)."""
    data = run_data["result"]
    stamp = run_data["machine"]["summary"] + (", --quick" if run_data.get("quick") else "")
    date = run_data["date"]
    best = min(data["cost"]["rows"], key=lambda row: row["us_per_frame"])
    rows = [
        (
            "Server VAD (Silero ONNX, batched): CPU per real-time session",
            f"{best['cpu_per_session_pct']} % of a core at batch {best['batch']}"
            f" ({best['us_per_frame']} us/frame; {best['sessions_per_core']} sessions/core)",
            "—",
            "—",
            stamp,
            date,
        ),
        (
            "Server VAD false starts on silence and noise-only audio",
            f"{data['false_starts']['total']} in {len(data['false_starts']['starts'])} x"
            f" {data['false_starts']['seconds']:.0f} s",
            "0",
            "yes" if data["false_starts"]["total"] == 0 else "**no**",
            stamp,
            date,
        ),
    ]
    echo_rows = data["echo"]["rows"]
    # Runs before the band-wise guard (2026-11-30) had one person trial a row, heard or not.
    trials = sum(row.get("person_trials", 1) for row in echo_rows)
    heard = sum(
        row.get("person_heard", row.get("barge_in_heard_after_ms") is not None) for row in echo_rows
    )
    cost = data["echo"].get("guard_cost", {})
    loudest_p50 = [
        row.get("onset_to_started_ms", {}).get("p50") for row in echo_rows if row["echo_db"] == -6.0
    ]
    rows.append(
        (
            "Server VAD echo guard: turns started by the avatar's reply heard at -30..-6 dB, 60-300"
            " ms late, direct and through a room; a person talking over it",
            f"{sum(row['starts_with_guard'] for row in echo_rows)} with the guard"
            f" ({sum(row['starts_without_guard'] for row in echo_rows)} without); person heard in"
            f" {heard} of {trials}, onset -> SpeechStarted at -6 dB"
            f" {loudest_p50}"
            f" ms p50; guard {cost.get('active_us_per_frame')} us/frame while the avatar plays",
            "0; all",
            "yes"
            if all(row["starts_with_guard"] == 0 for row in echo_rows) and heard == trials
            else "**no**",
            stamp,
            date,
        )
    )
    for row in data["realtime"]:
        commit = row["end_to_commit_ms"]
        rows.append(
            (
                f"Server VAD, {row['sessions']} real-time sessions: end of speech -> commit",
                f"p50 {commit['p50']} / p95 {commit['p95']} ms; worker"
                f" {row['worker_cores']} cores; decision delay p99"
                f" {row['decision_delay_ms']['p99']} ms",
                f"p95 <= {data['target_ms']} ms",
                "yes" if (commit["p95"] or math.inf) <= data["target_ms"] else "**no**",
                stamp,
                date,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.vad", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps, shorter windows")
    parser.add_argument(
        "--sessions", type=int, nargs="+", help="real-time steps (default 50 150 300 600)"
    )
    parser.add_argument("--only", choices=["echo"], help="run only this section")
    args = parser.parse_args()

    def log(line: str) -> None:
        print(line, flush=True)

    if args.only == "echo":  # a partial run does not replace the full run's figures
        result, name = echo_only(args.quick, log), "vad.echo"
    else:
        result = asyncio.run(run(args.quick, log, args.sessions))
        name = "vad.quick" if args.quick else "vad"
    run_data = {"name": "vad", "date": today(), "machine": machine(), "quick": args.quick}
    path = write_json(name, {**run_data, "result": result})
    print(f"wrote {path}")
    sys.exit(0)


if __name__ == "__main__":
    main()
