"""One conversational turn: transcript -> language model -> speech, in the session's response mode.

The language model is read in its own task while speech is produced in another, so in `chain` and
`stream` modes the first sentence is spoken while the rest of the reply is still being written.
A turn can be cancelled at any point (``Reply.run`` is one task): its provider streams are closed
with ``aclose`` on the way out, and it sends nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TypeVar

from generated.dispatch import Emitter
from generated.models import (
    ClientRole,
    CustomError,
    ErrorCode,
    OutputAudio,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseText,
    Stage,
    TtsResponseType,
)
from handlers.animation.track import ReplyTimings, Stretch
from handlers.audio import Mp3Encoder, Pcm16Resampler, resample_pcm16, wav_bytes
from handlers.deadlines import DEFAULT_DEADLINES, Deadlines, stream_within, within
from handlers.ids import new_response_id
from handlers.observability import TurnTiming
from handlers.providers.base import (
    ChatMessage,
    LlmRequest,
    PcmChunk,
    ProviderError,
    Transcript,
)
from handlers.providers.registry import ProviderRegistry
from handlers.providers.toolkit import redact
from handlers.sentences import SentenceSplitter
from handlers.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Turn:
    """A committed utterance waiting for its reply, with the settings in force at its commit."""

    session_id: str
    item_id: str
    transcription: asyncio.Task[Transcript]
    duration_ms: int
    settings: Settings
    committed_at: float = field(default_factory=time.monotonic)
    """When the utterance was committed (the turn is made then), on the monotonic clock."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the conversation history keeps of a turn that ran to its end."""

    user: str
    assistant: str


@contextlib.asynccontextmanager
async def closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close a provider's stream when its reader stops, however it stops.

    A reader cancelled while the stream waits at a ``yield`` (the reader was sending a delta)
    leaves the generator suspended; only the garbage collector would close it, later. Closing it
    here runs its ``finally`` before the turn ends, so its HTTP/gRPC request is closed at once.
    """
    try:
        yield stream
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()


class AudioEncoder:
    """PCM from the speech engine -> the session's output format and rate."""

    def __init__(self, output: OutputAudio) -> None:
        self.format = output.format.value
        self.sample_rate = output.sample_rate
        self._resamplers: dict[int, Pcm16Resampler] = {}
        self._mp3 = Mp3Encoder(self.sample_rate) if self.format == "mp3" else None
        self.samples = 0
        """Samples encoded so far, at the output rate."""

    def encode_streaming(self, chunk: PcmChunk) -> bytes:
        """One chunk of a stream: a resampler per source rate carries state across chunks."""
        resampler = self._resamplers.get(chunk.sample_rate)
        if resampler is None:
            resampler = self._resamplers[chunk.sample_rate] = Pcm16Resampler(
                chunk.sample_rate, self.sample_rate
            )
        return self._container(resampler.process(chunk.pcm))

    def encode_clip(self, chunks: Sequence[PcmChunk]) -> bytes:
        """A whole reply or sentence (one delta): resampled in one piece, so chunk joins leave
        no clicks, and in one container (WAV files glued together are not a WAV file)."""
        pcm = b"".join(
            resample_pcm16(b"".join(chunk.pcm for chunk in run), rate, self.sample_rate)
            for rate, run in itertools.groupby(chunks, key=lambda chunk: chunk.sample_rate)
        )
        return self._container(pcm)

    def finish(self) -> bytes:
        """What the encoders still hold, for the final delta."""
        tail = b"".join(r.process(b"", last=True) for r in self._resamplers.values())
        self._resamplers.clear()
        out = self._container(tail) if tail or self.format != "wav" else b""
        if self._mp3 is not None:
            out += self._mp3.flush()
        return out

    def _container(self, pcm: bytes) -> bytes:
        self.samples += len(pcm) >> 1
        if self._mp3 is not None:
            return self._mp3.encode(pcm) if pcm else b""
        if self.format == "wav":
            return wav_bytes(pcm, self.sample_rate)
        return pcm


