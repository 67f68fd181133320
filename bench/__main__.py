"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, print the figures, write
bench/results/<name>.json and bench/results/README-table.md.

On a 2-core machine the defaults take about 10-15 minutes for capacity, latency, embedded and
memory together, about 8 for capacity-vad (our server with and without server VAD, side by
side), about 10 for conversation (conversations per core), 5 for soak (10,000 turns) and a
minute for profile and two for sphinx; ``--quick`` is a smoke run (a few minutes for all) with
fewer steps and shorter windows; it writes <name>.quick.json, and the table takes a full run's
figures where there are any.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from bench import (
    capacity,
    conversation,
    embedded,
    latency,
    memory,
    profile,
    sdk,
    sphinx,
    turns,
    vad,
)
from bench.common import (
    JSON,
    RESULTS_DIR,
    Cpus,
    machine,
    read_json,
    today,
    wait_for_quiet,
    write_json,
)
from bench.plot import conversation_table, write_conversation_plot
from bench.report import BUILDERS, latest_rows, text_table, write_markdown
from bench.serve import GC_ENV

Suite = Callable[[bool, Callable[[str], None]], Awaitable[JSON]]
SUITES: dict[str, Suite] = {
    "capacity": capacity.run,
    "capacity-vad": capacity.run_vad,
    "latency": latency.run,
    "embedded": embedded.run,
    "memory": memory.run,
    "vad": vad.run,
    "conversation": conversation.run,
    "stt-search": conversation.run_searches,
    "soak": conversation.run_soak,
    "loops": conversation.run_loops,
    "profile": profile.run,
    "sphinx": sphinx.run,
    "turns": turns.run,
    "sdk": sdk.run,
}
ON_REQUEST = frozenset({"loops", "sdk", "stt-search"})
"""Suites that run only when named with --only (a what-if comparison, not a figure we promise)."""

NOTES = """\
Notes: `python -m bench` (or `nox -s bench`) writes these figures; bench/results/*.json has the
details. The server under test runs in its own process pinned to one core, the load generator in
another pinned to the other. Critical paths for time to first audio (STT 300 ms after the commit;
LLM first token 200 ms, then 30 tokens/s; TTS first audio 150 ms, then real time): `stream`
STT + LLM to the end of the first sentence + TTS first audio (the issue's bound); `chain` the
same + the rest of the first sentence's synthesis, since a `chain` delta carries a whole sentence
and a real-time TTS needs the sentence's length to make it; `single` STT + the whole reply +
its whole synthesis (one delta by definition)."""


def log(line: str) -> None:
    print(line, flush=True)


async def run_all(names: Sequence[str], quick: bool) -> int:
    host = machine()
    log(f"machine: {host['summary']}; Python {host['python']}; {Cpus.detect().describe()}")
    server_gc = os.environ.get(GC_ENV, "server")
    failures = 0
    for name in names:
        log(f"\n== {name} ==")
        busy = await wait_for_quiet(log, max_wait_s=10 if quick else 60)
        started = time.monotonic()
        try:
            result = await SUITES[name](quick, log)
        except Exception as exc:
            failures += 1
            log(f"  {name} failed: {type(exc).__name__}: {exc}")
            continue
        run: JSON = {
            "name": name,
            "date": today(),
            "machine": host,
            "quick": quick,
            "busy_cores_at_start": round(busy, 2),
            "server_gc": server_gc,
            "duration_s": round(time.monotonic() - started, 1),
            "result": result,
        }
        # A smoke run keeps its figures apart: the table prefers those of a full run.
        path = write_json(f"{name}.quick" if quick else name, run)
        log(f"  ({run['duration_s']:.0f} s; wrote {path})")
    write_conversation_figures()
    rows = latest_rows(list(BUILDERS))
    log("\n== latest figures ==")
    log(text_table(rows))
    path = write_markdown(rows, NOTES)
    log(f"\nwrote {path}")
    return 1 if failures else 0


def write_conversation_figures() -> None:
    """The conversation benchmark's step table and plot, from its latest run."""
    run = read_json("conversation") or read_json("conversation.quick")
    if run is None:
        return
    table = RESULTS_DIR / "conversation-table.md"
    table.write_text(conversation_table(run))
    plot = write_conversation_plot(run)
    log(f"\nwrote {table}" + (f" and {plot}" if plot else " (no plot: matplotlib missing)"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: fewer steps, shorter windows"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SUITES),
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(SUITES)})",
    )
    parser.add_argument(
        "--server-gc",
        choices=["server", "default"],
        default="server",
        help="the servers' garbage collector settings: those of `python -m handlers.server`"
        " (server, the default) or Python's (default: how the figures looked before tune_gc)",
    )
    args = parser.parse_args(argv)
    os.environ[GC_ENV] = args.server_gc
    names = args.only or [name for name in SUITES if name not in ON_REQUEST]
    sys.exit(asyncio.run(run_all(names, args.quick)))


if __name__ == "__main__":
    main()
