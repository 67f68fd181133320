"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: Redis, when configured,
answers), for a load balancer's health checks and an orchestrator's probes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

ReadyCheck = Callable[[], Awaitable[str | None]]
"""Why the node cannot serve now, or None when it can."""


def add_health_routes(app: web.Application, ready: ReadyCheck) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        problem = await ready()
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "unavailable", "reason": problem}, status=503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