@dataclass(frozen=True, slots=True)
class StreamPacing:
    """When a streamed reply's chunks go out: each at once while the Receiver has little audio
    queued (first audio is never held back), else merged into deltas of at most ``hold_ms`` (or
    one chunk, if longer).

    Providers stream in pieces of their own choosing (tens of ms of audio at times); every delta
    costs the server an emit, its timings and a websocket frame per Receiver, and the Receiver a
    message. A Receiver that has more than ``low_water_ms`` queued loses nothing when the next
    ``hold_ms`` come as one delta. Its queue is estimated from the audio sent, as played in real
    time from the first delta on.
    """

    hold_ms: float = 200.0
    low_water_ms: float = 400.0
    clock: Callable[[], float] = time.monotonic

    def holds(self, held: Sequence[PcmChunk], sent_ms: int, first_audio_at: float | None) -> bool:
        """Whether to keep ``held`` (the chunks not sent yet) for the next delta."""
        if first_audio_at is None:
            return False
        queued_ms = sent_ms - (self.clock() - first_audio_at) * 1000
        if queued_ms < self.low_water_ms:
            return False
        held_ms = [len(c.pcm) // 2 * 1000 / c.sample_rate for c in held]
        # Held while the next chunk, if as long as the last, still fits in ``hold_ms``.
        return sum(held_ms) + held_ms[-1] <= self.hold_ms


def merged(chunks: Sequence[PcmChunk]) -> list[PcmChunk]:
    """Consecutive chunks of one sample rate joined into one, with the last timeline among them
    (a chunk's timeline covers its ``synthesize`` call's audio so far)."""
    pieces: list[PcmChunk] = []
    for rate, run in itertools.groupby(chunks, key=lambda chunk: chunk.sample_rate):
        group = list(run)
        timeline = next((c.timeline for c in reversed(group) if c.timeline is not None), None)
        pcm = group[0].pcm if len(group) == 1 else b"".join(c.pcm for c in group)
        pieces.append(PcmChunk(pcm, rate, timeline))
    return pieces


class Reply:
    """A turn being run: its transcript, then the language model's reply, spoken as it is
    written (``run``), and what of the reply has gone out so far.

    What the Receivers were sent (``sequence``, ``audio_samples``, ``spoken``) is counted before
    each delta is handed to Socket.IO: the hand-over happens before the emit's first suspension,
    so a turn cancelled during an emit has sent that delta, and the counts say exactly what went.
    """

    def __init__(
        self,
        turn: Turn,
        registry: ProviderRegistry,
        emitter: Emitter,
        deadlines: Deadlines = DEFAULT_DEADLINES,
        on_delta: DeltaHook | None = None,
    ) -> None:
        self.turn = turn
        self.deadlines = deadlines
        self.registry = registry
        self.emitter = emitter
        self.on_delta = on_delta
        """Told of each delta as it is handed over (turn taking: playback and echo tracking)."""
        self.response_id = new_response_id()
        self.transcript: str | None = None
        """What the user said, once recognised."""
        self.sequence = 0
        """The next delta's sequence: as many deltas have been sent."""
        self.final_sent = False
        self.audio_samples = 0
        """Samples (at the output rate) of the audio sent."""
        self.spoken: list[str] = []
        """The text of each delta sent with text: the sentences whose audio has started."""
        self.encoder = AudioEncoder(turn.settings.output_audio)
        tts, tts_mode = turn.settings.tts_request(), turn.settings.tts.response_type
        self.timings = ReplyTimings(
            turn.settings.animation, turn.settings.tts.provider.value, tts.speed
        )
        """Visemes and words per delta (handlers.animation.track)."""
        self.tts_request = dataclasses.replace(tts, timings=self.timings.wanted(tts_mode))
        self.timing = TurnTiming(turn, self.response_id)
        self.pacing = StreamPacing()

    @property
    def audio_sent_ms(self) -> int:
        return self.audio_samples * 1000 // self.encoder.sample_rate

    @property
    def word_timeline(self) -> list[tuple[str, float, float]]:
        """The words of the audio synthesised so far as (text, start_ms, end_ms) on the
        response's clock (ms from its first sample); empty when the session's animation is off.
        Each text runs up to the next word, so the texts joined are the text spoken."""
        return [(w.text, w.start_ms, w.end_ms) for w in self.timings.word_spans]

    def words_heard_until(self, ms: float) -> str:
        """The reply's text whose words had started to sound ``ms`` into its audio."""
        return "".join(w.text for w in self.timings.word_spans if w.start_ms < ms).strip()

    async def run(self, history: Iterable[ChatMessage]) -> Exchange | None:
        """Run the turn; ``history`` is read when the language model is asked. Returns what the
        history keeps of it, or None when there is no reply (nothing heard, a stage failed)."""
        turn, stt = self.turn, self.turn.settings.stt
        try:
            transcript = await within(
                turn.transcription, self.deadlines.stt_s, f"{stt.provider.value} recognition"
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report(Stage.STT, stt.provider.value, exc)
            return None
        self.transcript = transcript.text
        self.timing.transcribed(transcript.text)
        await self.emitter.request_transcribe_done(
            turn.session_id,
            RequestTranscribeDone(
                item_id=turn.item_id,
                text=transcript.text,
                language=transcript.language or stt.language,
                duration_ms=turn.duration_ms,
                provider=stt.provider,
                model=stt.model,
            ),
        )
        if not transcript.text.strip():
            return None
        reply = await self._respond(turn.settings.llm_request(history, transcript.text))
        return None if reply is None else Exchange(transcript.text, reply)

    async def _report(self, stage: Stage, provider: str, exc: BaseException) -> None:
        self.timing.failed("provider_error")
        if isinstance(exc, ProviderError):
            # Redacted here too: an adapter's message may quote an upstream body verbatim.
            message = redact(f"{provider} {stage} failed: {exc}")
        else:
            log.error("%s %s provider crashed", provider, stage, exc_info=exc)
            message = f"{provider} {stage} failed unexpectedly ({type(exc).__name__})"
        await self.emitter.custom_error(
            Emitter.room(self.turn.session_id, ClientRole.SENDER),
            CustomError(
                code=ErrorCode.PROVIDER_ERROR,
                message=message,
                item_id=self.turn.item_id,
                stage=stage,
                provider=provider,
            ),
        )

    async def _respond(self, request: LlmRequest) -> str | None:
        """Write the reply and speak it; return its text, or None when the model failed."""
        mode = self.turn.settings.tts.response_type
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        # The group ends the writer with the turn: a cancelled turn waits for its model stream.
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(
                self._write(request, sentences, split=mode != TtsResponseType.SINGLE)
            )
            if mode == TtsResponseType.SINGLE:
                reply = await writer
                if reply is not None:
                    await self._guard(self._speak_single(reply))
            elif mode == TtsResponseType.CHAIN:
                await self._speak_chain(sentences)
            else:
                await self._speak_stream(sentences)
        reply = writer.result()
        if reply is not None or self.sequence:
            await self.end_response()
        return reply

    async def _write(
        self, request: LlmRequest, sentences: asyncio.Queue[str | None], *, split: bool
    ) -> str | None:
        """Read the model's reply, queue its sentences, and send the whole text when done."""
        provider = self.turn.settings.llm.provider.value
        splitter = SentenceSplitter()
        parts: list[str] = []
        try:
            reply_stream = stream_within(
                self.registry.llm(provider).respond(request),
                self.deadlines.llm_s,
                f"{provider} language model reply",
            )
            async with closing(reply_stream) as deltas:
                async for delta in deltas:
                    self.timing.first_token()
                    parts.append(delta)
                    if split:
                        for sentence in splitter.feed(delta):
                            sentences.put_nowait(sentence)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report(Stage.LLM, provider, exc)
            return None
        finally:
            if split and (rest := splitter.flush()):
                sentences.put_nowait(rest)
            sentences.put_nowait(None)
        reply = "".join(parts).strip()
        await self.emitter.response_text(
            self.turn.session_id,
            ResponseText(response_id=self.response_id, item_id=self.turn.item_id, text=reply),
        )
        return reply

    def _synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        provider = self.turn.settings.tts.provider.value
        self.timing.synthesizing()
        speech = self.registry.tts(provider).synthesize(text, self.tts_request)
        return stream_within(speech, self.deadlines.tts_s, f"{provider} speech synthesis")

    async def _synthesize_all(self, text: str) -> list[PcmChunk]:
        async with closing(self._synthesize(text)) as chunks:
            return [chunk async for chunk in chunks]

    async def _guard(self, speaking: Awaitable[None]) -> bool:
        """Await a speech step; report a failure and return False."""
        try:
            await speaking
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report(Stage.TTS, self.turn.settings.tts.provider.value, exc)
            return False
        return True

    async def _delta(self, audio: bytes, text: str | None, *, final: bool) -> None:
        output = self.turn.settings.output_audio
        samples = self.encoder.samples - self.audio_samples
        visemes, words, timing_source = self.timings.take(samples, output.sample_rate)
        payload = ResponseAudioDelta(
            response_id=self.response_id,
            item_id=self.turn.item_id,
            sequence=self.sequence,
            audio=audio,
            format=output.format,
            sample_rate=output.sample_rate,
            text=text,
            final=final,
            visemes=visemes,
            words=words,
            timing_source=timing_source,
        )
        # Counted before the emit (see the class): a cancel during it finds the delta counted.
        self.sequence += 1
        self.final_sent = final
        self.audio_samples = self.encoder.samples
        if text is not None:
            self.spoken.append(text)
        if audio:
            self.timing.audio_sent()
        if self.on_delta is not None:
            self.on_delta(self, payload)
        await self.emitter.response_audio_delta(self.turn.session_id, payload)

    async def _speak_single(self, reply: str) -> None:
        """One delta with the whole reply."""
        chunks: list[PcmChunk] = []
        if reply:
            async with self.timings.stretch(reply) as stretch:
                chunks = await self._synthesize_all(reply)
                await stretch.add_clip(chunks)
        audio = self.encoder.encode_clip(chunks) if chunks else b""
        await self._delta(audio + self.encoder.finish(), reply, final=True)

    async def _sentence_audio(self, sentence: str, into: list[bytes]) -> None:
        async with self.timings.stretch(sentence) as stretch:
            chunks = await self._synthesize_all(sentence)
            await stretch.add_clip(chunks)
        if chunks:
            into.append(self.encoder.encode_clip(chunks))

    async def _speak_chain(self, sentences: asyncio.Queue[str | None]) -> None:
        """One delta per sentence. ``final`` goes on the last sentence when the model has ended
        by the time it is spoken; otherwise ``end_response`` closes the response with an empty
        delta."""
        sentence = await sentences.get()
        while sentence is not None:
            audio: list[bytes] = []
            if not await self._guard(self._sentence_audio(sentence, audio)):
                return
            following: str | object | None = (
                _UNKNOWN if sentences.empty() else sentences.get_nowait()
            )
            final = following is None
            tail = self.encoder.finish() if final else b""
            await self._delta(b"".join(audio) + tail, sentence, final=final)
            if final:
                return
            sentence = following if isinstance(following, str) else await sentences.get()

    async def _stream_sentence(self, sentence: str) -> None:
        text: str | None = sentence
        held: list[PcmChunk] = []
        async with (
            self.timings.stretch(sentence) as stretch,
            closing(self._synthesize(sentence)) as chunks,
        ):
            async for chunk in chunks:
                held.append(chunk)
                if not self.pacing.holds(held, self.audio_sent_ms, self.timing.first_audio_at):
                    text = await self._send_held(stretch, held, text)
            await self._send_held(stretch, held, text)

    async def _send_held(
        self, stretch: Stretch, held: list[PcmChunk], text: str | None
    ) -> str | None:
        """The chunks held so far as one delta (one per sample rate); the text not sent yet."""
        for piece in merged(held):
            await stretch.add(piece)  # its marks, before the delta that carries it
            audio = self.encoder.encode_streaming(piece)
            if audio:
                await self._delta(audio, text, final=False)
                text = None
        held.clear()
        return text

    async def _speak_stream(self, sentences: asyncio.Queue[str | None]) -> None:
        """Audio chunks as the engine yields them; the first chunk of a sentence carries its text.
        The response ends with a final delta holding what the resampler and encoder still hold."""
        while (sentence := await sentences.get()) is not None:
            if not await self._guard(self._stream_sentence(sentence)):
                return

    async def end_response(self) -> None:
        """Close the response with a final delta unless the last one was final (also once the
        turn was stopped by its deadline: the Receivers learn that nothing more follows)."""
        if not self.final_sent:
            await self._delta(self.encoder.finish(), None, final=True)


DeltaHook = Callable[[Reply, ResponseAudioDelta], None]
"""Called with each delta of a reply just before it is emitted."""

# Marks "the model is still writing": whether another sentence follows is not known yet.
_UNKNOWN = object()
