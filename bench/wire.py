"""A lean Socket.IO v5 / Engine.IO v4 websocket client for the capacity load generator.

socketio.AsyncClient costs its process about 60 us of CPU per 20 ms audio chunk (packet objects,
a queue and a writer task per client, two websocket frames), so one generator process on one core
tops out near the load the bare server itself collapses at: it would measure itself, not the
server. This client speaks the same wire protocol (the server cannot tell the difference) with
pre-encoded packets: a binary `input.buffer.append` is one text frame with the placeholder and one
binary frame, written straight to the websocket.

It implements only what the benchmark needs: the namespace handshake with `auth`, answering the
server's pings, events with JSON arguments, and binary events (attachments are counted and handed
over as bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

Handler = Callable[[Any], Awaitable[None] | None]


class WireError(Exception):
    pass


def _binary_placeholder_event(event: str) -> str:
    # Engine.IO MESSAGE (4) + Socket.IO BINARY_EVENT (5) with one attachment, default namespace.
    return "451-" + json.dumps([event, {"_placeholder": True, "num": 0}], separators=(",", ":"))


class WireClient:
    """One Socket.IO connection over a websocket; ``on(event, handler)`` like AsyncClient."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._handlers: dict[str, Handler] = {}
        self._reader: asyncio.Task[None] | None = None
        self._binary_heads: dict[str, str] = {}
        # A binary event waiting for its attachments: (event, args, attachments still due).
        self._pending: tuple[str, list[Any], list[bytes], int] | None = None
        self.connected = False

    def on(self, event: str, handler: Handler) -> None:
        self._handlers[event] = handler

    async def connect(self, url: str, path: str, auth: dict[str, str]) -> None:
        ws_url = url.replace("http", "ws", 1) + path.rstrip("/") + "/?EIO=4&transport=websocket"
        self._ws = ws = await self._http.ws_connect(ws_url, autoping=False, max_msg_size=0)
        opened = await ws.receive_str(timeout=30)
        if not opened.startswith("0"):
            raise WireError(f"no Engine.IO open packet: {opened[:80]!r}")
        await ws.send_str("40" + json.dumps(auth, separators=(",", ":")))
        while True:
            reply = await ws.receive_str(timeout=30)
            if reply == "2":
                await ws.send_str("3")
                continue
            break
        if not reply.startswith("40"):
            raise WireError(f"namespace connect refused: {reply[:200]!r}")
        self.connected = True
        self._reader = asyncio.create_task(self._read())

    async def emit(self, event: str, data: Any = None) -> None:
        ws = self._ws
        if ws is None:
            raise WireError("not connected")
        if isinstance(data, bytes):
            head = self._binary_heads.get(event)
            if head is None:
                head = self._binary_heads[event] = _binary_placeholder_event(event)
            await ws.send_str(head)
            await ws.send_bytes(data)
            return
        args = [event] if data is None else [event, data]
        await ws.send_str("42" + json.dumps(args, separators=(",", ":")))

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self._text(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await self._attachment(message.data)
            else:
                break
        self.connected = False

    async def _text(self, data: str) -> None:
        ws = self._ws
        assert ws is not None
        if data == "2":  # Engine.IO ping
            await ws.send_str("3")
            return
        if data.startswith("42"):
            args = json.loads(data[2:])
            await self._dispatch(args[0], args[1:])
        elif data.startswith("45"):
            count, _, body = data[2:].partition("-")
            args = json.loads(body)
            self._pending = (args[0], args[1:], [], int(count))
        elif data.startswith("41") or data == "1":
            self.connected = False

    async def _attachment(self, data: bytes) -> None:
        if self._pending is None:
            return
        event, args, attachments, count = self._pending
        attachments.append(data)
        if len(attachments) < count:
            return
        self._pending = None
        await self._dispatch(event, [_fill(arg, attachments) for arg in args])

    async def _dispatch(self, event: str, args: list[Any]) -> None:
        handler = self._handlers.get(event)
        if handler is None:
            return
        result = handler(args[0] if args else None)
        if result is not None:
            await result

    async def disconnect(self) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(Exception):
            await ws.send_str("41")
        with contextlib.suppress(Exception):
            await ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._ws = None
        self.connected = False


def _fill(value: Any, attachments: list[bytes]) -> Any:
    """Replace Socket.IO binary placeholders with their attachments."""
    if isinstance(value, dict):
        if value.get("_placeholder") is True and "num" in value:
            return attachments[int(value["num"])]
        return {key: _fill(item, attachments) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, attachments) for item in value]
    return value
