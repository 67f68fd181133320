"""Offline speech recognition: pocketsphinx 5 with the US English model its wheel ships.

Audio is decoded while it arrives. ``transcribe`` reads the client's chunks and
hands whatever has queued up to a worker thread, so when the iterator ends (the
client committed) only the last few milliseconds and pocketsphinx's final pass
are left to do. Decoding never runs on the event loop. (pocketsphinx's Python
binding releases the GIL while it decodes audio but holds it during ``end_utt``,
during which the loop waits: about 5 ms per second of speech with the default
search, about 50 with pocketsphinx's own, whose second pass runs there; see
``SEARCHES``.)

A decoder holds its own copy of the acoustic and language model (about 90 MB),
so decoders are pooled and shared by all sessions: at most
``METAHUMAN_LOCAL_STT_DECODERS`` of them (default: one per CPU core, at most
1/8 of memory, at least 2), built on demand in threads and reused. The first
decoder is built in ``from_env`` so the model loads at start-up rather than in
someone's first turn.

No client holds a decoder it is not using. An utterance being spoken decodes
while it arrives only with a decoder nobody else waits for; a committed one
(speech that needs its transcript now) comes first: when every decoder is busy,
one lent to an uncommitted utterance is taken back (that utterance keeps its
audio and is decoded again from its start once committed), and committed
utterances wait their turn round-robin by session (``CALLER``). A Sender that
appends and never commits thus delays nobody; the session's idle timeout
(handlers/admission.py) drops its utterance.

Each utterance is decoded independently of what the decoder heard before: its
feature extraction (live cepstral mean and noise estimate, which pocketsphinx
otherwise carries from one utterance to the next) is reset at its start, and
audio is fed in fixed 20 ms pieces, so the transcript does not depend on which
pooled decoder served it, on who spoke to it before, or on how the network
batched the chunks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Self, TypeVar

from pocketsphinx import Decoder

from generated.catalog import STT
from handlers.audio import Pcm16Resampler, WholeSamples
from handlers.capabilities import LOCAL_STT_LANGUAGES
from handlers.providers.base import (
    CALLER,
    ProviderError,
    ProviderUnavailable,
    SttRequest,
    Transcript,
)
from handlers.providers.toolkit import NothingToClose

MODEL_NAME = STT["local"].default_model
"""``pocketsphinx-en-us``, the one model."""
LANGUAGE = "en-US"
RECOGNITION_SAMPLE_RATE = 16000
DECODERS_ENV = "METAHUMAN_LOCAL_STT_DECODERS"
SEARCH_ENV = "METAHUMAN_LOCAL_STT_SEARCH"
SearchSettings = Mapping[str, bool | int | float]
SEARCHES: dict[str, SearchSettings] = {
    # pocketsphinx's own defaults: a tree search while the audio arrives, then, once the
    # utterance ends, a second, flat search over all of it (fwdflat) and a best path through
    # the word lattice (bestpath).
    "full": {},
    # Why: the commit waits for whatever decoding is left when the utterance ends. fwdflat is
    # work done only then: finishing an utterance costs ~37-52 ms of CPU per second of speech
    # with it, ~4-6 without (the best path through the tree search's lattice is most of that);
    # scoring each frame's 2 best Gaussians instead of 4 (topn) and keeping at most 5,000 HMMs
    # active per frame (maxhmmpf; the default is 30,000) bring the whole decoding to ~0.45-0.55x
    # (python -m bench.sphinx). Word errors: the same 7 in 42 words on tests/data/speech,
    # 33 against 38 in 96 on pocketsphinx's own test recordings, 26 against 24 in 42 after a
    # trip through 8 kHz (README). Keep bestpath: without it the tree search's own hypothesis
    # has 13 errors in those 42 words instead of 7.
    "fast": {"fwdflat": False, "topn": 2, "maxhmmpf": 5000},
}
"""pocketsphinx search settings by name (``METAHUMAN_LOCAL_STT_SEARCH``), as Config keys."""
DEFAULT_SEARCH = "fast"
DECODER_BYTES = 90 * 1024 * 1024
"""What one decoder holds (its copy of the acoustic and language model)."""
MEMORY_SHARE = 8
"""Decoders take at most 1/8 of the machine's memory by default."""


