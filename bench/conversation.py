"""Conversations per core: real conversations, each a Sender and a Receiver, on one server core.

Every conversation speaks a 1.5-2 s utterance from tests/data/speech in real time (20 ms chunks),
commits, waits for the reply, listens for as long as the reply's audio lasts (at most 3 s) from
its first audio, and speaks again. The server runs pinned to one core, the load generator (the
lean wire-level client, bench.wire) to the other. Two stacks:

* ``embedded``: every stage ``local`` (pocketsphinx, the demo responder, espeak-ng), ``stream``;
  run with the default decoder pool and with one decoder per conversation.
* ``cloud``: every stage ``openai`` against a loopback fake of the API (bench.cloud_fake, its own
  process, on the load generator's core), ``stream``: the server's own cost per conversation.

Per step: commit -> transcript and commit -> first audio p50/p95, the server's CPU per
conversation, its resident memory, the load generator's and the fake's CPU. Then a soak: the
cloud stack for 10,000 turns (``--quick``: far fewer), resident memory sampled as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.common import (
    JSON,
    REPO_ROOT,
    Cpus,
    LagMonitor,
    cpu_seconds,
    in_process,
    percentile,
    running_server,
    summary_ms,
    system_busy_seconds,
    wait_for_quiet,
)
from bench.embedded import audio_dir, load_utterances
from bench.loadgen import (
    CHUNK_S,
    OUTPUT_RATE,
    Pair,
    chunks_of,
    connect_all,
    count_errors,
    disconnect_all,
    http_session,
    server_stats,
    stream,
)

MAX_LISTEN_S = 3.0
MAX_TIMEOUTS_IN_A_ROW = 3
"""A conversation whose turns time out this often in a row stops (the server is gone)."""
UTTERANCE_S = (1.5, 2.1)
"""Spoken utterances last this long (the manifest's 1.5-2 s recordings)."""
DECODERS_ENV = "METAHUMAN_LOCAL_STT_DECODERS"
SEARCH_ENV = "METAHUMAN_LOCAL_STT_SEARCH"
DECODER_MIB = 90
DEFAULT_DECODERS = 2
TARGETS = {
    "embedded": {8: 500.0, 10: 1000.0},
    "cloud": {100: 150.0, 200: 400.0},
}
"""commit -> first audio p95 limits (ms) by number of conversations."""


# -- the load (runs in the load generator's process) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationSpec:
    url: str
    sessions: int
    utterances: tuple[tuple[str, bytes], ...]
    provider: str | None = None
    """The provider of every stage (None: the session default, ``local``)."""
    mode: str = "stream"
    warmup_s: float = 6.0
    measure_s: float = 20.0
    stagger_s: float = 4.0
    """Conversations start spread over this long (about one turn)."""
    turn_timeout_s: float = 20.0
    soak_turns: int = 0
    """When set: talk until this many turns are done, sampling the server's memory."""
    soak_samples: int = 10
    soak_collect: bool = True
    """Collect garbage in the server before each memory sample (so RSS compares like with like)."""
    fake_pid: int | None = None
    """The cloud fake's process, to report its CPU."""


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) another process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Progress:
    turns_done: int = 0
    chunks_in_window: int = 0
    window: tuple[float, float] = (0.0, 0.0)
    stop_at: float = float("inf")
    lateness: list[float] = field(default_factory=list)


async def _talk(
    pair: Pair,
    spec: ConversationSpec,
    spoken: list[tuple[str, list[bytes]]],
    start_at: float,
    offset: int,
    progress: _Progress,
) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - loop.time()))
    index = offset
    timeouts_in_a_row = 0
    while loop.time() < progress.stop_at and timeouts_in_a_row < MAX_TIMEOUTS_IN_A_ROW:
        label, chunks = spoken[index % len(spoken)]
        index += 1
        began = loop.time()
        await stream(pair, chunks, began, progress.lateness)
        if progress.window[0] <= began < progress.window[1]:
            progress.chunks_in_window += len(chunks)
        turn = await pair.commit(label)
        try:
            await asyncio.wait_for(pair.turn_done.wait(), spec.turn_timeout_s)
        except TimeoutError:
            turn.label += " (timed out)"
            for queue in (pair.awaiting_transcript, pair.awaiting_text, pair.awaiting_audio):
                queue.clear()
            timeouts_in_a_row += 1
            continue
        timeouts_in_a_row = 0
        progress.turns_done += 1
        if spec.soak_turns and progress.turns_done >= spec.soak_turns:
            progress.stop_at = loop.time()
        heard_at = turn.first_audio_at or loop.time()
        listen_s = min(turn.audio_bytes / 2 / OUTPUT_RATE, MAX_LISTEN_S)
        await asyncio.sleep(max(0.0, heard_at + listen_s - loop.time()))


