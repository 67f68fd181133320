"""A real server on loopback and real Socket.IO clients that check everything they receive.

``RunningServer`` serves ``create_app(config, registry)`` with aiohttp on 127.0.0.1, port 0.
``ChatClient`` is a connected Sender or Receiver: it records every event it gets (name, payload,
arrival time) and checks each one as it arrives against the contract: the event is a server
event, its payload validates against the event's JSON Schema, and the event is for this
client's role (x-audience). Breaches are collected in ``violations``; the fixtures fail the test
when any client has one, so every test enforces "every emitted event matches the contract".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

import handlers
from codegen.runtime import Audience
from generated.events import OPERATIONS, SERVER_EVENTS, Event
from handlers.config import ServerConfig
from handlers.providers.base import Stage
from handlers.providers.registry import Factory, ProviderRegistry
from handlers.server import ChatServer, create_app
from tests.contract.validation import event_validator


def contract_errors(name: str, payload: Any) -> list[str]:
    """Why ``payload`` (as python-socketio hands it over: audio as bytes) is not a valid
    payload of server event ``name``; empty when it is. Audio fields must be binary."""
    validator = event_validator(name, strict_binary=True)
    return [
        f"{name} {'/'.join(map(str, e.absolute_path)) or '(payload)'}: {e.message}"
        for e in validator.iter_errors(payload)
    ]


WAIT_S = 20.0
"""How long a test waits for an answer before it calls the server silent."""
STOP_S = 10.0
"""How long stopping may take beyond the server's shutdown grace period."""

_session_ids = itertools.count()
DEFAULT_AUTH: Any = object()
"""Build the handshake from role, session id and token (else ``auth`` is sent as given)."""


def new_session_id(prefix: str = "s") -> str:
    return f"{prefix}-{next(_session_ids)}-{time.monotonic_ns() % 10**9}"


@dataclass(frozen=True, slots=True)
class Received:
    name: str
    payload: Any
    at: float
    """time.monotonic() at arrival."""


