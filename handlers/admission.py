"""Fair shares of the server: turn slots for all sessions, an audio budget per Sender, the idle
timeout of uncommitted utterances.

* **Turn slots**: at most ``turns_in_flight`` turns run at once on a node. A session runs its
  turns one after another and asks for a slot for each, so a FIFO of waiting sessions serves
  them round-robin: a session with four turns queued gets one slot, then goes to the back. A turn
  that waits longer than ``admission_wait_seconds`` is refused with ``server_busy`` (never
  silence), and its transcription stopped.
* **Audio budget**: a token bucket per Sender, in seconds of audio: ``audio_burst_seconds`` at
  once, refilled at ``audio_rate`` times real time. Audio beyond it is dropped with
  ``rate_limited``, told at once and then at most once a second while refusals go on: no refused
  chunk goes untold for long, and a flood does not make the server answer every chunk.
* **Idle utterances**: an utterance with no audio for ``utterance_idle_seconds`` is dropped
  (``utterance_timeout``), so a Sender that never commits holds no recogniser.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from handlers.config import ServerConfig
from handlers.deadlines import Deadlines
from handlers.limits import ReportThrottle, TokenBucket


class ServerBusy(Exception):
    """No turn slot came free within the admission wait."""


class TurnSlots:
    """At most ``size`` holders at once; waiters are served first come, first served."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"turns in flight must be at least 1, got {size}")
        self.size = size
        self.busy = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        return sum(not waiter.done() for waiter in self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, wait_s: float) -> AsyncIterator[None]:
        """Hold a slot for the body; ServerBusy when none came free within ``wait_s``."""
        await self._acquire(wait_s)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, wait_s: float) -> None:
        if self.busy < self.size and not self.waiting:
            self.busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait_s):
                await waiter
        except (TimeoutError, asyncio.CancelledError) as exc:
            # A slot handed over just as the wait ended is passed on, not lost.
            if waiter.done() and not waiter.cancelled():
                self._release()
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise ServerBusy(f"no turn slot came free within {wait_s:g} s") from exc
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter: ``busy`` is unchanged
                return
        self.busy -= 1


@dataclass(slots=True)
class Admission:
    """The server's fair-share policy, shared by its sessions (see the module docstring)."""

    slots: TurnSlots
    admission_wait_s: float
    deadlines: Deadlines
    audio_rate: float
    audio_burst_s: float
    utterance_idle_s: float

    @classmethod
    def from_config(cls, config: ServerConfig) -> Admission:
        return cls(
            slots=TurnSlots(config.turns_in_flight),
            admission_wait_s=config.admission_wait_seconds,
            deadlines=Deadlines.from_config(config),
            audio_rate=config.audio_rate,
            audio_burst_s=config.audio_burst_seconds,
            utterance_idle_s=config.utterance_idle_seconds,
        )

    def audio_budget(self) -> AudioBudget | None:
        """A new Sender's audio budget; None when audio is not limited."""
        if self.audio_rate <= 0:
            return None
        bucket = TokenBucket(rate=self.audio_rate, burst=self.audio_burst_s, lends=True)
        return AudioBudget(bucket, ReportThrottle(clock=bucket.clock))


class Verdict(enum.Enum):
    """What became of an audio chunk, and whether the Sender must be told."""

    ADMITTED = "admitted"
    REFUSED = "refused"
    """Dropped, and not told: a refusal was told within the last ``ReportThrottle.every_s``."""
    REFUSED_TELL = "refused_tell"
    """Dropped: report ``rate_limited``."""


@dataclass(slots=True)
class AudioBudget:
    """A Sender's audio bucket, and when its refusals are told."""

    bucket: TokenBucket
    reports: ReportThrottle

    def admit(self, seconds: float) -> Verdict:
        if self.bucket.take(seconds):
            return Verdict.ADMITTED
        return Verdict.REFUSED_TELL if self.reports.due() else Verdict.REFUSED


class IdleTimer:
    """Calls ``on_idle`` once ``idle_s`` after the last ``touch`` (or its creation).

    One timer per ``idle_s``, not one per touch: ``touch`` runs for every audio chunk and only
    notes the time; the timer, when it fires early, re-arms itself for what is left.
    """

    def __init__(self, idle_s: float, on_idle: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle_s = idle_s
        self._on_idle = on_idle
        self.last = self._loop.time()
        self._handle = self._loop.call_at(self.last + idle_s, self._check)

    def touch(self) -> None:
        self.last = self._loop.time()

    def _check(self) -> None:
        due = self.last + self._idle_s
        if self._loop.time() >= due:
            self._on_idle()
        else:
            self._handle = self._loop.call_at(due, self._check)

    def cancel(self) -> None:
        self._handle.cancel()
