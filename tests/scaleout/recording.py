"""A Sender that records every event it gets, for the multi-node tests (plain python-socketio,
as a client team's would be)."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

Events = list[tuple[str, Any]]
"""(name, first argument) of each event, in arrival order."""


async def recording_sender(
    url: str, session_id: str, *, wait_timeout: float = 1
) -> tuple[socketio.AsyncClient, Events]:
    client = socketio.AsyncClient(reconnection=False)
    got: Events = []

    async def record(event: str, *args: Any) -> None:
        got.append((event, args[0] if args else None))

    client.on("*", record)
    await client.connect(
        url,
        socketio_path="/socketio",
        transports=["websocket"],
        auth={"role": "sender", "sessionId": session_id},
        wait_timeout=wait_timeout,
    )
    return client, got


async def next_event(
    got: Events, name: str, after: int = 0, *, within: float = 10, poll: float = 0.02
) -> Any:
    """The payload of the first ``name`` event at index ``after`` or later, waiting for it."""
    async with asyncio.timeout(within):
        while True:
            for event, payload in got[after:]:
                if event == name:
                    return payload
            await asyncio.sleep(poll)