class ChatClient:
    """One Socket.IO client of the test server (websocket transport, no reconnection)."""

    def __init__(
        self,
        server: RunningServer,
        role: str,
        session_id: str,
        *,
        token: str | None = None,
        auth: Any = DEFAULT_AUTH,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.server = server
        self.headers = dict(headers or {})
        """Extra HTTP headers of the connection request (X-Forwarded-For, as a proxy would)."""
        self.role = role
        self.session_id = session_id
        self.auth: Any = auth
        if auth is DEFAULT_AUTH:
            self.auth = {"role": role, "sessionId": session_id}
            if token is not None:
                self.auth["token"] = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[Received] = []
        self.violations: list[str] = []
        self.connect_errors: list[Any] = []
        self.disconnects = 0
        self.left = False
        """True once the test disconnected it on purpose."""
        self.ever_connected = False
        self._arrived = asyncio.Event()
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    def __repr__(self) -> str:
        return f"<{self.role} of {self.session_id}>"

    # -- recording -----------------------------------------------------------------------------

    async def _on_event(self, name: str, *args: Any) -> None:
        payload = args[0] if len(args) == 1 else args
        self.events.append(Received(name, payload, time.monotonic()))
        self._check(name, args)
        self._arrived.set()

    def _check(self, name: str, args: tuple[Any, ...]) -> None:
        where = f"{self!r} got {name}"
        if name not in {e.value for e in SERVER_EVENTS} or name == Event.CONNECT_ERROR:
            self.violations.append(f"{where}: not a server event of the contract")
            return
        if len(args) != 1:
            self.violations.append(f"{where} with {len(args)} arguments, not one payload")
            return
        self.violations.extend(f"{self!r}: {error}" for error in contract_errors(name, args[0]))
        audience = OPERATIONS[Event(name)].audience
        if (audience is Audience.SENDER and self.role != "sender") or (
            audience is Audience.RECEIVERS and self.role != "receiver"
        ):
            self.violations.append(f"{where}, an event for the {audience.value} audience")

    async def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.append(data)
        self.violations.extend(
            f"{self!r}: {error}" for error in contract_errors(Event.CONNECT_ERROR, data)
        )
        self._arrived.set()

    async def _on_disconnect(self, *_: Any) -> None:
        self.disconnects += 1
        self._arrived.set()

    # -- connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.sio.connect(
            self.server.url,
            socketio_path=self.server.path,
            transports=["websocket"],
            auth=self.auth,
            headers=self.headers,
            wait_timeout=WAIT_S,
        )
        self.ever_connected = True

    async def refused(self) -> Any:
        """Connect expecting a refusal; return the connect_error payload."""
        try:
            await self.connect()
        except socketio.exceptions.ConnectionError:
            pass
        else:
            raise AssertionError(f"{self!r} with auth {self.auth!r} was accepted")
        assert len(self.connect_errors) == 1, self.connect_errors
        return self.connect_errors[0]

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def disconnect(self) -> None:
        self.left = True
        if self.sio.connected:
            await self.sio.disconnect()
        await self.sio.shutdown()

    # -- sending -------------------------------------------------------------------------------

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with exactly ``args`` as its Socket.IO arguments."""
        if not args:
            await self.sio.emit(event)
        elif len(args) == 1:
            await self.sio.emit(event, args[0])
        else:
            await self.sio.emit(event, args)

    async def send_pcm(self, pcm: bytes, *, chunk_bytes: int = 640) -> None:
        """Append ``pcm`` in chunks (640 bytes: 20 ms at 16 kHz), not in real time."""
        for offset in range(0, len(pcm), chunk_bytes):
            await self.emit("input.buffer.append", pcm[offset : offset + chunk_bytes])

    async def commit(self) -> None:
        await self.emit("input.buffer.commit")

    # -- reading -------------------------------------------------------------------------------

    def mark(self) -> int:
        return len(self.events)

    def named(self, name: str, *, after: int = 0) -> list[Any]:
        """Payloads of the ``name`` events received since ``after``."""
        return [e.payload for e in self.events[after:] if e.name == name]

    def names(self, *, after: int = 0) -> list[str]:
        return [e.name for e in self.events[after:]]

    async def wait_for(
        self,
        name: str,
        where: Callable[[Any], bool] | None = None,
        *,
        after: int = 0,
        within: float = WAIT_S,
    ) -> Any:
        """The first ``name`` event since ``after`` whose payload satisfies ``where``."""
        return (await self.wait_event(name, where, after=after, within=within)).payload

    async def wait_event(
        self,
        name: str,
        where: Callable[[Any], bool] | None = None,
        *,
        after: int = 0,
        within: float = WAIT_S,
    ) -> Received:
        def match(event: Received) -> bool:
            return event.name == name and (where is None or where(event.payload))

        return await self.wait_match(match, after=after, within=within, what=name)

    async def wait_match(
        self,
        match: Callable[[Received], bool],
        *,
        after: int = 0,
        within: float = WAIT_S,
        what: str = "matching event",
    ) -> Received:
        """The first event since ``after`` that ``match`` accepts, waiting ``within`` seconds."""
        deadline = time.monotonic() + within
        checked = after
        while True:
            while checked < len(self.events):
                event = self.events[checked]
                checked += 1
                if match(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self!r} got no {what} within {within:g} s; since then it got "
                    f"{self.names(after=after)}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def wait_error(self, code: str, *, after: int = 0, within: float = WAIT_S) -> Any:
        """The first custom.error since ``after``; it must have ``code``."""
        error = await self.wait_for("custom.error", after=after, within=within)
        assert error["code"] == code, error
        return error

    async def wait_final(self, item_id: str, *, after: int = 0, within: float = WAIT_S) -> Any:
        return await self.wait_for(
            "response.audio.delta",
            lambda p: p["itemId"] == item_id and p["final"],
            after=after,
            within=within,
        )

    async def quiet(self, seconds: float = 0.2) -> None:
        """Let anything still in flight arrive."""
        await asyncio.sleep(seconds)


class RunningServer:
    """``create_app`` served on 127.0.0.1 with an ephemeral port."""

    def __init__(self, config: ServerConfig, registry: ProviderRegistry) -> None:
        self.config = config
        self.registry = registry
        self.path = config.socketio_path
        self.clients: list[ChatClient] = []
        self.url = ""
        self.chat: ChatServer
        self._runner: web.AppRunner | None = None

    async def start(self) -> RunningServer:
        app, self.chat = create_app(self.config, self.registry)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    def client(
        self,
        role: str,
        session_id: str,
        *,
        token: str | None = None,
        auth: Any = DEFAULT_AUTH,
        headers: Mapping[str, str] | None = None,
    ) -> ChatClient:
        """A client of this server, not connected yet; the server disconnects it at the end."""
        client = ChatClient(self, role, session_id, token=token, auth=auth, headers=headers)
        self.clients.append(client)
        return client

    async def connect(
        self, role: str, session_id: str | None = None, *, token: str | None = None
    ) -> ChatClient:
        client = self.client(role, session_id or new_session_id(), token=token)
        await client.connect()
        return client

    async def pair(self, session_id: str | None = None) -> tuple[ChatClient, ChatClient]:
        """A connected Receiver and Sender of one (new) session."""
        session_id = session_id or new_session_id()
        receiver = await self.connect("receiver", session_id)
        sender = await self.connect("sender", session_id)
        return sender, receiver

    def violations(self) -> list[str]:
        return [v for client in self.clients for v in client.violations]

    async def stop(self) -> None:
        """Disconnect the clients, then stop the web server (which shuts the ChatServer down)."""
        for client in self.clients:
            await client.disconnect()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            limit = self.config.shutdown_grace_seconds + STOP_S
            try:
                async with asyncio.timeout(limit):
                    await runner.cleanup()
            except TimeoutError:
                raise AssertionError(f"the server did not stop within {limit:g} s") from None


def make_config(**overrides: Any) -> ServerConfig:
    """Test defaults (no Redis, no tokens, a short shutdown grace, audio appended as fast as the
    test sends it: no rate limit) with ``overrides``."""
    base = ServerConfig(port=0, shutdown_grace_seconds=2.0, audio_rate=0.0)
    return dataclasses.replace(base, **overrides)


def make_registry(
    factories: Mapping[Stage, Mapping[str, Factory]] | None = None,
    *,
    local: Mapping[Stage, Factory] | None = None,
    env: Mapping[str, str] | None = None,
) -> ProviderRegistry:
    """A registry over ``env`` (empty: no cloud credentials) with ``factories`` by stage and
    name; ``local`` replaces the ``local`` provider of a stage (the shared real engines)."""
    merged: dict[Stage, dict[str, Factory]] = {}
    for stage, factory in (local or {}).items():
        merged.setdefault(stage, {})["local"] = factory
    for stage, by_name in (factories or {}).items():
        merged.setdefault(stage, {}).update(by_name)
    return ProviderRegistry(env or {}, factories=merged)


def words(text: str) -> list[str]:
    return text.split()


# Engine.IO starts a ping task per connection that sleeps for the ping interval (25 s) and then
# returns when the socket is closed; nothing can stop it sooner, and it holds nothing.
_HARMLESS_TASKS = frozenset({"AsyncSocket._send_ping"})


def pending_tasks(ignore: Iterable[asyncio.Task[Any]] = ()) -> list[asyncio.Task[Any]]:
    """Tasks still running, but for the current one, ``ignore`` and Engine.IO's ping sleeps."""
    skip = {asyncio.current_task(), *ignore}
    return [
        task
        for task in asyncio.all_tasks()
        if task not in skip
        and not task.done()
        and getattr(task.get_coro(), "__qualname__", "") not in _HARMLESS_TASKS
    ]


