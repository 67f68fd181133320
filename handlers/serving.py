"""Run the aiohttp application until SIGINT/SIGTERM, saying "listening" only once the port is bound.

``web.run_app`` prints before it binds and ends a taken port in a traceback; this binds first and
turns what stops a start (port in use, no permission, unknown host) into one ``StartupError``.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import sys
from collections.abc import Callable

from aiohttp import web


class StartupError(Exception):
    """Why the server could not start: one line for the operator."""


def bind_problem(exc: OSError, host: str, port: int) -> str:
    """One line saying why ``host:port`` could not be bound."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another server running?);"
            " stop it or choose another with --port"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {host}:{port}; choose a port above 1023 with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; check --host"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    shutdown_timeout: float,
    on_listening: Callable[[], None],
) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM, then shut it down gracefully."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(bind_problem(exc, host, port)) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        on_listening()
        await stop.wait()
        print("  stopping (turns in flight may finish)", file=sys.stderr)
    finally:
        await runner.cleanup()
