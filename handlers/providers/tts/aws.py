"""Amazon Polly text to speech: ``synthesize_speech`` asked for raw PCM16 at 16 kHz, streamed.

The audio body is read in a worker thread (boto3 is synchronous) and each 100 ms
chunk is handed to the event loop as it arrives, so playback starts before Polly
has finished.

Engine (the session's ``ttsAwsModel``): ``standard``, ``neural``, ``generative``,
``long-form``, or ``default`` (also an empty model): neural where the voice has it,
else standard. An explicit engine the voice cannot do fails with a non-transient
ProviderError (Polly answers ``EngineNotSupportedException``).

Timings (``request.timings``): Polly's speech marks (``viseme`` and ``word``, JSON lines with
times in ms and byte offsets into the text) come from a second ``SynthesizeSpeech`` request with
``OutputFormat=json`` and the same text, voice and engine, made while the audio streams: it
starts once the first chunk has been handed on, so first audio waits for nothing (not even the
second request's signing, which is interpreter time). Once the marks are in, every chunk carries
them (``PcmChunk.timeline``); chunks before that carry none and the server estimates for them. Polly
has no speech marks for the generative engine, and a text cut into several requests gets none
either (the server estimates): marks stay optional, a failed marks request never fails the audio.

Not used: ``request.speed`` (Polly changes rate only through SSML ``<prosody>``; the
text is sent as plain text) and ``request.language`` (only bilingual voices take a
LanguageCode, and a wrong one is an error).

Environment: see ``handlers.providers.aws_common``; the endpoint override is
``AWS_ENDPOINT_URL_POLLY`` (else ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

from generated.catalog import TTS
from handlers.animation.providers import polly_timeline
from handlers.animation.timeline import Timeline, samples_to_ms
from handlers.audio import WholeSamples
from handlers.providers.aws_common import Boto3Provider, botocore_error, client_error_code
from handlers.providers.base import PcmChunk, ProviderError, TtsRequest
from handlers.providers.toolkit import default_voice, iterate_in_thread

log = logging.getLogger(__name__)

SYNTHESIS_SAMPLE_RATE = 16000
"""Polly's highest PCM rate (it offers 8000 and 16000 Hz for ``pcm``)."""
CHUNK_BYTES = 3200
"""100 ms of 16 kHz PCM16: small enough to start playback early."""
MAX_REQUEST_CHARS = 3000
"""Polly bills and accepts at most 3000 characters of text per SynthesizeSpeech call."""
DEFAULT_VOICE = default_voice("aws")
DEFAULT_ENGINE = TTS["aws"].default_model
"""``default``: neural where the voice has it, else standard."""
ENGINES = ("standard", "neural", "generative", "long-form")
SPEECH_MARK_ENGINES = frozenset({"standard", "neural", "long-form"})
"""Polly's docs: speech marks are available with these engines (not generative)."""
SPEECH_MARK_TYPES = ["viseme", "word"]

# Which of the contract's voices have a neural engine (Polly's voice list, docs
# "Available voices"); "default" picks neural for these and standard for the rest.
# fmt: off
NEURAL_VOICES = frozenset(
    (
        "Adriano", "Amy", "Andres", "Aria", "Arlet", "Arthur", "Ayanda", "Bianca", "Brian",
        "Camila", "Daniel", "Danielle", "Elin", "Emma", "Gabrielle", "Gregory", "Hala", "Hannah",
        "Hiujin", "Ida", "Ines", "Isabelle", "Ivy", "Joanna", "Joey", "Justin", "Kajal", "Kazuha",
        "Kendra", "Kevin", "Kimberly", "Laura", "Lea", "Liam", "Lisa", "Lucia", "Lupe", "Matthew",
        "Mia", "Niamh", "Ola", "Olivia", "Pedro", "Remi", "Ruth", "Salli", "Seoyeon", "Sergio",
        "Sofie", "Stephen", "Suvi", "Takumi", "Thiago", "Tomoko", "Vicki", "Vitoria", "Zayd",
        "Zhiyu",
    )
)
STANDARD_ONLY_VOICES = frozenset(
    (
        "Aditi", "Astrid", "Carla", "Carmen", "Celine", "Chantal", "Conchita", "Cristiano", "Dora",
        "Enrique", "Ewa", "Filiz", "Geraint", "Giorgio", "Gwyneth", "Hans", "Jacek", "Jan", "Karl",
        "Liv", "Lotte", "Mads", "Maja", "Marlene", "Mathieu", "Maxim", "Miguel", "Mizuki", "Naja",
        "Nicole", "Penelope", "Raveena", "Ricardo", "Ruben", "Russell", "Tatyana", "Zeina",
    )
)
# fmt: on


def choose_engine(model: str, voice: str) -> tuple[str, bool]:
    """The engine to ask for, and whether standard may be tried if Polly refuses it.

    The fallback is only for ``default`` with a voice this table does not know yet.
    """
    engine = (model or DEFAULT_ENGINE).strip().lower()
    if engine == DEFAULT_ENGINE:
        if voice in NEURAL_VOICES:
            return "neural", False
        if voice in STANDARD_ONLY_VOICES:
            return "standard", False
        return "neural", True
    if engine in ENGINES:
        return engine, False
    raise ProviderError(
        f"unknown Polly engine {model!r}: use default, " + ", ".join(ENGINES), transient=False
    )