async def conversation_load(spec: ConversationSpec) -> JSON:
    async with http_session() as http:
        loop = asyncio.get_running_loop()
        before = await server_stats(spec.url, gc=True, reset=True)
        pairs = [
            Pair(f"talk-{index:05d}", mode=spec.mode, http=http, provider=spec.provider)
            for index in range(spec.sessions)
        ]
        connect_s = await connect_all(spec.url, pairs)
        spoken = [(label, chunks_of(pcm)) for label, pcm in spec.utterances]
        rng = random.Random(4)
        begin = loop.time() + 0.2
        progress = _Progress()
        opens = begin + spec.stagger_s + spec.warmup_s
        progress.window = (opens, opens + spec.measure_s)
        if not spec.soak_turns:
            progress.stop_at = progress.window[1]
        talking = asyncio.gather(
            *(
                _talk(pair, spec, spoken, begin + rng.uniform(0, spec.stagger_s), index, progress)
                for index, pair in enumerate(pairs)
            )
        )
        if spec.soak_turns:
            measured: JSON = {"soak": await _sample_memory(spec, progress, talking)}
        else:
            measured = await _measure_window(spec, progress.window)
        await talking
        in_window = [
            turn
            for pair in pairs
            for turn in pair.turns
            if progress.window[0] <= turn.committed < progress.window[1]
        ]
        result: JSON = {
            "sessions": spec.sessions,
            "connect_s": round(connect_s, 2),
            "rss_before_kib": before["rss_kib"],
            "turns": len(in_window),
            "timed_out": sum(1 for turn in in_window if turn.label.endswith("(timed out)")),
            "commit_to_transcript_ms": summary_ms(
                [t.transcript_at - t.committed for t in in_window if t.transcript_at is not None]
            ),
            "commit_to_first_audio_ms": summary_ms(
                [t.first_audio_at - t.committed for t in in_window if t.first_audio_at]
            ),
            "reply_audio_s": round(
                sum(t.audio_bytes for t in in_window) / 2 / OUTPUT_RATE / max(1, len(in_window)), 2
            ),
            "transcripts": sorted({str(t.transcript) for t in in_window})[:8],
            "speech_s_in_window": round(progress.chunks_in_window * CHUNK_S, 1),
            "send_lateness_ms": summary_ms(progress.lateness),
            "errors": count_errors(pairs),
            "turns_done": progress.turns_done,
            **measured,
        }
        await disconnect_all(pairs)
        return result


async def _measure_window(spec: ConversationSpec, window: tuple[float, float]) -> JSON:
    loop = asyncio.get_running_loop()
    monitor = LagMonitor()
    await asyncio.sleep(max(0.0, window[0] - loop.time()))
    monitor.start()
    cpu, busy = cpu_seconds(), system_busy_seconds()
    fake_cpu = process_cpu_seconds(spec.fake_pid) if spec.fake_pid else 0.0
    start = await server_stats(spec.url, reset=True)
    await asyncio.sleep(max(0.0, (window[0] + window[1]) / 2 - loop.time()))
    middle = await server_stats(spec.url)
    await asyncio.sleep(max(0.0, window[1] - loop.time()))
    end = await server_stats(spec.url)
    await monitor.stop()
    cpu, busy = cpu_seconds() - cpu, system_busy_seconds() - busy
    fake_cpu = (process_cpu_seconds(spec.fake_pid) - fake_cpu) if spec.fake_pid else 0.0
    server_cpu = end["cpu_s"] - start["cpu_s"]
    return {
        "server": {
            "cpu": round(server_cpu / spec.measure_s, 3),
            "rss_kib": middle["rss_kib"],
            "lag_ms": end["lag_ms"],
            "gc_pauses": end["gc_pauses"],
        },
        "generator_cpu": round(cpu / spec.measure_s, 3),
        "generator_lag_ms": monitor.summary(),
        "fake_cpu": round(fake_cpu / spec.measure_s, 3),
        "other_processes_cpu": round(
            max(0.0, busy - cpu - server_cpu - fake_cpu) / spec.measure_s, 3
        ),
    }


