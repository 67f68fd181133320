"""The Socket.IO server: the handshake, and each client event handed to its session.

Start it with ``metahuman-chat-server`` (or ``nox -s serve``); ``--help`` lists the flags.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import socketio
from aiohttp import web

from codegen.runtime import Client, ConnectionRefused, register
from generated.dispatch import ClientEventHandler, Emitter
from generated.models import (
    ConnectErrorCode,
    Handshake,
    InputBufferAppend,
    ResponseAudioPlayed,
    ResponseCancel,
    SessionUpdate,
)
from handlers import observability as observe
from handlers.admission import Admission
from handlers.config import ServerConfig, parse_config
from handlers.providers.registry import ProviderRegistry
from handlers.receivers import ReceiverGuard
from handlers.scaleout import RedisManager
from handlers.serving import StartupError, serve
from handlers.session import Session, SessionServices
from handlers.settings import Settings
from handlers.web import add_page_routes

log = logging.getLogger("metahuman")


class ChatServer(ClientEventHandler):
    """Handles the contract's client events; the generated layer validates and routes them."""

    def __init__(self, config: ServerConfig, registry: ProviderRegistry, emitter: Emitter) -> None:
        self.config = config
        self.registry = registry
        self.emitter = emitter
        self.services = SessionServices(config, registry, emitter, Admission.from_config(config))
        self.sessions: dict[str, Session] = {}
        self.defaults = Settings.defaults()
        self.receivers: ReceiverGuard | None = None
        """Releases clients that stopped reading (set by create_app)."""

    # -- connections ---------------------------------------------------------------------------

    async def on_connect(self, client: Client, handshake: Handshake) -> None:
        if self.config.tokens and not self._token_ok(handshake.token):
            raise ConnectionRefused(ConnectErrorCode.UNAUTHORIZED, "invalid or missing token")
        session = self.sessions.get(client.session_id)
        if session is None:
            session = self.sessions[client.session_id] = Session(
                client.session_id, self.defaults, self.services, self._forget
            )
            observe.session_opened(client.session_id)
        session.join(client.sid)
        observe.connected(client)

    def _token_ok(self, token: str | None) -> bool:
        if token is None:
            return False
        # Compare against every token so timing does not tell which one nearly matched.
        matches = [
            hmac.compare_digest(token.encode(), known.encode()) for known in self.config.tokens
        ]
        return any(matches)

    async def on_disconnect(self, client: Client) -> None:
        observe.disconnected(client)
        session = self.sessions.get(client.session_id)
        if session is not None:
            session.leave(client.sid)

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
    cors: str | list[str] = "*" if "*" in config.cors_origins else list(config.cors_origins)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=cors,
        # Handle each client's events in arrival order: audio chunks must not overtake each other.
        async_handlers=False,
        max_http_buffer_size=8 * 1024 * 1024,
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
    server = ChatServer(config, registry, emitter)
    server.receivers = receivers
    emitter.clients = register(sio, server, emitter).clients
    observe.observe_refusals(sio)

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

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    app.on_cleanup.append(close_connections)
    return app, server


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


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    config = parse_config(argv, env)
    observe.configure_logging(config.log_level, config.log_format)
    registry = ProviderRegistry(os.environ if env is None else env)
    print("MetaHuman AI Chat server", file=sys.stderr)
    for line in config.describe():
        print(f"  {line}", file=sys.stderr)
    # Load the embedded engines now, not in the first turn.
    for stage in ("stt", "llm", "tts"):
        reason = asyncio.run(registry.unavailable_reason(stage, "local"))
        if reason is not None:
            print(f"  warning: local {stage} unavailable: {reason}", file=sys.stderr)
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
