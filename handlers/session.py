"""One conversation on this node: its clients, the utterance each Sender is speaking, its
settings and its turns. The server hands each client event to its session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from codegen.runtime import ClientError
from generated.dispatch import Emitter
from generated.models import (
    CancelReason,
    CustomError,
    ErrorCode,
    InputBufferAppend,
    InputBufferCommitted,
    InputBufferInitialized,
    SessionUpdate,
    Stage,
)
from handlers.admission import Admission, AudioBudget, IdleTimer, Verdict
from handlers.audio import AudioFormatError
from handlers.capabilities import unsupported
from handlers.config import ServerConfig
from handlers.persistence import SessionPersistence
from handlers.pipeline import Turn
from handlers.providers.base import CALLER, ChatMessage
from handlers.providers.registry import ProviderRegistry
from handlers.settings import Settings, apply_update, requested_providers
from handlers.turn_taking import SharedVad, TurnTaking
from handlers.turns import CancelledResponse, TurnQueue
from handlers.utterance import Utterance, decode_chunk, is_wav


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What the sessions of one server share: its limits, its providers and its emitter."""

    config: ServerConfig
    registry: ProviderRegistry
    emitter: Emitter
    admission: Admission
    """The fair-share policy: turn slots, deadlines, audio budgets, idle timeout."""
    vad: SharedVad = field(default_factory=SharedVad)
    """The process-wide VAD engine (server_vad turn detection), started on first use."""
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
        self.turn_taking = TurnTaking(self, services.vad)
        self.turns = TurnQueue(
            session_id,
            services.registry,
            services.emitter,
            services.config.history_turns,
            on_idle=self.forget_if_idle,
            admission=services.admission,
            on_delta=self.turn_taking.delta_sent,
            on_exchange=self._save_exchange if services.persistence is not None else None,
        )
        self._forget = forget
        self.audio_budgets: dict[str, AudioBudget | None] = {}
        """Each Sender's audio budget (None: unlimited), by sid."""
        self._idle_timers: dict[str, IdleTimer] = {}
        self._telling: set[asyncio.Task[None]] = set()
        """Errors being sent from timers (kept referenced until sent)."""

    @property
    def idle(self) -> bool:
        return (
            not self.clients
            and self.turns.worker is None
            and not self.utterances
            and not self.turn_taking.busy
        )

    def forget_if_idle(self) -> None:
        if self.idle:
            self._forget(self)

    def restore(self, settings: Settings | None, history: list[ChatMessage]) -> None:
        """Take up the state this session had on another node (before any client event)."""
        if settings is not None:
            self.settings = settings
        self.turns.history.extend(history)

    def history_changed(self) -> None:
        """The history was revised (barge-in) or cleared: write it through as it is now."""
        if self.services.persistence is not None:
            self.services.persistence.replace_history(self.session_id, list(self.turns.history))

    def _save_exchange(self, item_id: str, user: str, assistant: str) -> None:
        if self.services.persistence is not None:
            self.services.persistence.save_exchange(self.session_id, item_id, user, assistant)

    # -- clients -------------------------------------------------------------------------------

    def join(self, sid: str) -> None:
        self.clients.add(sid)

    def leave(self, sid: str) -> None:
        self.clients.discard(sid)
        self._drop_utterance(sid)
        self.audio_budgets.pop(sid, None)
        if not self.clients:
            # Nobody is left to hear the turns (a Receiver, or a Sender for the transcript).
            self.turns.abandon()
        self.turn_taking.leave(sid)
        self.forget_if_idle()

    def _drop_utterance(self, sid: str) -> Utterance | None:
        utterance = self.utterances.pop(sid, None)
        if utterance is not None:
            # Never committed: nothing was promised for this audio.
            utterance.cancel()
        timer = self._idle_timers.pop(sid, None)
        if timer is not None:
            timer.cancel()
        return utterance

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
        self.turn_taking.configure()
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
        raw = payload if isinstance(payload, (bytes, str)) else payload.audio
        try:
            if is_wav(raw, audio_format):
                # A whole file, maybe resampled: off the event loop.
                pcm = await asyncio.to_thread(decode_chunk, raw, audio_format, sample_rate)
                if sid not in self.clients:
                    return  # the Sender left meanwhile
                utterance = self.utterances.get(sid)
            else:
                pcm = decode_chunk(raw, audio_format, sample_rate)
        except AudioFormatError as exc:
            raise ClientError(ErrorCode.INVALID_AUDIO, str(exc)) from exc
        if not self._admit_audio(sid, len(pcm) / (2 * sample_rate)):
            return  # refused again: the first refusal of the run said so
        if (timer := self._idle_timers.get(sid)) is not None:
            timer.touch()  # audio is coming for the open utterance: not idle
        if self.turn_taking.hear(sid, pcm):
            return  # server VAD: the utterances are cut where speech starts and stops
        if utterance is None:
            utterance = await self.open_utterance(sid)
        self.buffer(utterance, pcm)

    def buffer(self, utterance: Utterance, pcm: bytes) -> None:
        """Add audio to an utterance; ClientError when it overflows (the first time)."""
        already_full = utterance.overflowed
        if utterance.append(pcm) and not already_full:
            raise ClientError(
                ErrorCode.BUFFER_OVERFLOW,
                f"utterance longer than {self.services.config.max_buffer_seconds:g} s: later"
                " audio is dropped; commit to use what was kept",
                item_id=utterance.item_id,
            )

    def _admit_audio(self, sid: str, seconds: float) -> bool:
        """Take ``seconds`` from the Sender's audio budget; False (or ClientError rate_limited,
        when the refusal is to be told) when the chunk is refused."""
        if sid not in self.audio_budgets:
            self.audio_budgets[sid] = self.services.admission.audio_budget()
        budget = self.audio_budgets[sid]
        if budget is None:
            return True
        verdict = budget.admit(seconds)
        if verdict is Verdict.REFUSED_TELL:
            admission = self.services.admission
            raise ClientError(
                ErrorCode.RATE_LIMITED,
                f"audio is admitted at {admission.audio_rate:g}x real time after a burst of"
                f" {admission.audio_burst_s:g} s: this chunk and the next refused ones are"
                f" dropped (told again at most every {budget.reports.every_s:g} s)",
            )
        return verdict is Verdict.ADMITTED

    def _utterance_idle(self, sid: str) -> None:
        """The Sender's utterance had no audio for the idle timeout: drop it and say so."""
        utterance = self._drop_utterance(sid)
        if utterance is None:
            return
        seconds = self.services.admission.utterance_idle_s
        error = CustomError(
            code=ErrorCode.UTTERANCE_TIMEOUT,
            message=f"no audio for {seconds:g} s and no commit: the utterance was dropped",
            item_id=utterance.item_id,
        )
        self._tell(self.services.emitter.custom_error(sid, error))
        self.forget_if_idle()

    def _tell(self, emit: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(emit)
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def open_utterance(self, sid: str) -> Utterance:
        """Start the Sender's next utterance (and its recognition) and announce it."""
        audio = self.settings.input_audio
        utterance = self.utterances[sid] = self._start_utterance()
        self._idle_timers[sid] = IdleTimer(
            self.services.admission.utterance_idle_s, lambda: self._utterance_idle(sid)
        )
        await self.services.emitter.input_buffer_initialized(
            self.session_id,
            InputBufferInitialized(
                item_id=utterance.item_id, format=audio.format, sample_rate=audio.sample_rate
            ),
        )
        return utterance

    def _start_utterance(self) -> Utterance:
        settings = self.settings
        provider = self.services.registry.stt(settings.stt.provider.value)
        request = settings.stt_request()
        # The recognition task starts inside: it carries whom it is for (fair shares of engines).
        caller = CALLER.set(self.session_id)
        try:
            return Utterance(
                settings.input_audio.format,
                settings.input_audio.sample_rate,
                self.services.config.max_buffer_seconds,
                lambda audio: provider.transcribe(audio, request),
            )
        finally:
            CALLER.reset(caller)

    async def commit(self, sid: str, *, by_vad: bool = False) -> None:
        """End the Sender's utterance and queue its turn, with the settings in force now
        (``by_vad``: server VAD ends it, with the audio it has been given)."""
        utterance = self.utterances.get(sid)
        if not by_vad and (pending := self.turn_taking.pending_audio(sid)):
            # Server VAD: the audio it has not decided on yet (or, when it heard no speech,
            # what came since the last commit) goes with this commit.
            utterance = utterance or await self.open_utterance(sid)
            self.buffer(utterance, pending)
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
        if (timer := self._idle_timers.pop(sid, None)) is not None:
            timer.cancel()
        self.turn_taking.committed(sid, by_vad=by_vad)
        self.turns.submit(
            Turn(
                session_id=self.session_id,
                item_id=utterance.item_id,
                transcription=utterance.commit(),
                duration_ms=utterance.duration_ms,
                settings=self.settings,
            )
        )
        await self.services.emitter.input_buffer_committed(
            self.session_id, InputBufferCommitted(item_id=utterance.item_id)
        )

    # -- cancelling ----------------------------------------------------------------------------

    async def cancel_response(self, reason: str) -> CancelledResponse | None:
        """Cancel the turn in flight: see ``TurnQueue.cancel_response``."""
        return await self.turns.cancel_response(reason)

    async def close(self, reason: str) -> None:
        """Cancel everything in progress: waiting turns, the turn in flight, utterances."""
        await self.turn_taking.close()
        if reason == CancelReason.SHUTDOWN and self.turns.in_flight is not None:
            # Nothing waiting may start while the reply in flight is stopped and announced.
            self.turns.drop_waiting()
            await self.turn_taking.cancel(CancelReason.SHUTDOWN)
        await self.turns.close(reason)
        for sid in list(self.utterances):
            self._drop_utterance(sid)