@dataclass(frozen=True, slots=True)
class TurnResult:
    item_id: str
    initialized: Any
    transcript: Any
    """The request.transcribe.done payload."""
    reply: Any
    """The response.text payload."""
    deltas: list[Any]
    """This turn's response.audio.delta payloads, in arrival order."""


async def run_turn(
    sender: ChatClient,
    receiver: ChatClient,
    pcm: bytes,
    *,
    chunk_bytes: int = 640,
    within: float = WAIT_S,
) -> TurnResult:
    """Stream ``pcm`` (20 ms chunks by default, not in real time), commit, and collect the turn."""
    s0, r0 = sender.mark(), receiver.mark()
    await sender.send_pcm(pcm, chunk_bytes=chunk_bytes)
    await sender.commit()
    initialized = await sender.wait_for("input.buffer.initialized", after=s0, within=within)
    item_id = initialized["itemId"]
    transcript = await sender.wait_for(
        "request.transcribe.done", lambda p: p["itemId"] == item_id, after=s0, within=within
    )
    await receiver.wait_final(item_id, after=r0, within=within)
    reply = await receiver.wait_for(
        "response.text", lambda p: p["itemId"] == item_id, after=r0, within=within
    )
    deltas = [p for p in receiver.named("response.audio.delta", after=r0) if p["itemId"] == item_id]
    return TurnResult(item_id, initialized, transcript, reply, deltas)


def check_response(result: TurnResult) -> None:
    """The deltas of one response: sequence 0, 1, 2 ... in order, exactly one final and it is
    the last, one responseId (the response.text's) and one itemId throughout."""
    deltas = result.deltas
    assert deltas, "no audio deltas"
    assert [d["sequence"] for d in deltas] == list(range(len(deltas)))
    assert [d["final"] for d in deltas] == [False] * (len(deltas) - 1) + [True]
    assert {d["responseId"] for d in deltas} == {result.reply["responseId"]}
    assert {d["itemId"] for d in deltas} == {result.item_id} == {result.reply["itemId"]}
    assert len({(d["format"], d["sampleRate"]) for d in deltas}) == 1


_HANDLERS_DIR = str(Path(handlers.__file__).resolve().parent)


_SERVICE_TASKS = frozenset({"receiver-guard"})
"""The server's own tasks that run as long as it serves (stopped by ChatServer.shutdown)."""


def server_tasks() -> list[asyncio.Task[Any]]:
    """Running tasks of the server's own code (turn workers, transcriptions, reply writers,
    provider work); Socket.IO's and aiohttp's tasks are not counted."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = getattr(code, "co_filename", "")
        if (
            not task.done()
            and task.get_name() not in _SERVICE_TASKS
            and (
                filename.startswith(_HANDLERS_DIR) or task.get_name().startswith(("turns-", "stt-"))
            )
        ):
            found.append(task)
    return found


async def lingering_server_tasks(within: float = 5.0) -> list[asyncio.Task[Any]]:
    """The server's tasks still running after up to ``within`` seconds (an abandoned
    recognition may need a moment for its worker thread to return: on a loaded machine a
    pocketsphinx call on a whole clip took over 2 s)."""
    if left := server_tasks():
        await asyncio.wait(left, timeout=within)
    return server_tasks()