async def _sample_memory(
    spec: ConversationSpec, progress: _Progress, talking: asyncio.Future[list[None]]
) -> list[JSON]:
    """The server's memory (after a full collection) every ``soak_turns / soak_samples`` turns."""
    samples: list[JSON] = []
    every = max(1, spec.soak_turns // spec.soak_samples)
    due = every
    while not talking.done():
        await asyncio.sleep(0.5)
        if progress.turns_done >= due or talking.done():
            stats = await server_stats(spec.url, gc=spec.soak_collect)
            samples.append(
                {
                    "turns": progress.turns_done,
                    "rss_kib": stats["rss_kib"],
                    "gc_objects": stats["gc_objects"],
                }
            )
            due = progress.turns_done + every
    return samples


# -- the steps (this process) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    embedded: tuple[int, ...] = (2, 4, 8, 10, 12)
    cloud: tuple[int, ...] = (25, 50, 100, 200)
    sized_pool: bool = True
    """Also run the embedded steps with one decoder per conversation."""
    warmup_s: float = 6.0
    measure_s: float = 20.0
    soak_sessions: int = 200
    soak_turns: int = 10_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            embedded=(2, 8),
            cloud=(25, 100),
            sized_pool=True,
            warmup_s=3.0,
            measure_s=8.0,
            soak_sessions=100,
            soak_turns=400,
        )


def conversation_utterances() -> tuple[tuple[str, bytes], ...]:
    utterances = load_utterances(audio_dir())
    low, high = UTTERANCE_S
    chosen = tuple(u for u in utterances if low <= len(u[1]) / 2 / 16000 <= high)
    if not chosen:
        raise RuntimeError(f"no {low}-{high} s utterances in {audio_dir()}")
    return chosen


