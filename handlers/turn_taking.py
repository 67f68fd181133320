"""Natural turn-taking for one session: server VAD turns, barge-in, and a history of what was heard.

- With ``turnDetection.type = server_vad`` each Sender's decoded audio goes to a ``VadStream`` of
  the process-wide ``VadEngine`` (``SharedVad``) and to an ``AudioHistory``. No utterance is open
  while nobody speaks: ``SpeechStarted`` opens one with the audio from ``prefixPaddingMs`` before
  the onset, ``SpeechStopped`` and ``Commit`` (after ``silenceDurationMs``) end it. A manual
  ``input.buffer.commit`` still works (it takes the audio since the last commit when no speech
  was detected).
- Barge-in: speech that starts a turn while a reply is generated or still playing on the
  Receiver (by its ``response.audio.played`` reports, else by the audio sent and the time since)
  cancels the reply when ``interruptResponse`` is on; so does ``response.cancel``.
  ``TurnQueue.cancel_response`` guarantees no later delta; ``response.cancelled`` goes out at once.
- The history keeps what was heard: the assistant message is cut (``heard_text``) to what was
  played, estimated at the cancel and corrected by the Receiver's report.
- Echo guard: every delta sent to the Receivers is fed to each Sender stream's ``EchoGuard``, so
  the avatar's own voice reaching the microphone does not interrupt it.

Turn events come from the VAD thread onto the event loop; they are handled in order by one
short-lived task per session (``_drain``), which ends when there is nothing left to handle.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codegen.runtime import ClientError
from generated.dispatch import Emitter
from generated.models import (
    CancelReason,
    ClientRole,
    CustomError,
    ErrorCode,
    InputSpeechStarted,
    InputSpeechStopped,
    ResponseAudioDelta,
    ResponseAudioPlayed,
    ResponseCancel,
    ResponseCancelled,
    TurnDetection,
    TurnDetectionType,
)
from handlers.audio import AudioFormatError, parse_wav
from handlers.heard import WordSpan, heard_text
from handlers.pipeline import Reply
from handlers.vad import (
    AudioHistory,
    Commit,
    EchoGuard,
    SpeechStarted,
    SpeechStopped,
    TurnEvent,
    TurnSettings,
    VadEngine,
    VadStream,
)

if TYPE_CHECKING:
    from handlers.session import Session

log = logging.getLogger("metahuman")

HISTORY_KEEP_MS = 10_000
"""Input audio kept per Sender: the prefix padding, the audio VAD has not decided on yet (a
Sender may stream faster than real time), and a manual commit with no speech detected."""
RECENT_RESPONSES = 8
"""Responses a session remembers for `response.audio.played` and `response.cancel`."""


class SharedVad:
    """The process-wide VAD engine: built and started on first use, closed with the app."""

    def __init__(self) -> None:
        self._engine: VadEngine | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._engine is not None

    def engine(self) -> VadEngine:
        with self._lock:
            if self._engine is None:
                self._engine = VadEngine()
                self._engine.start()
            return self._engine

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()


def turn_settings(detection: TurnDetection) -> TurnSettings:
    return TurnSettings(
        threshold=detection.threshold,
        prefix_padding_ms=detection.prefix_padding_ms,
        silence_duration_ms=detection.silence_duration_ms,
        min_speech_ms=detection.min_speech_ms,
    )


@dataclass(slots=True)
class Playback:
    """A response as the Receivers get it: what was sent, and how much is still playing."""

    response_id: str
    item_id: str
    texts: list[str] = field(default_factory=list)
    last_sequence: int = -1
    audio_ms: int = 0
    final: bool = False
    ended: bool = False
    """Cancelled, or played to its end: nothing of it plays any more."""
    play_end: float = 0.0
    """time.monotonic() at which the Receiver will have played everything sent (estimated)."""
    played_ms: int | None = None
    """The Receiver's last report."""
    words: list[WordSpan] = field(default_factory=list)
    """The synthesiser's word timings of the audio so far (empty when the session has none)."""

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def heard(self, played_ms: int) -> str:
        """What was heard of it in ``played_ms``: by the word timings when there are some."""
        return heard_text(self.text, played_ms, self.audio_ms, self.words or None)

    def sent(self, delta: ResponseAudioDelta, audio_ms: int, now: float) -> None:
        """A delta went out; ``audio_ms`` is the response's audio sent so far."""
        # A Receiver plays the deltas back to back from the first one's arrival.
        self.play_end = max(self.play_end, now) + (audio_ms - self.audio_ms) / 1000
        self.audio_ms = audio_ms
        self.last_sequence = delta.sequence
        self.final = delta.final
        if delta.text:
            self.texts.append(delta.text)

    def reported(self, played_ms: int, now: float) -> None:
        self.played_ms = min(played_ms, self.audio_ms)
        self.play_end = now + (self.audio_ms - self.played_ms) / 1000
        if self.final and self.played_ms >= self.audio_ms:
            self.ended = True

    def playing(self, now: float) -> bool:
        return not self.ended and now < self.play_end

    def played_estimate(self, now: float) -> int:
        """How much has been played by now: everything sent less what is still queued."""
        queued_ms = max(0.0, self.play_end - now) * 1000
        return max(0, round(self.audio_ms - queued_ms))


