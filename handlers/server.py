"""The Socket.IO server: the handshake, and each client event handed to its session.

Start it with ``metahuman-chat-server`` (or ``nox -s serve``); ``--help`` lists the flags.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import socketio
from aiohttp import web

from codegen.runtime import Client, ConnectionRefused, register
from generated.dispatch import ClientEventHandler, Emitter
from generated.models import (
    ConnectErrorCode,
    CustomError,
    ErrorCode,
    Handshake,
    InputBufferAppend,
    ResponseAudioPlayed,
    ResponseCancel,
    SessionUpdate,
)
from handlers import observability as observe
from handlers.admission import Admission
from handlers.auth import TokenRefused
from handlers.config import ServerConfig, parse_config, redact_url
from handlers.connections import (
    ClientErrorLog,
    ConnectionCounts,
    LeftSockets,
    UnjoinedSockets,
    client_address,
)
from handlers.origins import allowed_origins
from handlers.persistence import SessionPersistence
from handlers.providers.registry import ProviderRegistry
from handlers.receivers import ReceiverGuard
from handlers.scaleout import RedisManager, RedisUnavailable, check_redis
from handlers.serving import StartupError, serve
from handlers.session import Session, SessionServices
from handlers.session_store import RedisSessionStore
from handlers.settings import Settings
from handlers.web import add_page_routes
from handlers.wire_guard import BoundedPacket, SafeJson, WireGuard, WireLimits

log = logging.getLogger("metahuman")


class ChatServer(ClientEventHandler):
    """Handles the contract's client events; the generated layer validates and routes them."""

    def __init__(
        self,
        config: ServerConfig,
        registry: ProviderRegistry,
        emitter: Emitter,
        persistence: SessionPersistence | None = None,
        address_of: Callable[[str], str] = lambda sid: "-",
        left: Callable[[str], None] = lambda sid: None,
        joined: Callable[[str], None] = lambda sid: None,
        client_errors: ClientErrorLog | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.emitter = emitter
        self.services = SessionServices(
            config, registry, emitter, Admission.from_config(config), persistence=persistence
        )
        self.sessions: dict[str, Session] = {}
        self.defaults = Settings.defaults()
        self.receivers: ReceiverGuard | None = None
        """Releases clients that stopped reading (set by create_app)."""
        self.tokens = config.token_policy
        self.connections = ConnectionCounts(
            config.max_connections_per_session, config.max_connections_per_address
        )
        self.client_errors = client_errors or ClientErrorLog()
        self._address_of = address_of
        self._left = left
        """Told the sid of each client that disconnects (LeftSockets closes its transport)."""
        self._joined = joined
        """Told the sid of each client accepted (UnjoinedSockets stops its connect timeout)."""
        self._addresses: dict[str, str] = {}

    # -- connections ---------------------------------------------------------------------------

    async def on_connect(self, client: Client, handshake: Handshake) -> None:
        try:
            self.tokens.check(handshake.token, client.session_id, client.role.value)
        except TokenRefused as exc:
            self.client_errors.warning(client.session_id, exc.code, exc.message)
            raise ConnectionRefused(ConnectErrorCode(exc.code), exc.message) from None
        address = self._address_of(client.sid)
        if (refusal := self.connections.refusal(client.session_id, address)) is not None:
            self.client_errors.warning(client.session_id, "too_many_connections", refusal)
            raise ConnectionRefused(ConnectErrorCode.TOO_MANY_CONNECTIONS, refusal)
        session = self.sessions.get(client.session_id)
        if session is None:
            session = self.sessions[client.session_id] = Session(
                client.session_id, self.defaults, self.services, self._forget
            )
            observe.session_opened(client.session_id)
            persistence = self.services.persistence
            if persistence is not None:
                # A session new to this node may have lived on another: take up its state.
                try:
                    settings, history = await persistence.restore(client.session_id)
                except RedisUnavailable:
                    log.warning("session %s: store unavailable, starting afresh", client.sid)
                else:
                    session.restore(settings, history)
        self.connections.add(client.session_id, address)
        self._addresses[client.sid] = address
        session.join(client.sid)
        self._joined(client.sid)
        observe.connected(client)

    async def on_disconnect(self, client: Client) -> None:
        observe.disconnected(client)
        address = self._addresses.pop(client.sid, None)
        if address is not None:
            self.connections.remove(client.session_id, address)
        session = self.sessions.get(client.session_id)
        if session is not None:
            session.leave(client.sid)
        self._left(client.sid)

    def _forget(self, session: Session) -> None:
        """Called by an idle session: nobody is connected and nothing is running."""
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]
            observe.session_closed(session.session_id)

    # -- client events -------------------------------------------------------------------------

    async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
        await self.sessions[client.session_id].update(payload)

    def on_input_buffer_append(
        self, client: Client, payload: InputBufferAppend
    ) -> Coroutine[Any, Any, None]:
        # The session's coroutine itself, not one awaiting it: a coroutine less per audio chunk.
        observe.AUDIO_CHUNKS.count += 1
        return self.sessions[client.session_id].append(client.sid, payload)

    async def on_input_buffer_commit(self, client: Client) -> None:
        await self.sessions[client.session_id].commit(client.sid)

    async def on_response_cancel(self, client: Client, payload: ResponseCancel) -> None:
        await self.sessions[client.session_id].turn_taking.request_cancel(payload)

    async def on_response_audio_played(self, client: Client, payload: ResponseAudioPlayed) -> None:
        self.sessions[client.session_id].turn_taking.played(payload)

    async def on_conversation_clear(self, client: Client) -> None:
        await self.sessions[client.session_id].turn_taking.clear_conversation()

    # -- lifecycle -----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Let turns in flight finish for the grace period, then cancel what is left."""
        if self.receivers is not None:
            await self.receivers.stop()
        workers = [s.turns.worker for s in self.sessions.values() if s.turns.worker is not None]
        if workers:
            log.info(
                "waiting up to %gs for %d turns", self.config.shutdown_grace_seconds, len(workers)
            )
            await asyncio.wait(workers, timeout=self.config.shutdown_grace_seconds)
        await asyncio.gather(*(s.close("shutdown") for s in list(self.sessions.values())))
        self.services.vad.close()


