"""Memory: the server's resident memory per idle session, per streaming session, and over many
turns (a leak shows as growth).

A session is a Sender and a Receiver. Every figure is the server's RSS (``/proc``, after
``gc.collect()``) or its count of objects the garbage collector tracks (not counting those
``gc.freeze()`` put aside at start-up), read by ``/bench/stats`` in the server's process. Each
per-session figure comes from a fresh server: memory that sessions free stays in the allocator's
arenas, so a second measurement in the same process would reuse it. The bare python-socketio
server's figures are reported next to ours: they are what the engine itself costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from bench.common import JSON, Cpus, in_process, running_server
from bench.embedded import audio_dir, load_utterances
from bench.loadgen import LeakSpec, MemorySpec, leak_load, memory_load

TARGET_IDLE_KB = 200.0
GROWTH_TOLERANCE_KIB = 512
"""RSS moves by a few hundred KiB as the allocator's arenas settle; more than this is growth."""
OBJECT_TOLERANCE = 100
"""Live objects move by a few dozen from one sample to the next; more than this is growth."""


@dataclass(frozen=True, slots=True)
class Plan:
    idle_sessions: int = 500
    streaming_sessions: int = 100
    leak_sessions: int = 10
    leak_turns: int = 100
    """Per session: 1,000 turns in all."""
    churn_rounds: int = 10
    local_leak_turns: int = 50
    """Turns per session (2 sessions) on the embedded providers; 0 skips."""

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            idle_sessions=200,
            streaming_sessions=50,
            leak_sessions=5,
            leak_turns=40,
            churn_rounds=0,
            local_leak_turns=0,
        )


def _kib_per_session(before: JSON, after: JSON, sessions: int) -> float:
    return round(float(after["rss_kib"] - before["rss_kib"]) / sessions, 1)


def _growth(samples: list[JSON]) -> JSON:
    """Growth over the second half of the run: the first half warms caches and lets the
    allocator's arenas settle (RSS rises for a while, then stays), so only steady growth after
    it is a leak. In RSS and in live objects (those the garbage collector tracks)."""
    middle, last = samples[(len(samples) - 1) // 2], samples[-1]
    turns = last["turns"] - middle["turns"]
    rss = last["rss_kib"] - middle["rss_kib"]
    objects = last["gc_objects"] - middle["gc_objects"]
    return {
        "from_turn": middle["turns"],
        "turns_measured": turns,
        "rss_kib": rss,
        "gc_objects": objects,
        "rss_bytes_per_turn": round(rss * 1024 / turns, 1) if turns else None,
        "grows": rss > GROWTH_TOLERANCE_KIB or objects > OBJECT_TOLERANCE,
    }


async def _per_session(engine: str, sessions: int, streaming: bool, cpus: Cpus) -> JSON:
    async with running_server(engine, "instant", cpus.server) as server:
        spec = MemorySpec(url=server.url, sessions=sessions, streaming=streaming)
        figures: JSON = await in_process(cpus.client, memory_load, spec)
    return {
        "sessions": sessions,
        "kib_per_session": _kib_per_session(figures["before"], figures["during"], sessions),
        "rss_before_kib": figures["before"]["rss_kib"],
        "rss_with_sessions_kib": figures["during"]["rss_kib"],
        "gc_objects_per_session": round(
            (figures["connected"]["gc_objects"] - figures["before"]["gc_objects"]) / sessions, 1
        ),
        "errors": figures["errors"],
        "send_lateness_ms": figures["send_lateness_ms"],
    }


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    result: JSON = {"pinning": cpus.describe(), "plan": asdict(plan)}

    for engine in ("bare", "app"):
        idle = await _per_session(engine, plan.idle_sessions, False, cpus)
        streaming = await _per_session(engine, plan.streaming_sessions, True, cpus)
        result[engine] = {"idle": idle, "streaming": streaming}
        log(
            f"  {engine:5} idle {idle['kib_per_session']} KiB/session"
            f" ({idle['gc_objects_per_session']} objects), streaming"
            f" {streaming['kib_per_session']} KiB/session"
        )

    leaks: JSON = {}
    runs: list[tuple[str, str, LeakSpec]] = [
        (
            "instant",
            "instant fakes, 0.5 s of audio sent at once",
            LeakSpec(
                url="",
                sessions=plan.leak_sessions,
                turns=plan.leak_turns,
                churn_rounds=plan.churn_rounds,
            ),
        )
    ]
    directory = audio_dir()
    if plan.local_leak_turns and (directory / "manifest.json").exists():
        runs.append(
            (
                "local",
                "embedded providers on tests/data/speech, sent at once",
                LeakSpec(
                    url="",
                    sessions=2,
                    turns=plan.local_leak_turns,
                    sample_every=20,
                    churn_rounds=0,
                    utterances=load_utterances(directory)[:4],
                ),
            )
        )
    for providers, description, template in runs:
        async with running_server("app", providers, cpus.server) as server:
            spec = LeakSpec(
                url=server.url,
                sessions=template.sessions,
                turns=template.turns,
                sample_every=template.sample_every,
                churn_rounds=template.churn_rounds,
                utterances=template.utterances,
            )
            leak: JSON = await in_process(cpus.client, leak_load, spec)
        growth = _growth(leak["samples"])
        leaks[providers] = {"description": description, **leak, "growth": growth}
        samples = ", ".join(
            f"{s['turns']}: {s['rss_kib']} KiB/{s['gc_objects']} objects" for s in leak["samples"]
        )
        log(f"  turns ({description}): {samples}")
        log(
            f"    growth from turn {growth['from_turn']} on: {growth['rss_kib']:+} KiB,"
            f" {growth['gc_objects']:+} objects over {growth['turns_measured']} turns"
        )
        churn = leak["churn"]
        if churn:
            log(
                f"  {churn['sessions']} sessions connecting, speaking once and leaving:"
                f" {churn['before']['rss_kib']} -> {churn['settled']['rss_kib']} KiB,"
                f" {churn['before']['gc_objects']} -> {churn['right_after']['gc_objects']}"
                f" -> {churn['settled']['gc_objects']} objects (after {churn['settle_s']} s)"
            )
    result["turns"] = leaks
    result["target"] = "idle < 200 KB per session; no growth over 1,000 turns"
    return result
