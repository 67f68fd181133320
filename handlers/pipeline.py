"""One conversational turn: transcript -> language model -> speech, in the session's response mode.

The language model is read in its own task while speech is produced in another, so in `chain` and
`stream` modes the first sentence is spoken while the rest of the reply is still being written.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass

from generated.dispatch import Emitter
from generated.models import (
    ClientRole,
    CustomError,
    ErrorCode,
    LlmSettings,
    OutputAudio,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseText,
    Stage,
    SttSettings,
    TtsResponseType,
    TtsSettings,
)
from handlers.audio import Mp3Encoder, Pcm16Resampler, resample_pcm16, wav_bytes
from handlers.providers.base import (
    ChatMessage,
    LlmRequest,
    PcmChunk,
    ProviderError,
    Transcript,
    TtsRequest,
)
from handlers.providers.registry import ProviderRegistry
from handlers.sentences import SentenceSplitter
from handlers.utterance import new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Turn:
    """A committed utterance waiting for its reply, with the settings in force at its commit."""

    session_id: str
    item_id: str
    transcription: asyncio.Task[Transcript]
    duration_ms: int
    stt: SttSettings
    llm: LlmSettings
    tts: TtsSettings
    output: OutputAudio


class TurnFailed(Exception):
    """A stage failed and its error has been reported to the Sender."""


class AudioEncoder:
    """PCM from the speech engine -> the session's output format and rate."""

    def __init__(self, output: OutputAudio) -> None:
        self.format = output.format.value
        self.sample_rate = output.sample_rate
        self._resamplers: dict[int, Pcm16Resampler] = {}
        self._mp3 = Mp3Encoder(self.sample_rate) if self.format == "mp3" else None

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
        if self._mp3 is not None:
            return self._mp3.encode(pcm) if pcm else b""
        if self.format == "wav":
            return wav_bytes(pcm, self.sample_rate)
        return pcm


class TurnRunner:
    """Runs turns for every session of this server; holds no per-session state."""

    def __init__(self, registry: ProviderRegistry, emitter: Emitter) -> None:
        self.registry = registry
        self.emitter = emitter

    async def report(self, turn: Turn, stage: str, provider: str, exc: BaseException) -> None:
        if isinstance(exc, ProviderError):
            message = f"{provider} {stage} failed: {exc}"
        else:
            log.error("%s %s provider crashed", provider, stage, exc_info=exc)
            message = f"{provider} {stage} failed unexpectedly ({type(exc).__name__})"
        await self.emitter.custom_error(
            Emitter.room(turn.session_id, ClientRole.SENDER),
            CustomError(
                code=ErrorCode.PROVIDER_ERROR,
                message=message,
                item_id=turn.item_id,
                stage=Stage(stage),
                provider=provider,
            ),
        )

    async def run(self, turn: Turn, history: list[ChatMessage]) -> str | None:
        """Run ``turn``; return the reply text (for the history), or None when there is none."""
        try:
            transcript = await turn.transcription
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.report(turn, "stt", turn.stt.provider.value, exc)
            return None
        await self.emitter.request_transcribe_done(
            turn.session_id,
            RequestTranscribeDone(
                item_id=turn.item_id,
                text=transcript.text,
                language=transcript.language or turn.stt.language,
                duration_ms=turn.duration_ms,
                provider=turn.stt.provider,
                model=turn.stt.model,
            ),
        )
        if not transcript.text.strip():
            return None
        request = LlmRequest(
            model=turn.llm.model,
            instructions=turn.llm.instructions,
            messages=(*history, ChatMessage("user", transcript.text)),
            temperature=turn.llm.temperature,
            max_output_tokens=turn.llm.max_output_tokens,
        )
        return await Reply(self, turn, request).run()


