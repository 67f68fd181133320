"""Capacity: the most real-time sessions our server holds, next to a bare python-socketio server.

S sessions, a Sender and a Receiver each; every Sender streams 20 ms chunks of 16 kHz PCM16
(640 bytes, 50 a second) on the clock and commits every 2 s. Providers are instant in-process
fakes. A step holds when p99 commit -> `request.transcribe.done` is under 50 ms, no commit goes
unanswered, and no Sender falls behind real time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from bench.common import JSON, Cpus, in_process, running_server, wait_for_quiet
from bench.loadgen import CapacitySpec, capacity_load

P99_LIMIT_MS = 50.0
NOISY_CPU = 0.2
"""A step during which other processes used this much of a core or more is marked noisy."""
TARGET_RATIO = 0.8


@dataclass(frozen=True, slots=True)
class Plan:
    start: int = 100
    step: int = 100
    resolution: int = 20
    limit: int = 1000
    warmup_s: float = 2.0
    measure_s: float = 8.0
    retries: int = 1
    """A failing S is run this many more times before it counts as failed."""
    noisy_reruns: int = 2
    """...and a failure while other processes used the machine is re-run up to this often."""
    quiet_wait_s: float = 30.0

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            start=200,
            step=100,
            resolution=50,
            limit=600,
            warmup_s=1.0,
            measure_s=4.0,
            retries=0,
            noisy_reruns=1,
            quiet_wait_s=10.0,
        )


CRITERIA: JSON = {
    "p99_commit_to_transcript_ms_below": P99_LIMIT_MS,
    "no_lost_commits": True,
    "sender_never_later_than_ms": 100,
}
"""What a step must meet to hold (``judge``), as the results record it."""

GENERATOR_LAG_LIMIT_MS = 20.0
GENERATOR_CPU_LIMIT = 0.9


def generator_bound(step: JSON) -> bool:
    """Whether the load generator, not the server, may have been the bottleneck."""
    lag = step["generator_lag_ms"]["p99"]
    return bool(
        step["generator_cpu"] >= GENERATOR_CPU_LIMIT
        or (lag is not None and lag >= GENERATOR_LAG_LIMIT_MS)
    )


def judge(step: JSON) -> tuple[bool, str]:
    """Whether a step held, and why not."""
    p99 = step["commit_to_transcript_ms"]["p99"]
    reasons = []
    if p99 is None or p99 >= P99_LIMIT_MS:
        reasons.append(f"p99 {p99} ms")
    if step["lost_commits"]:
        reasons.append(f"{step['lost_commits']} commits unanswered")
    if step["senders_behind"]:
        reasons.append(f"{step['senders_behind']} senders behind")
    return not reasons, "; ".join(reasons)


VARIANTS: dict[str, tuple[str, str | None]] = {
    "bare": ("bare", None),
    "app": ("app", None),
    "vad": ("app", "server_vad"),
}
"""What each searched variant runs: (the bench.serve engine, the sessions' turnDetection.type).
``vad`` is our server with every session on server VAD (see ``run_vad``)."""


async def run_step(variant: str, sessions: int, plan: Plan, cpus: Cpus) -> JSON:
    engine, turn_detection = VARIANTS[variant]
    async with running_server(engine, "instant", cpus.server) as server:
        spec = CapacitySpec(
            url=server.url,
            sessions=sessions,
            warmup_s=plan.warmup_s,
            measure_s=plan.measure_s,
            turn_detection=turn_detection,
        )
        result: JSON = await in_process(cpus.client, capacity_load, spec)
    ok, why = judge(result)
    result["holds"] = ok
    result["why_not"] = why
    return result


@dataclass
class Search:
    """One engine's search for its largest holding S."""

    engine: str
    held: int = 0
    failed: int | None = None
    steps: list[JSON] = field(default_factory=list)

    def next_refinement(self, resolution: int) -> int | None:
        if self.failed is None or self.failed - self.held <= resolution:
            return None
        middle = (self.held + self.failed) // 2 // resolution * resolution
        return middle if middle > self.held else None

    def summary(self) -> JSON:
        return {
            "engine": self.engine,
            "max_sessions": self.held,
            "first_failure": self.failed,
            "steps": self.steps,
        }


async def sweep(engines: list[str], plan: Plan, cpus: Cpus, log: Callable[[str], None]) -> JSON:
    """Find each engine's largest holding S: the engines take turns at each S, so that they meet
    the same conditions (other work on the machine comes and goes); a failing S is tried once
    more before it counts as failed (one noisy window does not end a search)."""
    searches = {engine: Search(engine) for engine in engines}

    async def attempt(search: Search, sessions: int) -> bool:
        failures = reruns = 0
        while True:
            await wait_for_quiet(log, max_wait_s=plan.quiet_wait_s, quiet=True)
            step = await run_step(search.engine, sessions, plan, cpus)
            step["noisy"] = step["other_processes_cpu"] >= NOISY_CPU
            step["generator_bound"] = generator_bound(step)
            search.steps.append(step)
            log(_describe(search.engine, step))
            if step["holds"]:
                return True
            if step["noisy"] and reruns < plan.noisy_reruns:
                # Other work took the cores: this window says little about the server.
                reruns += 1
                continue
            failures += 1
            if failures > plan.retries:
                return False

    sessions = plan.start
    while sessions <= plan.limit and any(s.failed is None for s in searches.values()):
        for search in searches.values():
            if search.failed is None:
                if await attempt(search, sessions):
                    search.held = sessions
                else:
                    search.failed = sessions
        sessions += plan.step
    while True:
        pending = [(s, s.next_refinement(plan.resolution)) for s in searches.values()]
        pending = [(s, n) for s, n in pending if n is not None]
        if not pending:
            break
        for search, middle in pending:
            assert middle is not None
            if await attempt(search, middle):
                search.held = middle
            else:
                search.failed = middle
    return {engine: search.summary() for engine, search in searches.items()}


def _describe(engine: str, step: JSON) -> str:
    latency = step["commit_to_transcript_ms"]
    server = step["server"]
    return (
        f"  {engine:5} S={step['sessions']:4}  p99 {latency['p99']} ms (p50 {latency['p50']})"
        f"  lost {step['lost_commits']}  behind {step['senders_behind']}"
        f"  server: cpu {server['cpu']} lag p99 {server['lag_ms']['p99']} ms"
        f" appends/s {server['appends_per_s']}/{step['expected_appends_per_s']}"
        + (
            f" vad worker cpu {server['vad_worker_cpu']}"
            f" ({server['vad_frames_per_model_call']} frames/call)"
            f" speech starts {step['speech_started']}"
            if "vad_worker_cpu" in server
            else ""
        )
        + f"  generator: cpu {step['generator_cpu']} lag p99 {step['generator_lag_ms']['p99']} ms"
        f"  others: cpu {step['other_processes_cpu']}"
        f"  -> {'holds' if step['holds'] else 'fails: ' + step['why_not']}"
        f"{' (noisy)' if step.get('noisy') else ''}"
        f"{' (generator-bound?)' if step.get('generator_bound') else ''}"
    )


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    found = await sweep(["bare", "app"], plan, cpus, log)
    bare, ours = found["bare"], found["app"]
    ratio = ours["max_sessions"] / bare["max_sessions"] if bare["max_sessions"] else None
    log(
        f"  largest S: bare {bare['max_sessions']}, ours {ours['max_sessions']}"
        f" -> ratio {ratio if ratio is None else round(ratio, 2)} (target {TARGET_RATIO})"
    )
    generator = generator_summary([*bare["steps"], *ours["steps"]])
    log(
        f"  load generator: at most {generator['max_cpu']} of its core, loop lag p99 at most"
        f" {generator['max_lag_p99_ms']} ms (quiet steps);"
        f" {generator['steps_possibly_generator_bound']} steps possibly generator-bound"
    )
    return {
        "pinning": cpus.describe(),
        "criteria": CRITERIA,
        "plan": asdict(plan),
        "bare": bare,
        "app": ours,
        "ratio": round(ratio, 2) if ratio is not None else None,
        "target_ratio": TARGET_RATIO,
        "cpu_cost": cpu_cost(bare["steps"], ours["steps"]),
        "generator": generator,
    }


def generator_summary(steps: list[JSON]) -> JSON:
    """How hard the load generator worked: was it ever the bottleneck?"""
    quiet = [s for s in steps if not s.get("noisy")]
    return {
        "max_cpu": max((s["generator_cpu"] for s in steps), default=None),
        "max_lag_p99_ms": max((s["generator_lag_ms"]["p99"] or 0 for s in quiet), default=None),
        "steps_possibly_generator_bound": sum(1 for s in steps if s.get("generator_bound")),
        "client": steps[0]["client"] if steps else None,
    }


def server_cpu_ms(steps: list[JSON], sessions: int, figure: str = "cpu") -> float:
    """The mean of the server's ``figure`` (cores) over the steps run at ``sessions`` that report
    it, in milliseconds of CPU per session-second."""
    cores = [
        float(s["server"][figure])
        for s in steps
        if s["sessions"] == sessions and figure in s["server"]
    ]
    return sum(cores) / len(cores) / sessions * 1000


def cpu_cost(bare: list[JSON], ours: list[JSON]) -> JSON:
    """Server CPU per session at the smallest S both ran (a figure less sensitive to other work
    on the machine than the largest S): milliseconds of CPU per session-second."""
    common = sorted({s["sessions"] for s in bare} & {s["sessions"] for s in ours})
    if not common:
        return {}
    sessions = int(common[0])
    bare_ms, ours_ms = server_cpu_ms(bare, sessions), server_cpu_ms(ours, sessions)
    return {
        "sessions": sessions,
        "bare_cpu_ms_per_session_s": round(bare_ms, 3),
        "app_cpu_ms_per_session_s": round(ours_ms, 3),
        "ratio": round(bare_ms / ours_ms, 2),
    }


# -- with server VAD ---------------------------------------------------------------------------

VAD_TARGET_SESSIONS = 150
"""The issue's target: real-time sessions one core holds with server VAD on every session."""


def per_session_cpu(steps: list[JSON], sessions: int) -> JSON:
    """Server CPU (all its threads) and the VAD worker's share, in milliseconds of CPU per
    session-second, averaged over the steps run at ``sessions``."""
    if not any(s["sessions"] == sessions for s in steps):
        return {}
    figures: JSON = {
        "sessions": sessions,
        "server_cpu_ms_per_session_s": round(server_cpu_ms(steps, sessions), 3),
    }
    if any("vad_worker_cpu" in s["server"] for s in steps if s["sessions"] == sessions):
        vad_ms = server_cpu_ms(steps, sessions, "vad_worker_cpu")
        figures["vad_worker_cpu_ms_per_session_s"] = round(vad_ms, 3)
    return figures


async def run_vad(quick: bool, log: Callable[[str], None]) -> JSON:
    """Our server without and with server VAD on every session, taking turns at each S.

    The Senders stream the same quiet noise as ``run`` and still commit by hand every 2 s: VAD
    runs its model on every 32 ms frame whatever the audio, and hears no speech in it, so it
    never opens or commits a turn itself (``speech_started`` counts any it did) and every
    commit is answered by exactly one transcript, as without VAD.
    """
    cpus = Cpus.detect()
    # Steps of 50 around the target of 150, refined to 10 (to 25 in a quick run).
    plan = replace(
        Plan.quick() if quick else Plan(),
        start=50,
        step=50,
        limit=400,
        resolution=25 if quick else 10,
    )
    found = await sweep(["app", "vad"], plan, cpus, log)
    off, on = found["app"], found["vad"]
    ratio = on["max_sessions"] / off["max_sessions"] if off["max_sessions"] else None
    common = sorted({s["sessions"] for s in off["steps"]} & {s["sessions"] for s in on["steps"]})
    cost = (
        {
            "without_vad": per_session_cpu(off["steps"], common[0]),
            "with_vad": per_session_cpu(on["steps"], common[0]),
        }
        if common
        else {}
    )
    log(
        f"  largest S: without VAD {off['max_sessions']}, with server VAD {on['max_sessions']}"
        f" (target {VAD_TARGET_SESSIONS}) -> {ratio if ratio is None else round(ratio, 2)}x"
    )
    if cost:
        log(
            f"  CPU per session at S={common[0]}:"
            f" {cost['without_vad']['server_cpu_ms_per_session_s']} ms/s without VAD,"
            f" {cost['with_vad']['server_cpu_ms_per_session_s']} ms/s with it, of which the VAD"
            f" worker {cost['with_vad'].get('vad_worker_cpu_ms_per_session_s')} ms/s"
        )
    return {
        "pinning": cpus.describe(),
        "criteria": CRITERIA,
        "audio": "quiet white noise (+-300 of 32768, about -45 dBFS); manual commits every 2 s",
        "plan": asdict(plan),
        "app": off,
        "vad": on,
        "ratio": round(ratio, 2) if ratio is not None else None,
        "target_sessions": VAD_TARGET_SESSIONS,
        "cpu_per_session": cost,
        "at_most_held": {
            "without_vad": per_session_cpu(off["steps"], off["max_sessions"]),
            "with_vad": per_session_cpu(on["steps"], on["max_sessions"]),
        },
        "speech_started": sum(s["speech_started"] for s in on["steps"]),
        "generator": generator_summary([*off["steps"], *on["steps"]]),
    }
