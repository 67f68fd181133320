"""Shared plumbing: CPU pinning, the server process, child processes, statistics, results."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
SOCKETIO_PATH = "/socketio"

T = TypeVar("T")
JSON = dict[str, Any]


# -- CPUs ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cpus:
    """Which core the server and the load generator get (None: not pinned)."""

    server: int | None
    client: int | None

    @classmethod
    def detect(cls) -> Cpus:
        available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(available) >= 2:
            return cls(server=available[0], client=available[1])
        return cls(server=None, client=None)

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (fewer than 2 cores)"
        return f"server on cpu {self.server}, load generator on cpu {self.client}"


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def machine() -> JSON:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = int(line.split()[1]) / 1024 / 1024
    cores = os.cpu_count() or 1
    return {
        "cpu": model,
        "cores": cores,
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "summary": f"{cores} cores ({model.replace('(R)', '').replace(' Processor', '')}),"
        f" {memory_gib:.0f} GiB",
    }


def today() -> str:
    return datetime.date.today().isoformat()


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values_s: Sequence[float]) -> JSON:
    """p50/p95/p99/max in milliseconds of a list of durations in seconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50": _round(percentile(ms, 50)),
        "p95": _round(percentile(ms, 95)),
        "p99": _round(percentile(ms, 99)),
        "max": _round(max(ms)) if ms else None,
    }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


class LagMonitor:
    """Measures how late the event loop wakes a task that sleeps ``interval`` seconds.

    A loop that keeps up wakes it within a millisecond or two; a saturated one, later.
    """

    def __init__(self, interval: float = 0.01, keep_s: float = 120.0) -> None:
        self.interval = interval
        # Bounded, so that a server left running (the memory benchmark) does not grow.
        self.samples: collections.deque[float] = collections.deque(maxlen=int(keep_s / interval))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - due))

    def reset(self) -> None:
        self.samples.clear()

    def summary(self) -> JSON:
        return summary_ms(list(self.samples))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def system_busy_seconds() -> float:
    """CPU time all processes on the machine have used since boot (Linux /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def wait_for_quiet(
    log: Callable[[str], None], max_wait_s: float = 60.0, *, quiet: bool = False
) -> float:
    """Wait until other processes use less than a quarter of a core (up to ``max_wait_s``);
    return the share of a core they used in the last second. Other engineers' test runs
    on a 2-core machine change every figure here, so each benchmark says what it ran next to."""
    deadline = time.monotonic() + max_wait_s
    warned = False
    while True:
        before = system_busy_seconds()
        await asyncio.sleep(1.0)
        busy = system_busy_seconds() - before
        if busy < 0.25 or time.monotonic() > deadline:
            if busy >= 0.25:
                log(f"  note: other processes keep {busy:.2f} cores busy; measuring anyway")
            return busy
        if not warned and not quiet:
            log(f"  waiting for the machine to be quiet ({busy:.2f} cores busy)...")
            warned = True


def rss_kib(pid: int | None = None) -> int:
    """Resident set size of a process, in KiB (Linux /proc)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")


# -- the server process ----------------------------------------------------------------------------


class ServerProcess:
    """``python -m bench.serve`` in a child process; ``url`` once it is listening."""

    def __init__(
        self,
        engine: str,
        providers: str,
        cpu: int | None,
        *,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.providers = providers
        self.cpu = cpu
        self.env = {**os.environ, **(extra_env or {})}
        self.args = [
            sys.executable,
            "-m",
            "bench.serve",
            "--engine",
            engine,
            "--providers",
            providers,
            *(["--cpu", str(cpu)] if cpu is not None else []),
            *extra_args,
        ]
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, limit_s: float = 60.0) -> None:
        self.process = process = await asyncio.create_subprocess_exec(
            *self.args, cwd=REPO_ROOT, env=self.env, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), limit_s)).decode()
        if not line.startswith("READY "):
            process.kill()
            await process.wait()
            raise RuntimeError(f"bench server did not start ({self.args}): {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def running_server(
    engine: str,
    providers: str,
    cpu: int | None,
    *,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(engine, providers, cpu, extra_env=extra_env, extra_args=extra_args)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


# -- load generator processes ----------------------------------------------------------------------


def _child(
    conn: multiprocessing.connection.Connection,
    cpu: int | None,
    function: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    pin(cpu)
    try:
        result = asyncio.run(function(*args))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    conn.send(("ok", result))
    conn.close()


async def in_process(
    cpu: int | None, function: Callable[..., Any], *args: Any, limit_s: float = 900.0
) -> Any:
    """Run the coroutine function ``function(*args)`` in a fresh process pinned to ``cpu``.

    The arguments and the result must pickle; the function must be importable (module level).
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, cpu, function, args), daemon=True)
    process.start()
    child.close()
    try:
        deadline = time.monotonic() + limit_s
        while not parent.poll():
            if not process.is_alive() and not parent.poll():
                raise RuntimeError(f"load generator exited with {process.exitcode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"load generator ran over {limit_s:.0f} s")
            await asyncio.sleep(0.05)
        try:
            status, value = parent.recv()
        except EOFError:
            process.join(5)
            raise RuntimeError(f"load generator exited with {process.exitcode}") from None
    finally:
        parent.close()
        if process.is_alive():
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
    if status != "ok":
        raise RuntimeError(f"load generator failed: {value}")
    return value


# -- results ---------------------------------------------------------------------------------------


def write_json(name: str, data: JSON) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def read_json(name: str) -> JSON | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    data: JSON = json.loads(path.read_text())
    return data