def create_app(
    config: ServerConfig, registry: ProviderRegistry | None = None
) -> tuple[web.Application, ChatServer]:
    """Build the aiohttp application and the Socket.IO server behind it."""
    registry = registry or ProviderRegistry(os.environ)
    manager = (
        RedisManager(config.redis_url, channel=config.redis_channel) if config.redis_url else None
    )
    # The libraries' own loggers, given explicitly: left to themselves, python-socketio and
    # python-engineio add a second handler of their own, and every line is printed twice.
    library_log = logging.getLogger("metahuman.socketio")
    library_log.setLevel(logging.ERROR)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=allowed_origins(config.cors_origins),
        # Handle each client's events in arrival order: audio chunks must not overtake each other.
        async_handlers=False,
        # The hard cap (the connection is closed beyond it); the WireGuard's smaller
        # max_event_bytes answers with payload_too_large first.
        max_http_buffer_size=max(8 * 1024 * 1024, config.max_event_bytes),
        serializer=BoundedPacket,
        json=SafeJson,
        logger=library_log,
        engineio_logger=library_log,
    )
    app = web.Application()
    receivers = ReceiverGuard(sio, config.receiver_queue_packets)
    receivers.watch()
    sio.attach(app, socketio_path=config.socketio_path)
    add_page_routes(app, socketio_path=config.socketio_path)
    checks = [observe.providers_check(registry)]
    if config.redis_url:
        checks.append(observe.redis_check(config.redis_url))
    observe.add_ops_routes(app, checks)
    emitter = observe.ObservedEmitter(sio)
    persistence = (
        SessionPersistence(
            RedisSessionStore(config.redis_url), emitter, history_messages=2 * config.history_turns
        )
        if config.redis_url
        else None
    )
    trusted_proxies = config.trusted_proxies
    client_errors = ClientErrorLog()
    unjoined = UnjoinedSockets(
        sio,
        config.connect_timeout_seconds,
        config.max_connections_per_address,
        lambda environ: client_address(environ, trusted_proxies),
        lambda why: client_errors.warning(None, "too_many_connections", why),
    )
    server = ChatServer(
        config,
        registry,
        emitter,
        persistence,
        address_of=lambda sid: client_address(sio.get_environ(sid), trusted_proxies),
        left=LeftSockets(sio).left,
        joined=unjoined.joined,
        client_errors=client_errors,
    )
    server.receivers = receivers
    dispatcher = register(sio, server, emitter)
    emitter.clients = dispatcher.clients
    observe.observe_refusals(sio)

    async def refuse(sid: str | None, code: str, why: str, event: str | None) -> None:
        client = dispatcher.clients.get(sid) if sid is not None else None
        server.client_errors.warning(client.session_id if client else None, code, why)
        if sid is None:
            return
        error = CustomError(code=ErrorCode(code), message=why, event=event)
        try:
            await emitter.custom_error(sid, error)
        except Exception:  # the client may be gone
            log.debug("could not answer %s", sid)

    WireGuard(
        sio,
        WireLimits(config.events_per_second, config.event_burst, config.max_event_bytes),
        refuse,
    )

    async def start(_: web.Application) -> None:
        receivers.start()

    async def stop(_: web.Application) -> None:
        await server.shutdown()
        await receivers.drain()
        # Stops Engine.IO's service task; python-socketio requires it before the web server stops.
        await sio.shutdown()

    async def close_connections(_: web.Application) -> None:
        await registry.aclose()
        if manager is not None:
            await manager.close()
        if persistence is not None:
            await persistence.aclose()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    app.on_cleanup.append(close_connections)
    return app, server


