"""Silero VAD for many streams at once: one worker thread, one batched model call per frame step.

The event loop only moves bytes: ``VadStream.push`` appends a PCM16 chunk to the stream's inbox
and, if the stream was not already queued, queues it and wakes the worker (about a microsecond).
The worker thread takes every queued stream's new audio, converts it to float frames of 32 ms at
the model's rate (resampling rates other than 8 and 16 kHz to 16 kHz), stacks frame k of every
stream that has one into one batch (each stream's LSTM state and 64-sample context stacked
alongside), runs the model once per batch, and feeds each stream's probabilities, in order, to
its echo guard and turn detector. Only the rare turn events go back to the event loop, through
``loop.call_soon_threadsafe``. Batching is what lets one core hold hundreds of real-time streams:
the model costs about 400 us for one frame alone and about 55 us a frame in a batch of 64.

The worker runs at most one pass per ``tick_s`` (10 ms by default), so batches fill up while it
sleeps; that adds at most ``tick_s`` to a decision that waits for 500 ms of silence anyway.
onnxruntime releases the GIL while it computes, so the event loop keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from handlers.vad.echo import EchoGuard
from handlers.vad.turns import TurnDetector, TurnEvent, TurnSettings

MODEL_PATH = Path(__file__).resolve().parent / "data" / "silero_vad.onnx"
log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
EventSink = Callable[[list[TurnEvent]], None]


@dataclass(frozen=True, slots=True)
class ModelRate:
    """How the model takes audio at one of its two native rates."""

    rate: int
    frame: int
    context: int


NATIVE_RATES = {16000: ModelRate(16000, 512, 64), 8000: ModelRate(8000, 256, 32)}
STATE_SIZE = 128


@dataclass(slots=True)
class _Work:
    """One stream's whole frames for this pass, and the probabilities the model gives them."""

    stream: VadStream
    frames: FloatArray
    probabilities: list[float] = field(default_factory=list)


