"""A session's turns: run one after another in commit order, cancelled one at a time, and the
conversation history they read and extend."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from generated.dispatch import Emitter
from generated.models import ClientRole, CustomError, ErrorCode
from handlers.admission import Admission, ServerBusy
from handlers.pipeline import DeltaHook, Reply, Turn
from handlers.providers.base import ChatMessage
from handlers.providers.registry import ProviderRegistry

log = logging.getLogger("metahuman")


@dataclass(frozen=True, slots=True)
class CancelledResponse:
    """What a cancelled turn had sent: what announcing the cancel (`response.cancelled`) needs."""

    response_id: str
    item_id: str
    reason: str
    last_sequence: int
    """The sequence of the last `response.audio.delta` sent, or -1 when none was."""
    audio_sent_ms: int
    """How much audio the deltas sent hold."""
    spoken_text: str
    """The text of the sentences whose audio had started going out, or "" (an upper bound on
    what was heard: the Receiver may not have played all of it)."""


class TurnQueue:
    """The committed turns of one session.

    One worker task runs them in commit order, each in a task of its own so that
    ``cancel_response`` can stop the turn in flight alone; the worker then goes on with the next.
    A turn that ends adds its exchange to ``history``, which the next turns' language model sees.
    """

    def __init__(
        self,
        session_id: str,
        registry: ProviderRegistry,
        emitter: Emitter,
        history_turns: int,
        on_idle: Callable[[], None],
        admission: Admission,
        on_delta: DeltaHook | None = None,
        on_exchange: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.registry = registry
        self.emitter = emitter
        self.history: deque[ChatMessage] = deque(maxlen=2 * history_turns)
        self.waiting: deque[Turn] = deque()
        """Committed turns not started yet."""
        self.in_flight: Reply | None = None
        self.worker: asyncio.Task[None] | None = None
        self._in_flight_task: asyncio.Task[None] | None = None
        self._on_idle = on_idle
        self.admission = admission
        self.admitting: Turn | None = None
        """The turn waiting for one of the server's turn slots."""
        self._on_delta = on_delta
        self._last_exchange: tuple[str, ChatMessage, ChatMessage | None] | None = None
        """The last reply remembered: its response id, user message and assistant message."""
        self._on_exchange = on_exchange
        """Told (item_id, user, assistant) of each exchange added to the history."""

    def __len__(self) -> int:
        """Turns committed and not finished, the one in flight included."""
        return len(self.waiting) + (self.in_flight is not None) + (self.admitting is not None)

    def submit(self, turn: Turn) -> None:
        self.waiting.append(turn)
        if self.worker is None:
            self.worker = asyncio.create_task(self._work(), name=f"turns-{self.session_id}")

    async def _work(self) -> None:
        try:
            while self.waiting:
                turn = self.admitting = self.waiting.popleft()
                admission = self.admission
                try:
                    async with admission.slots.slot(admission.admission_wait_s):
                        self.admitting = None
                        reply = Reply(
                            turn,
                            self.registry,
                            self.emitter,
                            admission.deadlines,
                            on_delta=self._on_delta,
                        )
                        await self._run_in_flight(reply)
                except ServerBusy as exc:
                    turn.transcription.cancel()
                    await self._error(turn, ErrorCode.SERVER_BUSY, f"{exc}; commit again later")
                finally:
                    if self.admitting is not None:  # cancelled while waiting for a slot
                        self.admitting.transcription.cancel()
                        self.admitting = None
        finally:
            self.drop_waiting()
            self.worker = None
            self._on_idle()

    async def _error(self, turn: Turn, code: ErrorCode, message: str) -> None:
        await self.emitter.custom_error(
            Emitter.room(self.session_id, ClientRole.SENDER),
            CustomError(code=code, message=message, item_id=turn.item_id),
        )

    async def _run_in_flight(self, reply: Reply) -> None:
        task = asyncio.create_task(self._run(reply), name=f"turn-{reply.turn.item_id}")
        self.in_flight, self._in_flight_task = reply, task
        try:
            # wait(), not await: a turn cancelled alone must not end the worker.
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait((task,))
            raise
        finally:
            self.in_flight = self._in_flight_task = None
            reply.timing.finish(task)

    async def _run(self, reply: Reply) -> None:
        deadline_s = self.admission.deadlines.turn_s
        deadline = asyncio.timeout(deadline_s)
        try:
            async with deadline:
                exchange = await reply.run(self.history)
        except TimeoutError:
            if not deadline.expired():
                log.exception("turn %s failed", reply.turn.item_id)
                await self._error(reply.turn, ErrorCode.INTERNAL_ERROR, "the turn failed")
                return
            await self._out_of_time(reply, deadline_s)
            return
        except asyncio.CancelledError:
            reply.turn.transcription.cancel()
            self._remember_sent(reply)
            raise
        except Exception:
            reply.timing.failed("internal_error")
            log.exception("turn %s failed", reply.turn.item_id)
            await self._error(reply.turn, ErrorCode.INTERNAL_ERROR, "the turn failed")
            return
        if exchange is not None:
            self._remember(reply.response_id, reply.turn.item_id, exchange.user, exchange.assistant)

    def _remember_sent(self, reply: Reply) -> None:
        """Keep what of a stopped reply went out (turn taking cuts it to what was played)."""
        if reply.transcript and reply.spoken:
            self._remember(
                reply.response_id, reply.turn.item_id, reply.transcript, " ".join(reply.spoken)
            )

    async def _out_of_time(self, reply: Reply, deadline_s: float) -> None:
        """The turn ran past its whole-turn deadline and was stopped (its provider streams are
        closed). What went out ends as a failed stage's reply does, with a final delta, so the
        Receivers know nothing more follows and play what they have; the history keeps what
        was sent, as for a cancel; the Senders and the Receivers are told why."""
        reply.turn.transcription.cancel()
        reply.timing.failed("turn_timeout")
        self._remember_sent(reply)
        if reply.sequence:
            await reply.end_response()
        error = CustomError(
            code=ErrorCode.TURN_TIMEOUT,
            message=f"the turn did not finish within its {deadline_s:g} s deadline; it was stopped",
            item_id=reply.turn.item_id,
        )
        for role in (ClientRole.RECEIVER, ClientRole.SENDER):
            await self.emitter.custom_error(Emitter.room(self.session_id, role), error)

    def _remember(self, response_id: str, item_id: str, user: str, assistant: str) -> None:
        user_message, message = ChatMessage("user", user), ChatMessage("assistant", assistant)
        self.history.extend((user_message, message))
        self._last_exchange = (response_id, user_message, message)
        if self._on_exchange is not None:
            self._on_exchange(item_id, user, assistant)

    def revise(self, response_id: str, heard: str) -> bool:
        """Make the last reply's assistant message what was heard of it ("" removes it, keeping
        the user's message); False when that changes nothing or ``response_id`` is not the last
        reply remembered."""
        if self._last_exchange is None or self._last_exchange[0] != response_id:
            return False
        _, user_message, message = self._last_exchange
        if (message.content if message is not None else "") == heard:
            return False
        messages = list(self.history)
        at = next((i for i, item in enumerate(messages) if item is user_message), None)
        if at is None:
            return False  # pushed out of the bounded history
        had = at + 1 < len(messages) and messages[at + 1] is message
        revised = ChatMessage("assistant", heard) if heard else None
        messages[at + 1 : at + 1 + had] = [revised] if revised else []
        self.history.clear()
        self.history.extend(messages)
        self._last_exchange = (response_id, user_message, revised)
        return True

    def forget_history(self) -> None:
        """Start the conversation afresh: the next turn's model sees no earlier exchange."""
        self.history.clear()
        self._last_exchange = None

    async def cancel_response(self, reason: str) -> CancelledResponse | None:
        """Cancel the turn in flight, at whatever stage it is; None when no turn is in flight.

        When this returns the turn has ended: its language-model and speech streams are closed
        (``aclose`` reached the providers, so their HTTP/gRPC requests are closed), and nothing
        more of its response will be sent, so an event emitted next reaches every Receiver after
        the response's last delta. The turns waiting behind it run next, as usual.
        """
        reply, task = self.in_flight, self._in_flight_task
        if reply is None or task is None or task.done():
            return None
        # Not in flight any more for callers that come while it ends.
        self.in_flight = self._in_flight_task = None
        task.cancel()
        await asyncio.wait((task,))
        return CancelledResponse(
            response_id=reply.response_id,
            item_id=reply.turn.item_id,
            reason=reason,
            last_sequence=reply.sequence - 1,
            audio_sent_ms=reply.audio_sent_ms,
            spoken_text=" ".join(reply.spoken),
        )

    async def close(self, reason: str) -> None:
        """Drop the waiting turns, cancel the one in flight, and wait for the worker to end."""
        self.drop_waiting()
        if self.admitting is not None and self.worker is not None:
            self.worker.cancel()  # waiting for a slot: nothing of it has started
        await self.cancel_response(reason)
        if self.worker is not None:
            await asyncio.wait((self.worker,))

    def abandon(self) -> None:
        """Nobody is left to hear the turns: stop them all now, without waiting."""
        self.drop_waiting()
        if self.worker is not None:
            self.worker.cancel()

    def drop_waiting(self) -> None:
        """Forget the committed turns that have not started (their recognition is stopped)."""
        for turn in self.waiting:
            turn.transcription.cancel()
        self.waiting.clear()
