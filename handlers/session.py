"""One conversation on this node: its clients, the utterance each Sender is speaking, its
settings and its turns. The server hands each client event to its session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen.runtime import ClientError
from generated.dispatch import Emitter
from generated.models import (
    ErrorCode,
    InputBufferAppend,
    InputBufferInitialized,
    SessionUpdate,
    Stage,
)
from handlers.audio import AudioFormatError
from handlers.capabilities import unsupported
from handlers.config import ServerConfig
from handlers.persistence import SessionPersistence
from handlers.pipeline import Turn
from handlers.providers.base import ChatMessage
from handlers.providers.registry import ProviderRegistry
from handlers.settings import Settings, apply_update, requested_providers
from handlers.turns import CancelledResponse, TurnQueue
from handlers.utterance import Utterance, decode_chunk


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What the sessions of one server share: its limits, its providers and its emitter."""

    config: ServerConfig
    registry: ProviderRegistry
    emitter: Emitter
    persistence: SessionPersistence | None = None
    """Where settings and history are written through to (with --redis-url)."""


class Session:
    """One conversation (a session id) on this node: its Senders, Receivers and turns."""

    def __init__(
        self,
        session_id: str,
        settings: Settings,
        services: SessionServices,
        forget: Callable[[Session], None],
    ) -> None:
        self.session_id = session_id
        self.settings = settings
        self.services = services
        self.clients: set[str] = set()
        self.utterances: dict[str, Utterance] = {}
        """The utterance each Sender is speaking, by sid."""
        self.turns = TurnQueue(
            session_id,
            services.registry,
            services.emitter,
            services.config.history_turns,
            on_idle=self._forget_if_idle,
            on_exchange=self._save_exchange if services.persistence is not None else None,
        )
        self._forget = forget

    @property
    def idle(self) -> bool:
        return not self.clients and self.turns.worker is None and not self.utterances

    def _forget_if_idle(self) -> None:
        if self.idle:
            self._forget(self)

    def restore(self, settings: Settings | None, history: list[ChatMessage]) -> None:
        """Take up the state this session had on another node (before any client event)."""
        if settings is not None:
            self.settings = settings
        self.turns.history.extend(history)

    def _save_exchange(self, item_id: str, user: str, assistant: str) -> None:
        if self.services.persistence is not None:
            self.services.persistence.save_exchange(self.session_id, item_id, user, assistant)

    # -- clients -------------------------------------------------------------------------------

    def join(self, sid: str) -> None:
        self.clients.add(sid)

    def leave(self, sid: str) -> None:
        self.clients.discard(sid)
        utterance = self.utterances.pop(sid, None)
        if utterance is not None:
            # Never committed: nothing was promised for this audio.
            utterance.cancel()
        self._forget_if_idle()

    # -- client events -------------------------------------------------------------------------

    async def update(self, update: SessionUpdate) -> None:
        """Apply a `session.update` (all of it, or none: ClientError) and show the result."""
        # Building a provider may block: it happens off the loop, before the settings are read,
        # so two updates cannot overwrite each other.
        registry = self.services.registry
        reasons = {
            (stage, name): await registry.unavailable_reason(stage, name)
            for stage, name in requested_providers(update)
        }
        updated = apply_update(self.settings, update, lambda stage, name: reasons[(stage, name)])
        if (problem := unsupported(updated)) is not None:
            raise ClientError(ErrorCode.UNSUPPORTED_OPTION, problem, stage=Stage.STT)
        self.settings = updated
        await self.services.emitter.session_updated(
            self.session_id, self.settings.session_updated(self.session_id)
        )
        if self.services.persistence is not None:
            self.services.persistence.save_settings(self.session_id, self.settings)

    async def append(self, sid: str, payload: InputBufferAppend) -> None:
        """Add a chunk to the Sender's utterance, starting one (and its recognition) if needed."""
        audio = self.settings.input_audio
        utterance = self.utterances.get(sid)
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
            utterance = self.utterances[sid] = self._start_utterance()
            await self.services.emitter.input_buffer_initialized(
                self.session_id,
                InputBufferInitialized(
                    item_id=utterance.item_id, format=audio.format, sample_rate=audio.sample_rate
                ),
            )
        already_full = utterance.overflowed
        if utterance.append(pcm) and not already_full:
            raise ClientError(
                ErrorCode.BUFFER_OVERFLOW,
                f"utterance longer than {self.services.config.max_buffer_seconds:g} s: later"
                " audio is dropped; commit to use what was kept",
                item_id=utterance.item_id,
            )

    def _start_utterance(self) -> Utterance:
        settings = self.settings
        provider = self.services.registry.stt(settings.stt.provider.value)
        request = settings.stt_request()
        return Utterance(
            settings.input_audio.format,
            settings.input_audio.sample_rate,
            self.services.config.max_buffer_seconds,
            lambda audio: provider.transcribe(audio, request),
        )

    def commit(self, sid: str) -> None:
        """End the Sender's utterance and queue its turn, with the settings in force now."""
        utterance = self.utterances.get(sid)
        if utterance is None or utterance.size == 0:
            raise ClientError(ErrorCode.EMPTY_BUFFER, "input.buffer.commit with no audio buffered")
        if len(self.turns) >= self.services.config.max_queued_turns:
            # The audio stays buffered: the Sender may commit again once a turn has finished.
            raise ClientError(
                ErrorCode.TURN_QUEUE_FULL,
                f"{len(self.turns)} turns are already waiting; commit again later",
                item_id=utterance.item_id,
            )
        del self.utterances[sid]
        self.turns.submit(
            Turn(
                session_id=self.session_id,
                item_id=utterance.item_id,
                transcription=utterance.commit(),
                duration_ms=utterance.duration_ms,
                settings=self.settings,
            )
        )

    # -- cancelling ----------------------------------------------------------------------------

    async def cancel_response(self, reason: str) -> CancelledResponse | None:
        """Cancel the turn in flight: see ``TurnQueue.cancel_response``."""
        return await self.turns.cancel_response(reason)

    async def close(self, reason: str) -> None:
        """Cancel everything in progress: waiting turns, the turn in flight, utterances."""
        await self.turns.close(reason)
        for utterance in self.utterances.values():
            utterance.cancel()
        self.utterances.clear()
