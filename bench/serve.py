"""The server under test, in its own process: ``python -m bench.serve --engine app|bare``.

* ``app``: our server, ``handlers.server.create_app``, with the provider set ``--providers``
  (``bench.fakes``) injected under ``local``, the sessions' default provider.
* ``bare``: a bare python-socketio + aiohttp server, configured as ours is (in-order handlers),
  that only counts appends and answers a commit with one event: the engine's own cost.

It prints ``READY <port>`` once listening, and serves ``GET /bench/stats``: resident memory, CPU
time, event loop lag, garbage collector pauses and counters. ``?reset=1`` starts a new measurement
window, ``?gc=1`` collects garbage first and counts the objects it tracks, ``?types=1`` counts them
by type, and with ``--tracemalloc``, ``?tracemalloc=1`` says where Python allocations grew since
the last call. Both engines get the garbage collector settings of ``python -m handlers.server``
(``tune_gc``) unless ``--gc default``. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import logging
import os
import signal
import sys
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

import socketio
from aiohttp import web

from bench.common import SOCKETIO_PATH, LagMonitor, cpu_seconds, pin, rss_kib
from bench.fakes import PROVIDER_SETS, Counters, registry
from handlers.animation.reference import warm_up as warm_up_lip_sync
from handlers.config import ServerConfig
from handlers.server import ChatServer, create_app, tune_gc

MAX_HTTP_BUFFER = 8 * 1024 * 1024
GC_ENV = "METAHUMAN_BENCH_SERVER_GC"
BENCH_CONNECTIONS_PER_ADDRESS = 100_000


class GcPauses:
    """How often and how long the garbage collector stops the world, by generation."""

    def __init__(self) -> None:
        self._started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        figures = self.figures[info["generation"]]
        figures[0] += 1
        figures[1] = max(figures[1], pause)
        figures[2] += pause

    def reset(self) -> None:
        # [count, longest, total] by generation.
        self.figures: dict[int, list[float]] = {gen: [0, 0.0, 0.0] for gen in range(3)}

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{generation}": {
                "count": int(count),
                "max_ms": round(longest * 1000, 1),
                "total_ms": round(total * 1000, 1),
            }
            for generation, (count, longest, total) in self.figures.items()
        }


class BareCounters:
    appends = 0
    append_bytes = 0
    commits = 0


def create_bare_app() -> tuple[web.Application, socketio.AsyncServer]:
    """The engine alone: count appends, answer a commit with `request.transcribe.done`."""
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins="*",
        async_handlers=False,
        max_http_buffer_size=MAX_HTTP_BUFFER,
    )
    app = web.Application()
    sio.attach(app, socketio_path=SOCKETIO_PATH)

    async def connect(sid: str, environ: Any, auth: Any = None) -> None:
        del sid, environ, auth

    async def append(sid: str, data: Any) -> None:
        del sid
        BareCounters.appends += 1
        BareCounters.append_bytes += len(data)

    async def commit(sid: str, *args: Any) -> None:
        del args
        BareCounters.commits += 1
        await sio.emit("request.transcribe.done", {"itemId": "item", "text": ""}, to=sid)

    sio.on("connect", connect)
    sio.on("input.buffer.append", append)
    sio.on("input.buffer.commit", commit)
    return app, sio


def _counters(engine: str, server: ChatServer | None) -> dict[str, Any]:
    if engine == "bare":
        return {
            "appends": BareCounters.appends,
            "append_bytes": BareCounters.append_bytes,
            "commits": BareCounters.commits,
        }
    assert server is not None
    counters: dict[str, Any] = {
        "appends": Counters.stt_chunks,
        "append_bytes": Counters.stt_bytes,
        "transcripts": Counters.transcripts,
        "sessions": len(server.sessions),
    }
    if server.services.vad.started:
        # Server VAD's worker thread: its CPU is part of the process's, counted apart too.
        vad = server.services.vad.engine()
        counters["vad_worker_cpu_s"] = vad.worker_cpu_s
        counters["vad_frames"] = vad.frames_processed
        counters["vad_model_calls"] = vad.model_calls
    return counters


async def serve(args: argparse.Namespace) -> None:
    server: ChatServer | None = None
    if args.engine == "app":
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            socketio_path=SOCKETIO_PATH,
            max_queued_turns=args.max_queued_turns,
            # Every load generator connection comes from 127.0.0.1: two per session, hundreds
            # of sessions. The per-address limit guards a real deployment, not this one.
            max_connections_per_address=BENCH_CONNECTIONS_PER_ADDRESS,
            log_level="WARNING",
        )
        app, server = create_app(config, registry(args.providers, os.environ))
        if args.providers == "local":
            # Load the embedded engines now, as `python -m handlers.server` does.
            for stage in ("stt", "llm", "tts"):
                reason = await server.registry.unavailable_reason(stage, "local")
                if reason is not None:
                    raise SystemExit(f"local {stage} unavailable: {reason}")
        # Lip sync's espeak-ng reference too, as the server's main does.
        await warm_up_lip_sync()
    else:
        app, _ = create_bare_app()

    monitor = LagMonitor()
    gc_pauses = GcPauses()
    snapshots: list[tracemalloc.Snapshot] = []
    if args.tracemalloc:
        tracemalloc.start(8)
    window_cpu = cpu_seconds()
    loop = asyncio.get_running_loop()
    window_start = loop.time()

    async def stats(request: web.Request) -> web.Response:
        nonlocal window_cpu, window_start
        if request.query.get("gc") == "1":
            gc.collect()
        now, cpu = loop.time(), cpu_seconds()
        body = {
            "pid": os.getpid(),
            "rss_kib": rss_kib(),
            "gc_objects": len(gc.get_objects()) if request.query.get("gc") == "1" else None,
            "cpu_s": cpu,
            "window_s": now - window_start,
            "window_cpu_s": cpu - window_cpu,
            "lag_ms": monitor.summary(),
            "gc_pauses": gc_pauses.summary(),
            **_counters(args.engine, server),
        }
        if request.query.get("tracemalloc") == "1" and tracemalloc.is_tracing():
            # Python-level allocations alive now, and where they grew since the last call.
            snapshot = tracemalloc.take_snapshot()
            body["traced_kib"] = round(tracemalloc.get_traced_memory()[0] / 1024, 1)
            if snapshots:
                grown = snapshot.compare_to(snapshots[-1], "lineno")[:10]
                body["traced_growth"] = [str(stat) for stat in grown]
            snapshots[:] = [snapshot]
        if request.query.get("types") == "1":
            # What the collector tracks, by type: the first place to look when memory grows.
            counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
            body["gc_types"] = dict(counts.most_common(40))
        if request.query.get("reset") == "1":
            monitor.reset()
            gc_pauses.reset()
            window_cpu, window_start = cpu, now
        return web.json_response(body)

    app.router.add_get("/bench/stats", stats)
    if args.gc == "server":
        # As `python -m handlers.server` does; the bare engine gets the same, so that the
        # comparison measures our code rather than garbage collector settings.
        tune_gc()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = int(runner.addresses[0][1])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    monitor.start()
    print(f"READY {port}", flush=True)
    await stop.wait()
    await monitor.stop()
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--engine", choices=["app", "bare"], default="app")
    parser.add_argument("--providers", choices=PROVIDER_SETS, default="instant")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--cpu", type=int, help="pin the process to this core")
    parser.add_argument(
        "--gc",
        choices=["server", "default"],
        default=os.environ.get(GC_ENV, "server"),
        help="server: the GC settings of handlers.server.main (tune_gc); default: Python's"
        f" ({GC_ENV})",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace Python allocations (slow): /bench/stats?tracemalloc=1 reports their growth",
    )
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop: asyncio's (as `python -m handlers.server`) or uvloop's",
    )
    parser.add_argument("--max-queued-turns", type=int, default=ServerConfig().max_queued_turns)
    args = parser.parse_args(argv)
    pin(args.cpu)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.loop == "uvloop":
        import uvloop  # the bench extra; only for a side-by-side measurement

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(args))
        return
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