class VadStream:
    """One Sender's input audio under VAD. Push PCM16 from the event loop; events come back there.

    The event loop calls ``push``, ``configure``, ``reset_turn``, ``close`` and reads
    ``pushed_ms`` and ``speaking``; ``guard`` has its own loop-side methods; the rest belongs to
    the worker thread.
    """

    def __init__(
        self,
        engine: VadEngine,
        sample_rate: int,
        settings: TurnSettings,
        on_events: EventSink,
        loop: asyncio.AbstractEventLoop | None,
        guard: EchoGuard | None,
    ) -> None:
        self.engine = engine
        self.sample_rate = sample_rate
        self.model_rate = NATIVE_RATES.get(sample_rate, NATIVE_RATES[16000])
        self.detector = TurnDetector(settings)
        self.guard = guard
        """Optional echo guard; its reference audio is fed from the event loop (see EchoGuard)."""
        if guard is not None:
            guard.set_rate(self.model_rate.rate)
        self.probabilities: list[float] | None = None
        """Set to a list to record every frame's raw probability (tests and benchmarks)."""
        self.decided_ms = 0
        """Stream time up to which the worker has decided, set after the events of those frames
        were handed to ``on_events``: a reader that sees it also sees their delivery begun."""
        self._on_events = on_events
        self._loop = loop
        self._inbox: deque[bytes] = deque()
        self._queued = False
        self._closed = False
        self._pending_settings: TurnSettings | None = None
        self._reset_pending = False
        self._pushed_bytes = 0
        self._resampler = (
            None
            if sample_rate in NATIVE_RATES
            else soxr.ResampleStream(sample_rate, 16000, 1, dtype="float32", quality="MQ")
        )
        self._samples: FloatArray = np.zeros(0, dtype=np.float32)
        """Resampled audio short of a whole frame (rates the model does not take)."""
        self._partial = b""
        """PCM16 short of a whole frame (native rates): kept as bytes, so that a pass that
        completes no frame of this stream (a 20 ms append is most of a 32 ms frame) costs no
        numpy at all."""
        self.context: FloatArray = np.zeros(self.model_rate.context, dtype=np.float32)
        self.state: FloatArray = np.zeros((2, STATE_SIZE), dtype=np.float32)

    # -- event loop side -------------------------------------------------------------------------

    def push(self, pcm: bytes) -> None:
        """Queue PCM16 LE mono at ``sample_rate`` for the worker (cheap: no numpy here)."""
        if self._closed or not pcm:
            return
        self._pushed_bytes += len(pcm)
        self._inbox.append(pcm)
        if not self._queued:
            self._queued = True
            self.engine._enqueue(self)

    def configure(self, settings: TurnSettings) -> None:
        """New turn parameters, applied by the worker before its next frame of this stream."""
        self._pending_settings = settings

    def reset_turn(self) -> None:
        """Drop the turn in progress (the Sender committed by hand, or turn detection went off);
        applied by the worker before its next frame of this stream."""
        self._reset_pending = True

    @property
    def pushed_ms(self) -> int:
        """Input audio time of the end of what was pushed: the timeline of the turn events (and
        of ``EchoGuard.play``). Turn events lag it by the worker's delay."""
        return self._pushed_bytes // 2 * 1000 // self.sample_rate

    @property
    def speaking(self) -> bool:
        """A turn has started and not ended, as of the last frame the worker ran."""
        return self.detector.speaking

    def close(self) -> None:
        """Stop: audio pushed later is ignored and no more events are sent."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # -- worker side -----------------------------------------------------------------------------

    def _take_frames(self) -> FloatArray:
        """Move the inbox into float samples; return the whole frames, keeping the rest."""
        self._queued = False
        chunks: list[bytes] = []
        while self._inbox:
            chunks.append(self._inbox.popleft())
        if not chunks:
            return np.zeros((0, self.model_rate.frame), dtype=np.float32)
        pcm = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        frame = self.model_rate.frame
        if self._resampler is None:
            pcm = self._partial + pcm if self._partial else pcm
            whole_bytes = len(pcm) // (2 * frame) * (2 * frame)
            self._partial = pcm[whole_bytes:]
            if not whole_bytes:
                return np.zeros((0, frame), dtype=np.float32)
            whole_pcm = np.frombuffer(pcm, dtype="<i2", count=whole_bytes // 2)
            return (whole_pcm.astype(np.float32) / 32768.0).reshape(-1, frame)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        samples = np.asarray(self._resampler.resample_chunk(samples), dtype=np.float32)
        if self._samples.size:
            samples = np.concatenate((self._samples, samples))
        whole = samples.size // frame * frame
        self._samples = samples[whole:].copy()
        return samples[:whole].reshape(-1, frame)

    def _decide(self, frames: FloatArray, probabilities: Sequence[float]) -> None:
        """Run the frames' probabilities through the echo guard and the turn detector."""
        if self._pending_settings is not None:
            self.detector.configure(self._pending_settings)
            self._pending_settings = None
        if self._reset_pending:
            self._reset_pending = False
            self.detector.reset()
        if self.probabilities is not None:
            self.probabilities.extend(probabilities)
        events: list[TurnEvent] = []
        if self.guard is None:
            for probability in probabilities:
                events.extend(self.detector.update(probability))
        else:
            for gated in self.guard.gate(self.detector.frames, frames, probabilities):
                events.extend(self.detector.update(gated))
        if events and not self._closed:
            if self._loop is None:
                self._on_events(events)
            else:
                self._loop.call_soon_threadsafe(self._on_events, events)
        self.decided_ms = self.detector.now_ms


