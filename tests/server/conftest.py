"""Fixtures: a real server on loopback per test, with contract checks on every received event.

``serve(**config_overrides, factories=..., env=...)`` starts a server (the embedded local
providers unless ``factories`` replace some) and returns a RunningServer; ``server`` is one with
the defaults. At the end of the test the fixture fails the test when

* any client received an event that is not a server event, does not validate against its
  JSON Schema, or is not for the client's role (see harness.ChatClient);
* a connection that the test did not close was dropped;
* the server, once stopped, leaves tasks running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from handlers.providers.base import Stage
from handlers.providers.registry import Factory
from handlers.providers.stt.local import LocalSpeechToText
from tests.server.harness import RunningServer, make_config, make_registry, pending_tasks

ServeFn = Callable[..., Awaitable[RunningServer]]
DRAIN_S = 5.0


@pytest.fixture(scope="session")
def local_stt() -> LocalSpeechToText:
    """The real pocketsphinx recogniser, loaded once (its model takes ~0.6 s to load) and handed
    to every test server as the ``local`` STT provider through the registry's factories."""
    return LocalSpeechToText.from_env({"METAHUMAN_LOCAL_STT_DECODERS": "2"})


async def assert_drained(before: set[asyncio.Task[Any]]) -> None:
    """Wait (boundedly) until no task started during the test is still running."""
    if left := pending_tasks(before):
        await asyncio.wait(left, timeout=DRAIN_S)
    left = pending_tasks(before)
    assert not left, f"tasks left running after the server stopped: {left}"


@pytest.fixture
async def serve(local_stt: LocalSpeechToText) -> AsyncIterator[ServeFn]:
    servers: list[RunningServer] = []
    before = set(asyncio.all_tasks())

    async def start(
        *,
        factories: Mapping[Stage, Mapping[str, Factory]] | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> RunningServer:
        def shared_stt(env: Mapping[str, str]) -> LocalSpeechToText:
            return local_stt

        registry = make_registry(factories, local={"stt": shared_stt}, env=env)
        server = await RunningServer(make_config(**overrides), registry).start()
        servers.append(server)
        return server

    yield start

    dropped = [
        repr(client)
        for server in servers
        for client in server.clients
        if client.ever_connected and not client.left and not client.connected
    ]
    for server in servers:
        await server.stop()
    violations = [v for server in servers for v in server.violations()]
    assert not violations, "contract violations:\n" + "\n".join(violations)
    assert not dropped, f"the server dropped connections: {dropped}"
    await assert_drained(before)


@pytest.fixture
async def server(serve: ServeFn) -> RunningServer:
    return await serve()
