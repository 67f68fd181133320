"""The Socket.IO server: wires the generated dispatch layer to sessions and the turn pipeline.

Start it with ``python -m handlers.server`` (or ``nox -s serve``); ``--help`` lists the flags.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import sys
from collections.abc import Mapping, Sequence

import socketio
from aiohttp import web

from codegen.runtime import Client, ClientError, ConnectionRefused, register
from generated.dispatch import ClientEventHandler, Emitter
from generated.models import (
    ClientRole,
    ConnectErrorCode,
    CustomError,
    ErrorCode,
    Handshake,
    InputBufferAppend,
    InputBufferInitialized,
    SessionUpdate,
)
from handlers.audio import AudioFormatError
from handlers.config import ServerConfig, parse_config
from handlers.pipeline import Turn, TurnRunner
from handlers.providers.base import ChatMessage, SttRequest
from handlers.providers.registry import ProviderRegistry
from handlers.scaleout import RedisManager
from handlers.session import Session, Settings, apply_update, requested_providers
from handlers.utterance import Utterance, decode_chunk
from handlers.web import add_page_routes

log = logging.getLogger("metahuman")


class ChatServer(ClientEventHandler):
    """Handles the contract's client events; the generated layer validates and routes them."""

    def __init__(self, config: ServerConfig, registry: ProviderRegistry, emitter: Emitter) -> None:
        self.config = config
        self.registry = registry
        self.emitter = emitter
        self.runner = TurnRunner(registry, emitter)
        self.sessions: dict[str, Session] = {}
        self.defaults = Settings.defaults()

    # -- connections ---------------------------------------------------------------------------

    async def on_connect(self, client: Client, handshake: Handshake) -> None:
        if self.config.tokens and not self._token_ok(handshake.token):
            raise ConnectionRefused(ConnectErrorCode.UNAUTHORIZED, "invalid or missing token")
        session = self.sessions.get(client.session_id)
        if session is None:
            session = self.sessions[client.session_id] = Session(
                client.session_id, self.defaults, self.config.history_turns
            )
        session.clients.add(client.sid)

    def _token_ok(self, token: str | None) -> bool:
        if token is None:
            return False
        # Compare against every token so timing does not tell which one nearly matched.
        matches = [
            hmac.compare_digest(token.encode(), known.encode()) for known in self.config.tokens
        ]
        return any(matches)

    async def on_disconnect(self, client: Client) -> None:
        session = self.sessions.get(client.session_id)
        if session is None:
            return
        session.clients.discard(client.sid)
        utterance = session.utterances.pop(client.sid, None)
        if utterance is not None:
            # Never committed: nothing was promised for this audio.
            utterance.cancel()
        self._forget_if_idle(session)

    def _forget_if_idle(self, session: Session) -> None:
        if session.idle and self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]

    # -- client events -------------------------------------------------------------------------

    async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
        session = self.sessions[client.session_id]
        # Building a provider may block: it happens off the loop, before the settings are read.
        reasons = {
            (stage, name): await self.registry.unavailable_reason(stage, name)
            for stage, name in requested_providers(payload)
        }
        session.settings = apply_update(
            session.settings, payload, lambda stage, name: reasons[(stage, name)]
        )
        await self.emitter.session_updated(
            session.session_id, session.settings.describe(session.session_id)
        )

    async def on_input_buffer_append(self, client: Client, payload: InputBufferAppend) -> None:
        session = self.sessions[client.session_id]
        audio = session.settings.input_audio
        utterance = session.utterances.get(client.sid)
        # An utterance keeps the encoding it started with, whatever session.update says meanwhile.
        # (The format is a StrEnum: on this hot path it is passed as the str it is.)
        audio_format, sample_rate = (
            (utterance.audio_format, utterance.sample_rate)
            if utterance is not None
            else (audio.format, audio.sample_rate)
        )
        try:
            pcm = decode_chunk(
                payload if isinstance(payload, (bytes, str)) else payload.audio,
                audio_format,
                sample_rate,
            )
        except AudioFormatError as exc:
            raise ClientError(ErrorCode.INVALID_AUDIO, str(exc)) from exc
        if utterance is None:
            utterance = session.utterances[client.sid] = self._start_utterance(session)
            await self.emitter.input_buffer_initialized(
                session.session_id,
                InputBufferInitialized(
                    item_id=utterance.item_id, format=audio.format, sample_rate=audio.sample_rate
                ),
            )
        already_full = utterance.overflowed
        if utterance.append(pcm) and not already_full:
            raise ClientError(
                ErrorCode.BUFFER_OVERFLOW,
                f"utterance longer than {self.config.max_buffer_seconds:g} s: later audio is"
                " dropped; commit to use what was kept",
                item_id=utterance.item_id,
            )

    def _start_utterance(self, session: Session) -> Utterance:
        stt = session.settings.stt
        sample_rate = session.settings.input_audio.sample_rate
        provider = self.registry.stt(stt.provider.value)
        request = SttRequest(model=stt.model, language=stt.language, sample_rate=sample_rate)
        return Utterance(
            session.settings.input_audio.format,
            sample_rate,
            self.config.max_buffer_seconds,
            lambda audio: provider.transcribe(audio, request),
        )

    async def on_input_buffer_commit(self, client: Client) -> None:
        session = self.sessions[client.session_id]
        utterance = session.utterances.get(client.sid)
        if utterance is None or utterance.size == 0:
            raise ClientError(ErrorCode.EMPTY_BUFFER, "input.buffer.commit with no audio buffered")
        if len(session.turns) >= self.config.max_queued_turns:
            # The audio stays buffered: the Sender may commit again once a turn has finished.
            raise ClientError(
                ErrorCode.TURN_QUEUE_FULL,
                f"{len(session.turns)} turns are already waiting; commit again later",
                item_id=utterance.item_id,
            )
        del session.utterances[client.sid]
        settings = session.settings
        session.turns.append(
            Turn(
                session_id=session.session_id,
                item_id=utterance.item_id,
                transcription=utterance.commit(),
                duration_ms=utterance.duration_ms,
                stt=settings.stt,
                llm=settings.llm,
                tts=settings.tts,
                output=settings.output_audio,
            )
        )
        if session.worker is None:
            session.worker = asyncio.create_task(
                self._run_turns(session), name=f"turns-{session.session_id}"
            )

    async def _run_turns(self, session: Session) -> None:
        """Run the session's turns one after another, in commit order."""
        try:
            while session.turns:
                turn = session.turns[0]
                try:
                    reply = await self.runner.run(turn, list(session.history))
                except asyncio.CancelledError:
                    turn.transcription.cancel()
                    raise
                except Exception:
                    log.exception("turn %s failed", turn.item_id)
                    await self.emitter.custom_error(
                        Emitter.room(session.session_id, ClientRole.SENDER),
                        CustomError(
                            code=ErrorCode.INTERNAL_ERROR,
                            message="the turn failed",
                            item_id=turn.item_id,
                        ),
                    )
                    reply = None
                finally:
                    session.turns.popleft()
                if reply is not None:
                    transcript = turn.transcription.result().text
                    session.history.extend(
                        (ChatMessage("user", transcript), ChatMessage("assistant", reply))
                    )
        finally:
            for waiting in session.turns:
                waiting.transcription.cancel()
            session.turns.clear()
            session.worker = None
            self._forget_if_idle(session)

    # -- lifecycle -----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Let turns in flight finish for the grace period, then cancel what is left."""
        workers = [s.worker for s in self.sessions.values() if s.worker is not None]
        if workers:
            log.info(
                "waiting up to %gs for %d turns", self.config.shutdown_grace_seconds, len(workers)
            )
            _, pending = await asyncio.wait(workers, timeout=self.config.shutdown_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for session in list(self.sessions.values()):
            for utterance in session.utterances.values():
                utterance.cancel()
            session.utterances.clear()


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
    sio.attach(app, socketio_path=config.socketio_path)
    add_page_routes(app, socketio_path=config.socketio_path)
    emitter = Emitter(sio)
    server = ChatServer(config, registry, emitter)
    register(sio, server, emitter)

    async def stop(_: web.Application) -> None:
        await server.shutdown()
        # Stops Engine.IO's service task; python-socketio requires it before the web server stops.
        await sio.shutdown()

    async def close_connections(_: web.Application) -> None:
        await registry.aclose()
        if manager is not None:
            await manager.close()

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
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if config.log_level != "DEBUG":
        # One line per HTTP request drowns the log: Engine.IO polls and upgrades are routine.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
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
    print(f"  listening on {url} (Ctrl-C stops)", file=sys.stderr)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        shutdown_timeout=config.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    main()
