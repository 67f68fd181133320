"""Clients that stop reading are released, with what was queued for them.

Engine.IO queues every packet for a connection in an unbounded ``asyncio.Queue``; one task
writes the queue to the WebSocket and waits for the network to take each frame. A client that
stops reading (a frozen tab, a stalled proxy) fills the TCP buffers, the writer waits forever,
and the queue grows by every delta of every turn; after the ping timeout Engine.IO marks the
socket closed, but the writer (and the reader waiting for it, and the queue) stay.

``ReceiverGuard`` checks every connection four times a second. A connection is released when

* more than ``limit`` packets wait in its queue (it reads slower than the server sends), or
* Engine.IO has closed it (ping timeout) and packets still wait.

Released means: its queued packets are dropped and its TCP connection aborted, which ends the
writer, the reader and the socket; the server sees an ordinary disconnect (the session forgets
the client). At shutdown, clients whose queues do not drain within a second are released too,
so one frozen client cannot hold the server up. **What a slow Receiver loses**: the packets
queued for it and every event sent until it reconnects; nothing is replayed. Other clients of
the session are not affected, and the server's memory stays bounded by ``limit`` packets per
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio
from aiohttp import web

log = logging.getLogger("metahuman")

CHECK_EVERY_S = 0.25
"""How often the queues are looked at (a dict walk and a size per connection)."""
DRAIN_S = 1.0
"""At shutdown, how long queued packets get to go out before their clients are released."""


class ReceiverGuard:
    """Watches the Engine.IO sockets of ``sio`` (see the module docstring). Call ``watch``
    before ``sio.attach`` so WebSocket upgrades are seen, then ``start``/``stop`` with the app."""

    def __init__(self, sio: socketio.AsyncServer, limit: int) -> None:
        self.sio = sio
        self.limit = limit
        self.released = 0
        """Connections released so far."""
        self._upgrades: dict[str, asyncio.Transport] = {}
        """The TCP connection of each socket upgraded to WebSocket, by Engine.IO sid."""
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def watch(self) -> None:
        """Note the TCP connection of each WebSocket upgrade (the one the writer waits on)."""
        eio = self.sio.eio
        handle_request = eio.handle_request

        async def noting_upgrades(request: web.Request) -> Any:
            sid = request.query.get("sid")
            if sid and request.query.get("transport") == "websocket" and request.transport:
                self._upgrades[sid] = request.transport
            return await handle_request(request)

        eio.handle_request = noting_upgrades

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="receiver-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Give queued packets ``DRAIN_S`` to go out; release the clients still holding some."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_S
        while loop.time() < deadline:
            if not any(s.queue.qsize() for s in self.sio.eio.sockets.values()):
                return
            await asyncio.sleep(0.05)
        for sid, socket in list(self.sio.eio.sockets.items()):
            if backlog := socket.queue.qsize():
                self.release(sid, socket, backlog)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            self.check()

    def check(self) -> None:
        """Release the connections that stopped reading; forget the ones that are gone."""
        sockets: dict[str, Any] = self.sio.eio.sockets
        for sid in [sid for sid in self._upgrades if sid not in sockets]:
            del self._upgrades[sid]
        for sid, socket in list(sockets.items()):
            backlog = socket.queue.qsize()
            if backlog > self.limit or (socket.closed and backlog):
                self.release(sid, socket, backlog)

    def release(self, sid: str, socket: Any, backlog: int) -> None:
        log.warning("client %s stopped reading (%d packets queued): disconnecting it", sid, backlog)
        self.released += 1
        queue: asyncio.Queue[Any] = socket.queue
        while not queue.empty():
            queue.get_nowait()
            queue.task_done()
        transport = self._upgrades.pop(sid, None) or self._connect_transport(sid)
        if transport is not None:
            transport.abort()  # the writer's send fails, and the socket closes as usual
        else:
            # Long-polling: nobody waits on the network; close the socket itself.
            task = asyncio.get_running_loop().create_task(socket.close(wait=False, abort=True))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _connect_transport(self, sid: str) -> asyncio.Transport | None:
        environ = self.sio.environ.get(sid)
        request = environ.get("aiohttp.request") if environ else None
        if isinstance(request, web.Request) and request.query.get("transport") == "websocket":
            return request.transport
        return None