EXIT_NO_REDIS = 3
"""The exit status when --redis-url names a Redis that does not answer at start."""

GC_THRESHOLDS = (10_000, 10, 10)
"""Generation thresholds of the garbage collector while serving (Python's are 700, 10, 10)."""


def tune_gc() -> None:
    """Set the garbage collector up for serving; call once, after start-up, before serving.

    Streaming audio allocates container objects fast (futures, timer handles, event payloads,
    about 20 per chunk) and frees nearly all of them by reference counting. With Python's
    defaults the collector then runs ~40 times a second at 200 sessions, and every few seconds a
    full collection walks every live object, stopping the event loop for ~50 ms: longer than the
    whole commit -> transcript budget. So: freeze what start-up allocated (modules, the contract's
    validators, the providers: never garbage, now never walked) and collect the young generation
    after 10,000 net allocations instead of 700. With 200 streaming sessions this took the full
    collections from ~55 ms to none in a 9 s window, and p99 commit -> transcript from 61 to 5 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def warm_lip_sync() -> None:
    """Lip sync's espeak-ng reference, loaded before serving (a warning if it cannot be)."""
    from handlers.animation.reference import warm_up as warm_up_lip_sync

    try:
        asyncio.run(warm_up_lip_sync())
    except Exception as exc:  # deltas then go without visemes; the server still serves
        print(f"  warning: lip sync unavailable: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    config = parse_config(argv, env)
    observe.configure_logging(config.log_level, config.log_format)
    registry = ProviderRegistry(os.environ if env is None else env)
    print("MetaHuman AI Chat server", file=sys.stderr)
    for line in config.describe():
        print(f"  {line}", file=sys.stderr)
    if config.token_policy.open:
        print(
            "  warning: no METAHUMAN_TOKENS or METAHUMAN_TOKEN_SECRET: the server is open to"
            " anyone who can reach it",
            file=sys.stderr,
        )
    if config.redis_url is not None:
        try:
            asyncio.run(check_redis(config.redis_url))
        except RedisUnavailable as exc:
            print(f"  error: redis at {redact_url(config.redis_url)}: {exc}", file=sys.stderr)
            sys.exit(EXIT_NO_REDIS)
    # Load the embedded engines now, not in the first turn.
    for stage in ("stt", "llm", "tts"):
        reason = asyncio.run(registry.unavailable_reason(stage, "local"))
        if reason is not None:
            print(f"  warning: local {stage} unavailable: {reason}", file=sys.stderr)
    warm_lip_sync()
    app, _ = create_app(config, registry)
    tune_gc()
    url = f"http://{config.host}:{config.port}{config.socketio_path}"

    def listening() -> None:
        print(f"  listening on {url} (Ctrl-C stops)", file=sys.stderr)

    try:
        asyncio.run(
            serve(
                app,
                config.host,
                config.port,
                shutdown_timeout=config.shutdown_grace_seconds,
                on_listening=listening,
            )
        )
    except StartupError as exc:
        sys.exit(f"metahuman-chat-server: {exc}")


if __name__ == "__main__":
    main()