class VadEngine:
    """Silero VAD over many ``VadStream`` s, batched, on one worker thread (``start``).

    Without ``start``, ``process_pending`` runs a pass on the caller's thread: tests use that to
    get the exact same decisions without timing.
    """

    def __init__(
        self, model_path: Path = MODEL_PATH, *, max_batch: int = 512, tick_s: float = 0.01
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One core's worth: the batch is the parallelism, and the event loop needs the other core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Errors only: the model's unused initializers are reported as warnings on every load.
        options.log_severity_level = 3
        self._model = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.max_batch = max_batch
        self.tick_s = tick_s
        self._queue: deque[VadStream] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.frames_processed = 0
        self.model_calls = 0
        self.worker_cpu_s = 0.0
        """CPU time the worker thread has spent in passes (for metrics: VAD cost per session)."""

    def open_stream(
        self,
        sample_rate: int,
        on_events: EventSink,
        *,
        settings: TurnSettings | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        guard: EchoGuard | None = None,
    ) -> VadStream:
        """A new stream; ``on_events`` gets its turn events on ``loop`` (or on the worker thread
        when ``loop`` is None)."""
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        return VadStream(self, sample_rate, settings or TurnSettings(), on_events, loop, guard)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="silero-vad", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the worker thread (after its current pass)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _enqueue(self, stream: VadStream) -> None:
        self._queue.append(stream)
        # Event.set takes a lock and notifies: skip it when the worker is already woken. It
        # clears the event before it drains the queue, so a stream appended before this check
        # is taken by the pass that follows the clear.
        if not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                self.process_pending()
            except Exception:
                # A failed model call must not end VAD for every session: log it and carry on.
                log.exception("VAD pass failed")
            if self._queue:
                self._wake.set()
            self.worker_cpu_s += time.thread_time() - cpu
            rest = self.tick_s - (time.perf_counter() - started)
            if rest > 0:
                time.sleep(rest)

    def process_pending(self) -> int:
        """One pass over every queued stream's new audio; returns how many frames it ran."""
        work: list[_Work] = []
        # Only the streams queued when the pass began: a push meanwhile queues its stream again,
        # and taking it twice in one pass would run two rows of it from the same LSTM state.
        for _ in range(len(self._queue)):
            stream = self._queue.popleft()
            if stream.closed:
                continue
            try:
                frames = stream._take_frames()
            except Exception:
                self._drop(stream)
                continue
            if len(frames):
                work.append(_Work(stream, frames))
        for rate in NATIVE_RATES.values():
            self._infer([item for item in work if item.stream.model_rate is rate], rate)
        for item in work:
            try:
                item.stream._decide(item.frames, item.probabilities)
            except Exception:
                self._drop(item.stream)
        return sum(len(item.frames) for item in work)

    @staticmethod
    def _drop(stream: VadStream) -> None:
        """One stream's failure (its audio, its callback) ends that stream, not the others."""
        log.exception("VAD stream failed; closing it")
        stream.close()

    def _infer(self, work: list[_Work], rate: ModelRate) -> None:
        """Step k runs frame k of every stream that has one, as one batch (state is sequential)."""
        steps = max((len(item.frames) for item in work), default=0)
        for step in range(steps):
            rows = [item for item in work if len(item.frames) > step]
            for first in range(0, len(rows), self.max_batch):
                self._run_batch(rows[first : first + self.max_batch], step, rate)

    def _run_batch(self, rows: list[_Work], step: int, rate: ModelRate) -> None:
        batch = len(rows)
        inputs = np.empty((batch, rate.context + rate.frame), dtype=np.float32)
        states = np.empty((2, batch, STATE_SIZE), dtype=np.float32)
        for row, item in enumerate(rows):
            inputs[row, : rate.context] = item.stream.context
            inputs[row, rate.context :] = item.frames[step]
            states[:, row, :] = item.stream.state
        output, new_states = self._model.run(
            None, {"input": inputs, "state": states, "sr": np.array(rate.rate, dtype=np.int64)}
        )
        probabilities = np.asarray(output, dtype=np.float32).reshape(batch).tolist()
        new_states = np.asarray(new_states, dtype=np.float32)
        for row, item in enumerate(rows):
            item.stream.context = inputs[row, -rate.context :].copy()
            item.stream.state = new_states[:, row, :].copy()
            item.probabilities.append(probabilities[row])
        self.frames_processed += batch
        self.model_calls += 1
