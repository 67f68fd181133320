"""Where the server's CPU goes on the cloud path: 100 conversations (bench.conversation, every
stage ``openai`` against the loopback fake), sampled with py-spy for the measured window.

Writes bench/results/profile-cloud.txt (py-spy's collapsed stacks) and prints the top functions by
own time and by inclusive time, each with its share of the samples. Needs ``py-spy`` (the
``bench`` extra) and permission to read the server's memory (same user; no ptrace lockdown).
"""

from __future__ import annotations

import asyncio
import collections
import shutil
from collections.abc import Callable
from dataclasses import replace

from bench.common import JSON, RESULTS_DIR, Cpus, in_process, running_server
from bench.conversation import (
    ConversationSpec,
    cloud_fake,
    conversation_load,
    conversation_utterances,
    describe,
)

SESSIONS = 100
RATE_HZ = 200
TOP = 25


def frame_name(frame: str) -> str:
    """``function (path/to/file.py:123)`` -> ``path/to/file.py:function`` (site-packages cut)."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/", "/w14-bench/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{function}"


def top_costs(collapsed: str, top: int = TOP) -> JSON:
    """Own and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def shares(counter: collections.Counter[str]) -> list[JSON]:
        return [
            {"function": name, "share": round(count / total, 4)}
            for name, count in counter.most_common(top)
        ]

    return {"samples": total, "own": shares(own), "inclusive": shares(inclusive)}


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    spy = shutil.which("py-spy")
    if spy is None:
        log("  skipped: py-spy is not installed (pip install -e .[bench])")
        return {"skipped": "py-spy not installed"}
    cpus = Cpus.detect()
    warmup_s, measure_s = (3.0, 8.0) if quick else (6.0, 20.0)
    spec = ConversationSpec(
        url="",
        sessions=SESSIONS,
        utterances=conversation_utterances(),
        provider="openai",
        warmup_s=warmup_s,
        measure_s=measure_s,
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    output = RESULTS_DIR / ("profile-cloud.quick.txt" if quick else "profile-cloud.txt")
    async with (
        cloud_fake(cpus.client) as (fake_pid, env),
        running_server("app", "instant", cpus.server, extra_env=env) as server,
    ):
        assert server.process is not None
        load = asyncio.create_task(
            in_process(
                cpus.client,
                conversation_load,
                replace(spec, url=server.url, fake_pid=fake_pid),
            )
        )
        await asyncio.sleep(spec.stagger_s + warmup_s + 1.0)
        recorder = await asyncio.create_subprocess_exec(
            spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(int(measure_s) - 2),
            "--rate",
            str(RATE_HZ),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, error = await recorder.communicate()
        step: JSON = await load
    step.update(stack="cloud", pool=None, target_p95_ms=None)
    step["server_cpu_ms_per_conversation_s"] = round(step["server"]["cpu"] / SESSIONS * 1000, 1)
    log(describe(step) + "  (under py-spy)")
    if recorder.returncode != 0 or not output.exists():
        log(f"  py-spy failed ({recorder.returncode}): {error.decode()[-500:]}")
        return {"failed": error.decode()[-2000:], "step": step}
    costs = top_costs(output.read_text())
    log(f"  {costs['samples']} samples; top by own time:")
    for entry in costs["own"][:15]:
        log(f"    {entry['share']:6.1%}  {entry['function']}")
    log("  top by inclusive time:")
    for entry in costs["inclusive"][:25]:
        log(f"    {entry['share']:6.1%}  {entry['function']}")
    return {"sessions": SESSIONS, "collapsed_stacks": str(output), "costs": costs, "step": step}