def split_text(text: str, limit: int = MAX_REQUEST_CHARS) -> list[str]:
    """Cut text longer than one Polly request at sentence ends, else at spaces."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(mark) for mark in (". ", "! ", "? ", "\n"))
        if cut <= 0:
            cut = window.rfind(" ")
        cut = limit if cut <= 0 else cut + 1
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


class PollyTextToSpeech(Boto3Provider):
    service = "polly"
    endpoint_id = "POLLY"

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        voice = request.voice or DEFAULT_VOICE
        engine, may_fall_back = choose_engine(request.model, voice)
        pieces = split_text(text)
        marks: asyncio.Future[list[str]] | None = None
        want_marks = request.timings != "none" and len(pieces) == 1
        want_marks = want_marks and engine in SPEECH_MARK_ENGINES
        timeline: Timeline | None = None
        samples = 0
        try:
            for piece in pieces:
                # aclosing: a consumer that stops early closes Polly's stream now, not at GC.
                async with contextlib.aclosing(
                    self._stream(piece, voice, engine, may_fall_back)
                ) as pcms:
                    async for pcm in pcms:
                        samples += len(pcm) // 2
                        if timeline is None and marks is not None and marks.done():
                            timeline = _marks_timeline(marks, pieces[0], samples)
                        yield PcmChunk(pcm, SYNTHESIS_SAMPLE_RATE, timeline)
                        if want_marks and marks is None:
                            # Asked once the first audio is out: building and signing a request
                            # is interpreter time that would otherwise delay it.
                            marks = asyncio.get_running_loop().run_in_executor(
                                self._executor,
                                self._speech_marks,
                                pieces[0],
                                voice,
                                engine,
                                may_fall_back,
                            )
            if timeline is None and marks is not None:
                # The audio came first: the marks go on a last, empty chunk.
                with contextlib.suppress(Exception):
                    await marks
                timeline = _marks_timeline(marks, pieces[0], samples)
                if timeline is not None:
                    yield PcmChunk(b"", SYNTHESIS_SAMPLE_RATE, timeline)
        finally:
            if marks is not None and not marks.done():
                marks.cancel()  # the request itself ends in its thread, unread

    def _speech_marks(self, text: str, voice: str, engine: str, may_fall_back: bool) -> list[str]:
        """Polly's speech marks for ``text`` as JSON lines (in a worker thread)."""

        def ask(engine: str) -> Any:
            return self._client.synthesize_speech(
                Engine=engine,
                OutputFormat="json",
                SpeechMarkTypes=SPEECH_MARK_TYPES,
                Text=text,
                TextType="text",
                VoiceId=voice,
            )

        try:
            response = ask(engine)
        except Exception as exc:
            if not (may_fall_back and client_error_code(exc) == "EngineNotSupportedException"):
                raise
            response = ask("standard")  # as the audio request falls back
        body = response["AudioStream"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return [line for line in data.decode("utf-8").splitlines() if line.strip()]

    async def _stream(
        self, text: str, voice: str, engine: str, may_fall_back: bool
    ) -> AsyncGenerator[bytes, None]:
        def produce() -> Iterator[bytes]:
            try:
                response = self._synthesize(text, voice, engine)
            except Exception as exc:
                if not (may_fall_back and client_error_code(exc) == "EngineNotSupportedException"):
                    raise
                response = self._synthesize(text, voice, "standard")
            body = response["AudioStream"]
            try:
                yield from body.iter_chunks(CHUNK_BYTES)
            finally:
                body.close()

        try:
            async with contextlib.aclosing(iterate_in_thread(produce, self._executor)) as chunks:
                async for pcm in WholeSamples(chunks):
                    yield pcm
        except ProviderError:
            raise
        except Exception as exc:
            if client_error_code(exc) == "EngineNotSupportedException":
                raise ProviderError(
                    f"Polly voice {voice} does not support the {engine} engine", transient=False
                ) from exc
            raise botocore_error(exc, f"Polly voice {voice} ({engine})", self._secrets) from exc

    def _synthesize(self, text: str, voice: str, engine: str) -> Any:
        return self._client.synthesize_speech(
            Engine=engine,
            OutputFormat="pcm",
            SampleRate=str(SYNTHESIS_SAMPLE_RATE),
            Text=text,
            TextType="text",
            VoiceId=voice,
        )


def _marks_timeline(marks: asyncio.Future[list[str]], text: str, samples: int) -> Timeline | None:
    """The finished marks request's timeline, or None when it failed (timings are an extra)."""
    if marks.cancelled():
        return None
    if (problem := marks.exception()) is not None:
        log.warning("Polly speech marks failed: %s", type(problem).__name__)
        return None
    duration_ms = samples_to_ms(samples, SYNTHESIS_SAMPLE_RATE)
    return polly_timeline(marks.result(), text, duration_ms)