@contextlib.asynccontextmanager
async def cloud_fake(cpu: int | None) -> AsyncIterator[tuple[int, dict[str, str]]]:
    """The loopback OpenAI fake in its own process: (its pid, the server's environment)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.cloud_fake",
        *(["--cpu", str(cpu)] if cpu is not None else []),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().split()
        if len(line) != 3 or line[0] != "READY":
            raise RuntimeError(f"the OpenAI fake did not start: {line!r}")
        yield (
            process.pid,
            {
                "OPENAI_API_KEY": line[2],
                "OPENAI_BASE_URL": f"{line[1]}/v1",
                "METAHUMAN_PROVIDER_TIMEOUT_S": "10",
            },
        )
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def _target(stack: str, sessions: int) -> float | None:
    return TARGETS[stack].get(sessions)


def describe(step: JSON) -> str:
    audio, text, server = (
        step["commit_to_first_audio_ms"],
        step["commit_to_transcript_ms"],
        step["server"],
    )
    target = step.get("target_p95_ms")
    verdict = ""
    if step["errors"]:
        # A turn that failed is not a fast turn: a step with errors measures nothing (a cloud
        # step once ran with every turn refused by the fake, and looked cheap).
        verdict = f" (ERRORS: {sum(step['errors'].values())} error events; figures invalid)"
    elif target is not None and audio["p95"] is not None:
        verdict = f" (target < {target:g}: {'met' if audio['p95'] < target else 'MISSED'})"
    return (
        f"  {step['stack']:8} {step['pool'] or '':11} N={step['sessions']:3}"
        f"  first audio p50 {audio['p50']} p95 {audio['p95']} ms{verdict}"
        f"  transcript p50 {text['p50']} p95 {text['p95']} ms  turns {step['turns']}"
        f" timed out {step['timed_out']}  server cpu {server['cpu']}"
        f" ({step['server_cpu_ms_per_conversation_s']} ms/conv-s)"
        f" rss {server['rss_kib'] // 1024} MiB"
        f"  generator cpu {step['generator_cpu']} fake cpu {step['fake_cpu']}"
        f" others {step['other_processes_cpu']}  errors {step['errors'] or '-'}"
    )


async def run_step(
    stack: str,
    sessions: int,
    plan: Plan,
    cpus: Cpus,
    utterances: tuple[tuple[str, bytes], ...],
    *,
    decoders: int | None = None,
    search: str | None = None,
    loop: str = "asyncio",
) -> JSON:
    spec = ConversationSpec(
        url="",
        sessions=sessions,
        utterances=utterances,
        warmup_s=plan.warmup_s,
        measure_s=plan.measure_s,
    )
    if stack == "embedded":
        env = {DECODERS_ENV: str(decoders)} if decoders else {}
        if search is not None:
            env[SEARCH_ENV] = search
        async with running_server("app", "local", cpus.server, extra_env=env) as server:
            result: JSON = await in_process(
                cpus.client, conversation_load, replace(spec, url=server.url)
            )
    else:
        async with (
            cloud_fake(cpus.client) as (fake_pid, env),
            running_server(
                "app", "instant", cpus.server, extra_env=env, extra_args=("--loop", loop)
            ) as server,
        ):
            result = await in_process(
                cpus.client,
                conversation_load,
                replace(spec, url=server.url, provider="openai", fake_pid=fake_pid),
            )
    result["stack"] = stack
    result["loop"] = loop
    result["search"] = search
    result["pool"] = None if stack != "embedded" else f"decoders={decoders or DEFAULT_DECODERS}"
    result["target_p95_ms"] = _target(stack, sessions)
    result["server_cpu_ms_per_conversation_s"] = round(result["server"]["cpu"] / sessions * 1000, 1)
    speech_s = result["speech_s_in_window"]
    result["server_cpu_s_per_speech_s"] = (
        round(result["server"]["cpu"] * plan.measure_s / speech_s, 3) if speech_s else None
    )
    return result


async def soak(plan: Plan, cpus: Cpus, utterances: tuple[tuple[str, bytes], ...]) -> JSON:
    async with (
        cloud_fake(cpus.client) as (fake_pid, env),
        running_server("app", "instant", cpus.server, extra_env=env) as server,
    ):
        spec = ConversationSpec(
            url=server.url,
            sessions=plan.soak_sessions,
            utterances=utterances,
            provider="openai",
            fake_pid=fake_pid,
            warmup_s=0.0,
            measure_s=0.0,
            soak_turns=plan.soak_turns,
        )
        result: JSON = await in_process(cpus.client, conversation_load, spec, limit_s=1800)
    result.update(settled_growth(result["soak"]))
    return result


def settled_growth(samples: list[JSON]) -> JSON:
    """Growth per 1,000 turns over the second half of the soak: the first turns fill the
    allocator's pools and caches (RSS rises, then stays), so only growth after that is a leak."""
    if len(samples) < 3:
        return {}
    first, last = samples[len(samples) // 2], samples[-1]
    turns = max(1, last["turns"] - first["turns"])
    return {
        "growth_from_turn": first["turns"],
        "rss_growth_kib_per_1000_turns": round(
            (last["rss_kib"] - first["rss_kib"]) / turns * 1000, 1
        ),
        "gc_objects_growth_per_1000_turns": round(
            (last["gc_objects"] - first["gc_objects"]) / turns * 1000, 1
        ),
    }


def memory_per_conversation(steps: list[JSON]) -> JSON:
    """The slope of the server's resident memory over conversations, by stack: what one more
    conversation (Sender + Receiver, a turn in flight) costs, free of start-up allocations."""
    slopes: JSON = {}
    for key in sorted({(s["stack"], s["pool"] or "") for s in steps}):
        points = [
            (s["sessions"], s["server"]["rss_kib"])
            for s in steps
            if (s["stack"], s["pool"] or "") == key
        ]
        if len(points) < 2:
            continue
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        var = sum((x - mean_x) ** 2 for x, _ in points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
        slopes[" ".join(part for part in key if part)] = round(slope, 1)
    return {"kib_per_conversation": slopes}


def decoder_capacity(steps: list[JSON]) -> JSON:
    """What a pocketsphinx decoder costs in memory (the sized pool's extra RSS over the default
    pool's at the largest embedded step) and how many this machine's free memory holds."""
    available_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available_kib = int(line.split()[1])
    measured: float | None = None
    largest = max((s["sessions"] for s in steps if s["stack"] == "embedded"), default=0)
    default = [s for s in steps if s["sessions"] == largest and s["pool"] == "decoders=2"]
    sized = [
        s for s in steps if s["sessions"] == largest and s["pool"] and s["pool"] != "decoders=2"
    ]
    if default and sized and largest > 2:
        extra = sized[0]["server"]["rss_kib"] - default[0]["server"]["rss_kib"]
        measured = extra / 1024 / (largest - 2)
    per_decoder = measured if measured and measured > 10 else DECODER_MIB
    return {
        "decoder_mib_measured": round(measured, 1) if measured is not None else None,
        "decoder_mib_assumed": per_decoder,
        "mem_available_mib": available_kib // 1024,
        "decoders_in_half_of_free_memory": int(available_kib / 1024 / 2 // per_decoder),
    }


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    utterances = conversation_utterances()
    log(
        f"  utterances: {', '.join(label for label, _ in utterances)};"
        f" {plan.measure_s:g} s windows after {plan.warmup_s:g} s"
    )
    steps: list[JSON] = []
    pool_choices = (False, True) if plan.sized_pool else (False,)
    for sessions in plan.embedded:
        for sized in pool_choices:
            if sized and sessions <= DEFAULT_DECODERS:
                continue  # the default pool already has a decoder per conversation
            await wait_for_quiet(log, max_wait_s=10, quiet=True)
            decoders = sessions if sized else None
            step = await run_step("embedded", sessions, plan, cpus, utterances, decoders=decoders)
            steps.append(step)
            log(describe(step))
    for sessions in plan.cloud:
        await wait_for_quiet(log, max_wait_s=10, quiet=True)
        step = await run_step("cloud", sessions, plan, cpus, utterances)
        steps.append(step)
        log(describe(step))
    memory = memory_per_conversation(steps)
    pool = decoder_capacity(steps)
    log(f"  memory per conversation (RSS slope): {memory['kib_per_conversation']} KiB")
    log(f"  decoders: {pool}")
    return {
        "pinning": cpus.describe(),
        "plan": {
            "embedded": plan.embedded,
            "cloud": plan.cloud,
            "warmup_s": plan.warmup_s,
            "measure_s": plan.measure_s,
        },
        "utterances": [label for label, _ in utterances],
        "targets_p95_first_audio_ms": {
            stack: {str(n): limit for n, limit in limits.items()}
            for stack, limits in TARGETS.items()
        },
        "steps": steps,
        "memory": memory,
        "decoders": pool,
        "p95_first_audio_ms": {
            f"{s['stack']} {s['pool'] or ''} {s['sessions']}".replace("  ", " "): s[
                "commit_to_first_audio_ms"
            ]["p95"]
            for s in steps
        },
        "median_cpu_ms_per_conversation_s": {
            stack: percentile(
                [s["server_cpu_ms_per_conversation_s"] for s in steps if s["stack"] == stack], 50
            )
            for stack in ("embedded", "cloud")
        },
    }


async def run_soak(quick: bool, log: Callable[[str], None]) -> JSON:
    """No growth over many turns: the cloud stack for ``soak_turns`` turns."""
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    utterances = conversation_utterances()
    log(f"  soak: cloud, {plan.soak_sessions} conversations, {plan.soak_turns} turns...")
    soaked = await soak(plan, cpus, utterances)
    log(
        f"  soak: {soaked['turns_done']} turns; server RSS"
        f" {[s['rss_kib'] // 1024 for s in soaked['soak']]} MiB; growth"
        f" {soaked.get('rss_growth_kib_per_1000_turns')} KiB and"
        f" {soaked.get('gc_objects_growth_per_1000_turns')} objects per 1,000 turns;"
        f" errors {soaked['errors'] or '-'}"
    )
    return soaked


async def run_loops(quick: bool, log: Callable[[str], None]) -> JSON:
    """The cloud stack on asyncio's event loop and on uvloop's, side by side: the two take turns
    at each load, so that other work on the machine weighs on both alike."""
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    utterances = conversation_utterances()
    loads = (100,) if quick else (100, 200)
    steps: list[JSON] = []
    for sessions in loads:
        for loop in ("asyncio", "uvloop", "asyncio", "uvloop"):
            await wait_for_quiet(log, max_wait_s=10, quiet=True)
            step = await run_step("cloud", sessions, plan, cpus, utterances, loop=loop)
            steps.append(step)
            log(f"{describe(step)}  [{loop}]")
    ratios: JSON = {}
    for sessions in loads:

        def cpu(loop: str, n: int = sessions) -> float:
            values = [s["server"]["cpu"] for s in steps if s["loop"] == loop and s["sessions"] == n]
            return float(sum(values)) / len(values)

        ratios[str(sessions)] = round(cpu("uvloop") / cpu("asyncio"), 2)
    log(f"  server CPU, uvloop / asyncio: {ratios}")
    return {"steps": steps, "uvloop_over_asyncio_cpu": ratios}


async def run_searches(quick: bool, log: Callable[[str], None]) -> JSON:
    """The embedded stack with pocketsphinx's full search and with the server's default (``fast``)
    at the issue's loads, taking turns, so that other work on the machine weighs on both alike."""
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    utterances = conversation_utterances()
    loads = (8,) if quick else (8, 10)
    searches = ("full", "fast") if quick else ("full", "fast", "full", "fast")
    steps: list[JSON] = []
    for sessions in loads:
        for search in searches:
            await wait_for_quiet(log, max_wait_s=10, quiet=True)
            step = await run_step("embedded", sessions, plan, cpus, utterances, search=search)
            step["load_average"] = os.getloadavg()
            steps.append(step)
            log(f"{describe(step)}  [{SEARCH_ENV}={search}; load {step['load_average']}]")
    return {"pinning": cpus.describe(), "steps": steps}