class Reply:
    """The language model's answer to one turn, spoken as it is written."""

    def __init__(self, runner: TurnRunner, turn: Turn, request: LlmRequest) -> None:
        self.runner = runner
        self.turn = turn
        self.request = request
        self.response_id = new_id("resp")
        self.sequence = 0
        self.final_sent = False
        self.encoder = AudioEncoder(turn.output)
        self.tts_request = TtsRequest(
            model=turn.tts.model,
            voice=turn.tts.voice,
            language=turn.tts.language,
            ssml_gender=turn.tts.ssml_gender.value,
            speed=turn.tts.speed,
            sample_rate=turn.output.sample_rate,
        )

    async def run(self) -> str | None:
        mode = self.turn.tts.response_type
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        split = mode != TtsResponseType.SINGLE
        writer = asyncio.create_task(self._write(sentences, split=split))
        try:
            if mode == TtsResponseType.SINGLE:
                reply = await writer
                if reply is not None:
                    await self._guard(self._speak_single(reply))
            elif mode == TtsResponseType.CHAIN:
                await self._speak_chain(sentences)
            else:
                await self._speak_stream(sentences)
            reply = await writer
        except asyncio.CancelledError:
            writer.cancel()
            raise
        if reply is not None or self.sequence:
            await self._end()
        return reply

    async def _write(self, sentences: asyncio.Queue[str | None], *, split: bool) -> str | None:
        """Read the model's reply, queue its sentences, and send the whole text when done."""
        provider = self.turn.llm.provider.value
        splitter = SentenceSplitter()
        parts: list[str] = []
        try:
            async for delta in self.runner.registry.llm(provider).respond(self.request):
                parts.append(delta)
                if split:
                    for sentence in splitter.feed(delta):
                        sentences.put_nowait(sentence)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.runner.report(self.turn, "llm", provider, exc)
            return None
        finally:
            if split and (rest := splitter.flush()):
                sentences.put_nowait(rest)
            sentences.put_nowait(None)
        reply = "".join(parts).strip()
        await self.runner.emitter.response_text(
            self.turn.session_id,
            ResponseText(response_id=self.response_id, item_id=self.turn.item_id, text=reply),
        )
        return reply

    def _synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        tts = self.runner.registry.tts(self.turn.tts.provider.value)
        return tts.synthesize(text, self.tts_request)

    async def _guard(self, speaking: Awaitable[None]) -> bool:
        """Await a speech step; report a failure and return False."""
        try:
            await speaking
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.runner.report(self.turn, "tts", self.turn.tts.provider.value, exc)
            return False
        return True

    async def _delta(self, audio: bytes, text: str | None, *, final: bool) -> None:
        await self.runner.emitter.response_audio_delta(
            self.turn.session_id,
            ResponseAudioDelta(
                response_id=self.response_id,
                item_id=self.turn.item_id,
                sequence=self.sequence,
                audio=audio,
                format=self.turn.output.format,
                sample_rate=self.turn.output.sample_rate,
                text=text,
                final=final,
            ),
        )
        self.sequence += 1
        self.final_sent = final

    async def _speak_single(self, reply: str) -> None:
        """One delta with the whole reply."""
        chunks = [chunk async for chunk in self._synthesize(reply)] if reply else []
        audio = self.encoder.encode_clip(chunks) if chunks else b""
        await self._delta(audio + self.encoder.finish(), reply, final=True)

    async def _sentence_audio(self, sentence: str, into: list[bytes]) -> None:
        chunks = [chunk async for chunk in self._synthesize(sentence)]
        if chunks:
            into.append(self.encoder.encode_clip(chunks))

    async def _speak_chain(self, sentences: asyncio.Queue[str | None]) -> None:
        """One delta per sentence. ``final`` goes on the last sentence when the model has ended
        by the time it is spoken; otherwise ``_end`` closes the response with an empty delta."""
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
        async for chunk in self._synthesize(sentence):
            audio = self.encoder.encode_streaming(chunk)
            if audio:
                await self._delta(audio, text, final=False)
                text = None

    async def _speak_stream(self, sentences: asyncio.Queue[str | None]) -> None:
        """Audio chunks as the engine yields them; the first chunk of a sentence carries its text.
        The response ends with a final delta holding what the resampler and encoder still hold."""
        while (sentence := await sentences.get()) is not None:
            if not await self._guard(self._stream_sentence(sentence)):
                return

    async def _end(self) -> None:
        """Close the response with a final delta unless the last one was final."""
        if not self.final_sent:
            await self._delta(self.encoder.finish(), None, final=True)


# Marks "the model is still writing": whether another sentence follows is not known yet.
_UNKNOWN = object()