def default_decoders() -> int:
    """One decoder per CPU core (decoding is CPU-bound), at most 1/8 of memory, at least 2."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    by_memory = memory // (MEMORY_SHARE * DECODER_BYTES) if memory > 0 else cores
    return max(2, min(cores, by_memory))


# 20 ms of 16 kHz PCM16: the unit audio is fed to the decoder in (see the module docstring).
_PIECE_BYTES = 2 * RECOGNITION_SAMPLE_RATE // 50

SLICE_SECONDS = 1.0
"""Most audio decoded in one worker-thread call (about 20-50 ms of CPU)."""

T = TypeVar("T")


def _new_decoder(search: SearchSettings = SEARCHES[DEFAULT_SEARCH]) -> Decoder:
    # FATAL keeps pocketsphinx's per-utterance INFO log off stderr.
    return Decoder(loglevel="FATAL", **search)


def _search(env: Mapping[str, str]) -> SearchSettings:
    name = env.get(SEARCH_ENV, DEFAULT_SEARCH)
    if name not in SEARCHES:
        raise ProviderUnavailable(
            f"{SEARCH_ENV} must be one of {', '.join(SEARCHES)}, got {name!r}"
        )
    return SEARCHES[name]


def _decoder_count(env: Mapping[str, str]) -> int:
    raw = env.get(DECODERS_ENV)
    if raw is None:
        return default_decoders()
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise ProviderUnavailable(f"{DECODERS_ENV} must be a positive integer, got {raw!r}")
    return count


class _DecoderPool:
    """Up to ``size`` decoders, built on demand in ``executor`` and reused.

    Decoding a committed utterance comes first: its waiters are served round-robin by caller
    (``CALLER``, the session), and when none is idle a decoder lent to an uncommitted utterance
    is taken back (``preempt``). An uncommitted utterance only ever gets an idle decoder nobody
    waits for (``try_acquire``). All methods run on the event loop thread; only decoder
    construction runs in the executor.
    """

    def __init__(
        self,
        size: int,
        executor: ThreadPoolExecutor,
        first: Decoder,
        search: SearchSettings = SEARCHES[DEFAULT_SEARCH],
    ) -> None:
        self.size = size
        self._executor = executor
        self._search = search
        """The settings every decoder is built with (``first`` included)."""
        self._idle: list[Decoder] = [first]
        self._created = 1
        self.built = 1
        """Decoders ever built: stays at ``size`` or below while the pool reuses them."""
        self._waiters: collections.OrderedDict[str, collections.deque[asyncio.Future[Decoder]]] = (
            collections.OrderedDict()
        )
        """Waiters by caller; the first caller is served next, then goes to the back."""
        self._builds: set[asyncio.Task[None]] = set()
        self.lent: set[_Transcription] = set()
        """Utterances holding a decoder now."""

    @property
    def created(self) -> int:
        """Decoders alive now (idle or lent out)."""
        return self._created

    def _someone_waits(self) -> bool:
        for caller, waiters in list(self._waiters.items()):
            while waiters and waiters[0].done():
                waiters.popleft()
            if waiters:
                return True
            del self._waiters[caller]
        return False

    def try_acquire(self) -> Decoder | None:
        """An idle decoder nobody waits for, or None (starting a build if the pool may grow)."""
        if self._someone_waits():
            return None
        if self._idle:
            return self._idle.pop()
        if self._created < self.size and not self._builds:
            self._start_build(asyncio.get_running_loop())
        return None

    async def acquire(self, caller: str) -> Decoder:
        """A decoder for a committed utterance: waits its caller's turn, preempting if need be."""
        if self._idle and not self._someone_waits():
            return self._idle.pop()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Decoder] = loop.create_future()
        self._waiters.setdefault(caller, collections.deque()).append(waiter)
        if self._created < self.size:
            self._start_build(loop)
        else:
            self._preempt()
        try:
            return await waiter
        except asyncio.CancelledError:
            # A decoder handed over just as the caller was cancelled goes back to the pool.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())
            raise

    def _preempt(self) -> None:
        """Ask one uncommitted utterance holding a decoder to give it back: the one that has
        heard the least, whose decoding so far (done again from its start later) costs least."""
        candidates = [u for u in self.lent if not u.ended and not u.yield_requested]
        if candidates:
            utterance = min(candidates, key=lambda candidate: candidate.heard_bytes)
            utterance.yield_requested = True
            utterance.arrived.set()

    def release(self, decoder: Decoder) -> None:
        for caller, waiters in list(self._waiters.items()):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    if waiters:
                        self._waiters.move_to_end(caller)
                    else:
                        del self._waiters[caller]
                    waiter.set_result(decoder)
                    return
            del self._waiters[caller]
        self._idle.append(decoder)

    def discard(self, decoder: Decoder) -> None:
        """Drop a decoder that failed mid-utterance; build a fresh one if someone is waiting."""
        del decoder
        self._created -= 1
        if self._someone_waits():
            self._start_build(asyncio.get_running_loop())

    def _start_build(self, loop: asyncio.AbstractEventLoop) -> None:
        # The build is its own task so that a waiter's cancellation cannot lose the decoder.
        self._created += 1
        task = loop.create_task(self._build(loop))
        self._builds.add(task)
        task.add_done_callback(self._builds.discard)

    async def _build(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            decoder = await loop.run_in_executor(self._executor, _new_decoder, self._search)
        except asyncio.CancelledError:
            self._created -= 1
            raise
        except Exception as exc:
            self._created -= 1
            self._fail_one_waiter(ProviderError(f"pocketsphinx could not load its model: {exc}"))
            return
        self.built += 1
        self.release(decoder)

    def _fail_one_waiter(self, error: ProviderError) -> None:
        for waiters in self._waiters.values():
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
                    return


class _Transcription:
    """One transcription: the audio queued for its decoder, and the decoding state.

    ``pending``/``arrived``/``ended``/``aborted`` belong to the event loop; ``feed``
    and ``abandon`` run in a worker thread, one call at a time.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.heard: list[bytes] = []
        """All the audio so far, to decode again from the start after a preemption."""
        self.heard_bytes = 0
        self.pending: list[bytes] = []
        self.arrived = asyncio.Event()
        self.ended = False
        self.aborted = False
        self.holds_decoder = False
        self.yield_requested = False
        """The pool wants the decoder back (committed work waits): decode again later."""
        self._resampler = Pcm16Resampler(sample_rate, RECOGNITION_SAMPLE_RATE)
        self._unfed = b""
        self._started = False

    def add(self, chunk: bytes) -> None:
        self.heard.append(chunk)
        self.heard_bytes += len(chunk)
        self.pending.append(chunk)
        self.arrived.set()

    def start_over(self) -> None:
        """A decoder was just lent: decode everything heard so far, from the start."""
        self._resampler = Pcm16Resampler(self.sample_rate, RECOGNITION_SAMPLE_RATE)
        self._unfed = b""
        self.pending = list(self.heard)
        self.yield_requested = False
        self.arrived.set()

    def take(self) -> tuple[list[bytes], bool]:
        """The pending audio and whether it is the last; before the commit at most
        ``SLICE_SECONDS`` of it, so that a request to give the decoder back waits for one slice,
        not for a whole minute of audio heard again."""
        if self.ended:  # committed: nobody takes the decoder back, decode it all
            chunks, self.pending = self.pending, []
            return chunks, True
        limit = int(SLICE_SECONDS * self.sample_rate) * 2
        size = 0
        for count, chunk in enumerate(self.pending):
            size += len(chunk)
            if size >= limit and count + 1 < len(self.pending):
                chunks, self.pending = self.pending[: count + 1], self.pending[count + 1 :]
                self.arrived.set()  # more to do
                return chunks, False
        chunks, self.pending = self.pending, []
        return chunks, self.ended

    def feed(self, decoder: Decoder, chunks: list[bytes], last: bool) -> str:
        """Decode ``chunks`` (whole samples); on the ``last`` call finish the utterance and return
        its text."""
        pcm = self._unfed + self._resampler.process(b"".join(chunks), last=last)
        if not self._started:
            decoder.reinit_feat()  # forget the previous utterance's normalisation (~30 us)
            decoder.start_utt()
            self._started = True
        whole = len(pcm) - len(pcm) % _PIECE_BYTES
        for offset in range(0, whole, _PIECE_BYTES):
            decoder.process_raw(pcm[offset : offset + _PIECE_BYTES], False, False)
        self._unfed = pcm[whole:]
        if not last:
            return ""
        if self._unfed:
            decoder.process_raw(self._unfed, False, False)
        self._started = False
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

    def abandon(self, decoder: Decoder) -> None:
        """Close an utterance nobody waits for, so the decoder can start the next one."""
        if self._started:
            self._started = False
            decoder.end_utt()


class LocalSpeechToText(NothingToClose):
    """Embedded pocketsphinx recogniser (US English), the server's offline default."""

    def __init__(
        self,
        max_decoders: int,
        first_decoder: Decoder,
        search: SearchSettings = SEARCHES[DEFAULT_SEARCH],
    ) -> None:
        self._executor = ThreadPoolExecutor(max_decoders, thread_name_prefix="pocketsphinx")
        self._pool = _DecoderPool(max_decoders, self._executor, first_decoder, search)
        # Decoding that outlives an abandoned transcribe call (kept referenced until done).
        self._orphans: set[asyncio.Task[str]] = set()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        max_decoders = _decoder_count(env)
        search = _search(env)
        try:
            first_decoder = _new_decoder(search)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ProviderUnavailable(
                f"pocketsphinx could not load its en-US model: {exc}"
            ) from exc
        return cls(max_decoders, first_decoder, search)

    @property
    def max_decoders(self) -> int:
        return self._pool.size

    @property
    def decoders_alive(self) -> int:
        """Decoders that exist now, idle or busy; never more than ``max_decoders``."""
        return self._pool.created

    @property
    def decoders_lent(self) -> int:
        """Decoders lent to utterances now (the rest are idle)."""
        return len(self._pool.lent)

    @property
    def decoders_built(self) -> int:
        """Decoders built since start-up: stays at ``max_decoders`` or below, as they are reused."""
        return self._pool.built

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        _check_request(request)
        utterance = _Transcription(request.sample_rate)
        decoding: asyncio.Task[str] | None = None
        finished = False
        try:
            async for chunk in WholeSamples(audio):
                utterance.add(chunk)
                if decoding is None:
                    decoding = asyncio.create_task(self._decode(utterance, CALLER.get()))
            if decoding is None:
                finished = True
                return Transcript("", LANGUAGE)
            utterance.ended = True
            utterance.arrived.set()
            text = await asyncio.shield(decoding)
            finished = True
            return Transcript(text, LANGUAGE)
        finally:
            if decoding is not None and not finished:
                self._abandon(utterance, decoding)

    async def _decode(self, utterance: _Transcription, caller: str) -> str:
        """Decode ``utterance`` while it arrives when a decoder is free, else once committed."""
        decoder: Decoder | None = None
        try:
            while True:
                if decoder is None:
                    decoder = self._pool.try_acquire()
                    if decoder is None and utterance.ended:
                        decoder = await self._pool.acquire(caller)
                    if decoder is not None:
                        self._lend(utterance, decoder)
                await utterance.arrived.wait()
                utterance.arrived.clear()
                if utterance.aborted:
                    if decoder is not None:
                        await self._in_thread(utterance.abandon, decoder)
                        self._give_back(utterance, decoder)
                    return ""
                if decoder is None:
                    continue  # not committed, no decoder free: keep listening
                if utterance.yield_requested and not utterance.ended:
                    # Committed work waits: give the decoder back, decode this one later.
                    await self._in_thread(utterance.abandon, decoder)
                    self._give_back(utterance, decoder)
                    decoder = None
                    utterance.arrived.set()  # look again (it may have ended meanwhile)
                    continue
                chunks, last = utterance.take()
                text = await self._in_thread(utterance.feed, decoder, chunks, last)
                if last:
                    self._give_back(utterance, decoder)
                    return text
        except asyncio.CancelledError:
            # Only the event loop shutting down cancels a task holding a decoder; the thread
            # may still hold it, so it is not handed out again.
            if decoder is not None:
                self._pool.lent.discard(utterance)
                self._pool.discard(decoder)
            raise
        except Exception as exc:
            if decoder is not None:
                self._pool.lent.discard(utterance)
                self._pool.discard(decoder)
            raise ProviderError(f"pocketsphinx failed: {exc}") from exc

    def _lend(self, utterance: _Transcription, decoder: Decoder) -> None:
        utterance.start_over()
        utterance.holds_decoder = True
        self._pool.lent.add(utterance)

    def _give_back(self, utterance: _Transcription, decoder: Decoder) -> None:
        utterance.holds_decoder = False
        self._pool.lent.discard(utterance)
        self._pool.release(decoder)

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def _abandon(self, utterance: _Transcription, decoding: asyncio.Task[str]) -> None:
        """The caller stopped (client gone, cancelled, iterator failed): stop without waiting."""
        if decoding.done():
            _consume_outcome(decoding)
            return
        if not utterance.holds_decoder:
            decoding.cancel()  # still queued for a decoder: the pool handles the cancellation
            return
        # A worker thread may be using the decoder right now: let the task close the
        # utterance and return the decoder itself.
        utterance.aborted = True
        utterance.arrived.set()
        self._orphans.add(decoding)
        decoding.add_done_callback(self._orphans.discard)
        decoding.add_done_callback(_consume_outcome)


def _consume_outcome(task: asyncio.Task[str]) -> None:
    # Nobody awaits an abandoned decode: retrieve its error so asyncio does not log it.
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.exception()


def _check_request(request: SttRequest) -> None:
    if request.model != MODEL_NAME:
        raise ProviderError(
            f"local speech recognition has one model, {MODEL_NAME!r}; got {request.model!r}"
        )
    if request.language.lower() not in LOCAL_STT_LANGUAGES:
        raise ProviderError(
            f"local speech recognition (pocketsphinx) only understands US English (en-US); "
            f"language {request.language!r} needs a cloud provider"
        )
    if request.sample_rate <= 0:
        raise ProviderError(f"invalid sample rate {request.sample_rate}")