@dataclass(slots=True)
class SenderInput:
    """One Sender's audio under server VAD."""

    stream: VadStream
    history: AudioHistory
    guard: EchoGuard
    floor_ms: int = 0
    """Where the next utterance may begin: the end of the last one committed (stream time)."""
    item_id: str | None = None
    """The utterance VAD opened and has not committed yet."""
    utterance_start_ms: int = 0
    fed_ms: int = 0
    """How far (stream time) the open utterance has been given the audio."""
    posted: int = 0
    """Batches of turn events the VAD thread has posted to the loop (VAD thread side)."""
    received: int = 0
    """Batches the loop has handled (loop side): equal to ``posted`` when none is on its way."""

    def close(self) -> None:
        self.stream.close()


class TurnTaking:
    """One session's server VAD inputs, its responses' playback, cancels and history cuts."""

    def __init__(self, session: Session, vad: SharedVad) -> None:
        self.session = session
        self.vad = vad
        self.inputs: dict[str, SenderInput] = {}
        self.responses: OrderedDict[str, Playback] = OrderedDict()
        self._events: deque[tuple[str, list[TurnEvent]]] = deque()
        self._drain: asyncio.Task[None] | None = None
        self.clock = time.monotonic

    @property
    def emitter(self) -> Emitter:
        return self.session.services.emitter

    @property
    def detection(self) -> TurnDetection:
        return self.session.settings.turn_detection

    @property
    def server_vad(self) -> bool:
        return self.detection.type is TurnDetectionType.SERVER_VAD

    # -- settings and clients --------------------------------------------------------------------

    def configure(self) -> None:
        """The session's settings changed: follow turn detection (on, off, new parameters)."""
        if not self.server_vad:
            for sid in list(self.inputs):
                self.leave(sid)
            return
        settings = turn_settings(self.detection)
        for sender in self.inputs.values():
            sender.stream.configure(settings)

    def leave(self, sid: str) -> None:
        sender = self.inputs.pop(sid, None)
        if sender is not None:
            sender.close()

    async def close(self) -> None:
        """Stop listening; let the turn event being handled finish."""
        for sid in list(self.inputs):
            self.leave(sid)
        self._events.clear()
        drain = self._drain
        if drain is not None and drain is not asyncio.current_task():
            await asyncio.wait((drain,))

    @property
    def busy(self) -> bool:
        return self._drain is not None

    # -- audio in --------------------------------------------------------------------------------

    def hear(self, sid: str, pcm: bytes) -> bool:
        """Feed a Sender's decoded chunk to VAD; False when server VAD is off (the session buffers
        it as usual). With server VAD the audio waits in the history, and an utterance that VAD
        opened gets it as far as VAD has run: audio streamed faster than real time then still
        ends at the commit, not wherever the stream had got to."""
        if not self.server_vad:
            return False
        sender = self.inputs.get(sid)
        rate = self.session.settings.input_audio.sample_rate
        if sender is None or sender.stream.sample_rate != rate or sender.stream.closed:
            if sender is not None:
                sender.close()
            sender = self.inputs[sid] = self._open_input(sid, rate)
        sender.history.append(pcm)
        sender.stream.push(pcm)
        if sender.item_id is not None:
            # Read before the counts: the worker posts a batch's events before it publishes how
            # far it has decided, so events up to ``decided`` are counted in ``posted`` by now.
            decided = sender.stream.decided_ms
            if sender.posted == sender.received:
                # VAD has run this far and said nothing more: the utterance goes on at least here.
                self._feed(sid, sender, decided)
        return True

    def _feed(self, sid: str, sender: SenderInput, until_ms: int) -> None:
        """Give the open utterance the audio up to ``until_ms`` (raises ClientError on overflow)."""
        utterance = self.session.utterances.get(sid)
        if utterance is None or utterance.item_id != sender.item_id or until_ms <= sender.fed_ms:
            return
        audio = sender.history.between(sender.fed_ms, until_ms)
        sender.fed_ms = until_ms
        if audio:
            self.session.buffer(utterance, audio)

    def _open_input(self, sid: str, sample_rate: int) -> SenderInput:
        guard = EchoGuard()
        loop = asyncio.get_running_loop()
        sender: SenderInput | None = None

        def post(events: list[TurnEvent]) -> None:
            # On the VAD thread: counted before the loop can see the frames after these events.
            assert sender is not None
            sender.posted += 1
            loop.call_soon_threadsafe(self._queue, sid, sender, events)

        stream = self.vad.engine().open_stream(
            sample_rate, post, settings=turn_settings(self.detection), guard=guard
        )
        sender = SenderInput(stream, AudioHistory(sample_rate, HISTORY_KEEP_MS), guard)
        return sender

    def pending_audio(self, sid: str) -> bytes:
        """For a manual commit: the audio since the last commit, or the rest of the open
        utterance's (``b""`` when VAD is off, or nothing is waiting)."""
        sender = self.inputs.get(sid)
        if sender is None:
            return b""
        start = sender.fed_ms if sender.item_id is not None else sender.floor_ms
        sender.fed_ms = sender.history.now_ms
        return sender.history.between(start, sender.history.now_ms)

    def committed(self, sid: str, *, by_vad: bool) -> None:
        """The Sender's utterance was committed (by hand or by VAD): the next one starts here."""
        sender = self.inputs.get(sid)
        if sender is not None:
            if not by_vad:
                # A manual commit: drop the turn VAD may have in progress.
                sender.stream.reset_turn()
            sender.item_id = None
            # Where this utterance's audio ended (VAD's commit point, or now for a manual commit):
            # what came after belongs to the next one.
            sender.floor_ms = sender.fed_ms

    # -- turn events (VAD thread -> loop) --------------------------------------------------------

    def _queue(self, sid: str, sender: SenderInput, events: list[TurnEvent]) -> None:
        if self.inputs.get(sid) is not sender:
            return
        self._events.append((sid, events))
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(
                self._handle_events(), name=f"turn-events-{self.session.session_id}"
            )

    async def _handle_events(self) -> None:
        try:
            while self._events:
                sid, events = self._events.popleft()
                sender = self.inputs.get(sid)
                for event in events:
                    try:
                        await self._handle(sid, event)
                    except ClientError as exc:
                        await self.emitter.custom_error(sid, CustomError(**exc.fields()))
                    except Exception:
                        log.exception("turn event %s failed", type(event).__name__)
                if sender is not None:
                    sender.received += 1
        finally:
            self._drain = None
            self.session.forget_if_idle()

    async def _handle(self, sid: str, event: TurnEvent) -> None:
        sender = self.inputs.get(sid)
        if sender is None:
            return
        session = self.session
        if isinstance(event, SpeechStarted):
            if event.audio_start_ms < sender.floor_ms:
                # Speech that the Sender has already committed by hand (VAD was behind): the
                # reset reached the detector after its first frames. Not a new turn.
                return
            utterance = session.utterances.get(sid)
            if utterance is None:
                utterance = await session.open_utterance(sid)
                sender.utterance_start_ms = sender.fed_ms = event.utterance_start_ms
            else:
                sender.utterance_start_ms = sender.fed_ms = sender.floor_ms
            sender.item_id = utterance.item_id
            self._feed(sid, sender, event.detected_ms)
            await self.emitter.input_speech_started(
                session.session_id,
                InputSpeechStarted(
                    item_id=utterance.item_id,
                    audio_start_ms=max(0, event.audio_start_ms - sender.utterance_start_ms),
                ),
            )
            if self.detection.interrupt_response and self.replying():
                await self.cancel(CancelReason.BARGE_IN)
        elif isinstance(event, SpeechStopped):
            if sender.item_id is not None:
                await self.emitter.input_speech_stopped(
                    session.session_id,
                    InputSpeechStopped(
                        item_id=sender.item_id,
                        audio_end_ms=max(0, event.audio_end_ms - sender.utterance_start_ms),
                    ),
                )
        elif isinstance(event, Commit):
            # A stale commit (the Sender committed by hand meanwhile) has nothing to commit.
            utterance = session.utterances.get(sid)
            if utterance is not None and utterance.item_id == sender.item_id:
                self._feed(sid, sender, event.detected_ms)
                await session.commit(sid, by_vad=True)

    # -- responses out ---------------------------------------------------------------------------

    def delta_sent(self, reply: Reply, delta: ResponseAudioDelta) -> None:
        """A delta of ``reply`` is being emitted: follow its playback, feed the echo guards."""
        playback = self.responses.get(reply.response_id)
        if playback is None:
            playback = self._track(reply.response_id, reply.turn.item_id)
        playback.sent(delta, reply.audio_sent_ms, self.clock())
        playback.words = reply.word_timeline
        if self.inputs and delta.audio:
            pcm, rate = self._reference_pcm(delta)
            for sender in self.inputs.values():
                if pcm:
                    sender.guard.play(pcm, rate, sender.stream.pushed_ms)

    @staticmethod
    def _reference_pcm(delta: ResponseAudioDelta) -> tuple[bytes, int]:
        """The delta's audio as PCM16 for the echo guard (MP3 is not decoded: no reference)."""
        if delta.format.value == "pcm16":
            return delta.audio, delta.sample_rate
        if delta.format.value == "wav":
            try:
                return parse_wav(delta.audio)
            except AudioFormatError:
                return b"", 0
        return b"", 0

    def _track(self, response_id: str, item_id: str) -> Playback:
        playback = self.responses[response_id] = Playback(response_id, item_id)
        while len(self.responses) > RECENT_RESPONSES:
            self.responses.popitem(last=False)
        return playback

    def _playing(self) -> Playback | None:
        """The last response, if the Receiver may still be playing it."""
        if not self.responses:
            return None
        last = next(reversed(self.responses.values()))
        return last if last.playing(self.clock()) else None

    def replying(self) -> bool:
        """A reply is generated (a turn is in flight) or still playing."""
        return self.session.turns.in_flight is not None or self._playing() is not None

    # -- cancelling ------------------------------------------------------------------------------

    async def request_cancel(self, payload: ResponseCancel) -> None:
        """`response.cancel` from a Sender."""
        response_id = payload.response_id
        in_flight = self.session.turns.in_flight
        if response_id is not None and (in_flight is None or in_flight.response_id != response_id):
            playback = self.responses.get(response_id)
            if playback is None:
                raise ClientError(
                    ErrorCode.UNKNOWN_RESPONSE,
                    f"no response {response_id} in this session",
                    event="response.cancel",
                )
            if not playback.playing(self.clock()):
                raise ClientError(
                    ErrorCode.RESPONSE_NOT_ACTIVE,
                    f"response {response_id} has already ended",
                    event="response.cancel",
                )
        elif not self.replying():
            raise ClientError(
                ErrorCode.RESPONSE_NOT_ACTIVE,
                "no response is in flight or playing",
                event="response.cancel",
            )
        await self.cancel(CancelReason.CLIENT_CANCEL, response_id)

    async def cancel(
        self, reason: CancelReason, response_id: str | None = None
    ) -> list[ResponseCancelled]:
        """Stop the reply in flight and any reply still playing (or only ``response_id``);
        announce each; cut the history to what was heard of it."""
        stopped: list[ResponseCancelled] = []
        in_flight = self.session.turns.in_flight
        if in_flight is not None and response_id in (None, in_flight.response_id):
            cancelled = await self.session.turns.cancel_response(reason.value)
            if cancelled is not None:
                stopped.append(
                    ResponseCancelled(
                        response_id=cancelled.response_id,
                        item_id=cancelled.item_id,
                        reason=reason,
                        last_sequence=cancelled.last_sequence,
                        audio_sent_ms=cancelled.audio_sent_ms,
                    )
                )
                await self._announce_stopped(stopped[-1])
        now = self.clock()
        for playback in list(self.responses.values()):
            if playback.playing(now) and response_id in (None, playback.response_id):
                stopped.append(
                    ResponseCancelled(
                        response_id=playback.response_id,
                        item_id=playback.item_id,
                        reason=reason,
                        last_sequence=playback.last_sequence,
                        audio_sent_ms=playback.audio_ms,
                    )
                )
                await self._announce_stopped(stopped[-1])
        if stopped:
            for sender in self.inputs.values():
                sender.guard.stop(sender.stream.pushed_ms)
        return stopped

    async def _announce_stopped(self, payload: ResponseCancelled) -> None:
        await self.announce(payload)
        self._stop_playing(payload.response_id)

    def _stop_playing(self, response_id: str) -> None:
        """The response stops now: the history keeps what had been played of it."""
        playback = self.responses.get(response_id)
        if playback is None or playback.ended:
            return
        now = self.clock()
        # From the Receiver's last report when there is one (it set ``play_end``).
        played = playback.played_estimate(now)
        playback.ended = True
        playback.play_end = now
        if self.session.turns.revise(response_id, playback.heard(played)):
            self.session.history_changed()

    async def announce(self, payload: ResponseCancelled) -> None:
        """`response.cancelled` to the Receivers (first: they stop playing), then the Senders."""
        session_id = self.session.session_id
        for role in (ClientRole.RECEIVER, ClientRole.SENDER):
            await self.emitter.response_cancelled(Emitter.room(session_id, role), payload)

    # -- reports ---------------------------------------------------------------------------------

    def played(self, payload: ResponseAudioPlayed) -> None:
        """`response.audio.played` from a Receiver: cut the history to what it played."""
        playback = self.responses.get(payload.response_id)
        if playback is None:
            raise ClientError(
                ErrorCode.UNKNOWN_RESPONSE,
                f"no response {payload.response_id} in this session",
                event="response.audio.played",
            )
        playback.reported(payload.played_ms, self.clock())
        # All of it heard restores the whole reply too: the server may have cut it by its own
        # estimate (a cancel as the Receiver played the last of it).
        if self.session.turns.revise(playback.response_id, playback.heard(playback.played_ms or 0)):
            self.session.history_changed()

    async def clear_conversation(self) -> None:
        """`conversation.clear`: stop the reply in flight (or playing) and forget the history."""
        if self.replying():
            await self.cancel(CancelReason.CLIENT_CANCEL)
        # The responses stay known: a Receiver may still report what it played of them.
        self.session.turns.forget_history()
        self.session.history_changed()
