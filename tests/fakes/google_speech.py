"""A local gRPC server speaking Google's Text-to-Speech v1 and Speech-to-Text v1 wire protocols.

The services are registered as generic handlers keyed by their real fully qualified names
(``google.cloud.texttospeech.v1.TextToSpeech`` ...), with the request and response messages
(de)serialised by the proto classes shipped in the google-cloud packages, so the real SDK talks
to it exactly as it would talk to Google. It checks what the SDK sent and answers with real
speech from the shared fixtures:

* SynthesizeSpeech: a LINEAR16 WAV (44-byte header + PCM of a fixture resampled to the asked rate).
* StreamingSynthesize (Chirp 3 HD voices): headerless PCM in several messages.
* StreamingRecognize: interim then final results whose words are those of the fixture whose PCM
  matches the audio received (none when nothing matches), so wrong audio gives a wrong transcript.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
from google.cloud import speech_v1, texttospeech

from handlers.audio import parse_wav, resample_pcm16, wav_bytes
from tests.data import SPEECH_DIR

StreamHandler = Callable[[AsyncIterator[Any], grpc.aio.ServicerContext], AsyncIterator[Any]]
SHARED_AUDIO = SPEECH_DIR


@dataclass(frozen=True)
class Fixture:
    file: str
    text: str
    pcm: bytes
    sample_rate: int


def load_fixtures() -> list[Fixture]:
    manifest = json.loads((SHARED_AUDIO / "manifest.json").read_text())
    fixtures = []
    for entry in manifest:
        pcm, rate = parse_wav((SHARED_AUDIO / entry["file"]).read_bytes())
        fixtures.append(Fixture(entry["file"], entry["text"], pcm, rate))
    return fixtures


def fixture(name: str) -> Fixture:
    return next(f for f in load_fixtures() if f.file == name)


def match_fixture(pcm: bytes, sample_rate: int, fixtures: list[Fixture]) -> Fixture | None:
    """The fixture this audio is (allowing for resampling), or None."""
    received = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    for candidate in fixtures:
        reference_pcm = resample_pcm16(candidate.pcm, candidate.sample_rate, sample_rate)
        reference = np.frombuffer(reference_pcm, dtype="<i2").astype(np.float64)
        if abs(len(received) - len(reference)) > 0.01 * len(reference) + 32:
            continue
        n = min(len(received), len(reference))
        error = np.sqrt(np.mean((received[:n] - reference[:n]) ** 2))
        signal = np.sqrt(np.mean(reference[:n] ** 2))
        if error < 0.1 * signal:
            return candidate
    return None


def expect(problems: list[str], ok: bool, what: str) -> None:
    if not ok:
        problems.append(what)


async def abort_for(context: grpc.aio.ServicerContext, problems: list[str]) -> None:
    """INVALID_ARGUMENT naming what was wrong, as Google answers a bad request.

    Streaming handlers call this only after the client half-closed: a grpc.aio client that is
    still writing when the server ends the call may report INTERNAL "Internal error from Core"
    instead of the server's status (grpc/grpc#36066), which would make these checks flaky.
    """
    if problems:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))


@dataclass
class Failures:
    """Scripted failures: the next ``count`` calls abort with ``code`` (after ``delay_s``)."""

    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    count: int = 0
    delay_s: float = 0.0


@dataclass
class GoogleSpeechFake:
    expected_language: str = "en-US"
    served: Fixture = field(default_factory=lambda: fixture("hello_how_are_you.wav"))
    """What TTS answers with."""
    expected_stt_model: str = ""
    failures: Failures = field(default_factory=Failures)
    tts_requests: list[texttospeech.SynthesizeSpeechRequest] = field(default_factory=list)
    stream_tts_configs: list[texttospeech.StreamingSynthesizeConfig] = field(default_factory=list)
    stream_tts_texts: list[str] = field(default_factory=list)
    stt_configs: list[speech_v1.StreamingRecognitionConfig] = field(default_factory=list)
    stt_audio: list[bytes] = field(default_factory=list)
    """The audio of each StreamingRecognize call, concatenated."""
    first_audio_received: asyncio.Event = field(default_factory=asyncio.Event)
    call_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a client cancels a call (a listener who stopped early, a cancelled turn)."""
    served_pcm: bytes = b""
    served_rate: int = 0
    calls: int = 0
    _calls_changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    endpoint: str = ""
    _server: Any = None

    # -- plumbing -------------------------------------------------------------------------

    async def start(self) -> str:
        server = grpc.aio.server()
        tts = grpc.method_handlers_generic_handler(
            "google.cloud.texttospeech.v1.TextToSpeech",
            {
                "SynthesizeSpeech": grpc.unary_unary_rpc_method_handler(
                    self._synthesize_speech,
                    request_deserializer=texttospeech.SynthesizeSpeechRequest.deserialize,
                    response_serializer=texttospeech.SynthesizeSpeechResponse.serialize,
                ),
                "StreamingSynthesize": grpc.stream_stream_rpc_method_handler(
                    self._noting_cancellation(self._streaming_synthesize),
                    request_deserializer=texttospeech.StreamingSynthesizeRequest.deserialize,
                    response_serializer=texttospeech.StreamingSynthesizeResponse.serialize,
                ),
            },
        )
        stt = grpc.method_handlers_generic_handler(
            "google.cloud.speech.v1.Speech",
            {
                "StreamingRecognize": grpc.stream_stream_rpc_method_handler(
                    self._noting_cancellation(self._streaming_recognize),
                    request_deserializer=speech_v1.StreamingRecognizeRequest.deserialize,
                    response_serializer=speech_v1.StreamingRecognizeResponse.serialize,
                ),
            },
        )
        server.add_generic_rpc_handlers((tts, stt))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        self.endpoint = f"127.0.0.1:{port}"
        return self.endpoint

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)

    def _noting_cancellation(self, handler: StreamHandler) -> StreamHandler:
        async def handle(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            try:
                async for response in handler(requests, context):
                    yield response
            except asyncio.CancelledError:  # what a client's cancel looks like in a handler
                self.call_cancelled.set()
                raise

        return handle

    async def wait_for_calls(self, count: int) -> None:
        async with self._calls_changed:
            await self._calls_changed.wait_for(lambda: self.calls >= count)

    async def _begin_call(self, context: grpc.aio.ServicerContext) -> None:
        """Count the call and play any scripted failure."""
        async with self._calls_changed:
            self.calls += 1
            self._calls_changed.notify_all()
        if self.failures.delay_s:
            await asyncio.sleep(self.failures.delay_s)
        if self.failures.count > 0:
            self.failures.count -= 1
            await context.abort(self.failures.code, f"scripted {self.failures.code.name}")

    def _serve_pcm(self, rate: int) -> bytes:
        self.served_rate = rate
        self.served_pcm = resample_pcm16(self.served.pcm, self.served.sample_rate, rate)
        return self.served_pcm

    # -- Text-to-Speech --------------------------------------------------------------------

    async def _synthesize_speech(
        self, request: texttospeech.SynthesizeSpeechRequest, context: grpc.aio.ServicerContext
    ) -> texttospeech.SynthesizeSpeechResponse:
        self.tts_requests.append(request)
        await self._begin_call(context)
        problems: list[str] = []
        expect(problems, bool(request.input.text), "input.text is empty")
        expect(
            problems,
            request.voice.language_code == self.expected_language,
            f"voice.language_code {request.voice.language_code!r}",
        )
        config = request.audio_config
        expect(
            problems,
            config.audio_encoding == texttospeech.AudioEncoding.LINEAR16,
            f"audio_encoding {config.audio_encoding!r}",
        )
        expect(problems, 0.25 <= config.speaking_rate <= 4.0, "speaking_rate")
        await abort_for(context, problems)
        rate = config.sample_rate_hertz or 24000
        # LINEAR16 answers are whole WAV files: 44-byte RIFF header, then the samples.
        return texttospeech.SynthesizeSpeechResponse(
            audio_content=wav_bytes(self._serve_pcm(rate), rate)
        )

    async def _streaming_synthesize(
        self,
        requests: AsyncIterator[texttospeech.StreamingSynthesizeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[texttospeech.StreamingSynthesizeResponse]:
        await self._begin_call(context)
        problems: list[str] = []
        text = ""
        first = True
        async for request in requests:
            kind = texttospeech.StreamingSynthesizeRequest.pb(request).WhichOneof(
                "streaming_request"
            )
            if first:
                first = False
                expect(problems, kind == "streaming_config", "config must come first")
                config = request.streaming_config
                self.stream_tts_configs.append(config)
                expect(problems, "-Chirp3-HD-" in config.voice.name, "needs a Chirp 3 HD voice")
                expect(
                    problems,
                    config.voice.language_code == self.expected_language,
                    f"voice.language_code {config.voice.language_code!r}",
                )
                expect(
                    problems,
                    config.streaming_audio_config.audio_encoding == texttospeech.AudioEncoding.PCM,
                    "streaming needs PCM",
                )
            else:
                expect(problems, kind == "input", "only input after the config")
                text += request.input.text
        self.stream_tts_texts.append(text)
        expect(problems, bool(text), "no text")
        await abort_for(context, problems)
        rate = self.stream_tts_configs[-1].streaming_audio_config.sample_rate_hertz or 24000
        pcm = self._serve_pcm(rate)
        # Headerless PCM in pieces of uneven sizes, the way audio trickles out of the synthesiser.
        start, step = 0, 4801
        while start < len(pcm):
            yield texttospeech.StreamingSynthesizeResponse(audio_content=pcm[start : start + step])
            start += step
            await asyncio.sleep(0.002)  # audio comes out as it is synthesised, not all at once

    # -- Speech-to-Text ---------------------------------------------------------------------

    async def _streaming_recognize(
        self,
        requests: AsyncIterator[speech_v1.StreamingRecognizeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[speech_v1.StreamingRecognizeResponse]:
        await self._begin_call(context)
        problems: list[str] = []
        audio = bytearray()
        self.stt_audio.append(b"")
        first = True
        async for request in requests:
            kind = speech_v1.StreamingRecognizeRequest.pb(request).WhichOneof("streaming_request")
            if first:
                first = False
                expect(problems, kind == "streaming_config", "config must come first")
                streaming = request.streaming_config
                self.stt_configs.append(streaming)
                config = streaming.config
                expect(
                    problems,
                    config.encoding == speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
                    f"encoding {config.encoding!r}",
                )
                expect(problems, config.sample_rate_hertz == 16000, "sample_rate_hertz")
                expect(
                    problems,
                    config.language_code == self.expected_language,
                    f"language_code {config.language_code!r}",
                )
                expect(problems, config.model == self.expected_stt_model, f"model {config.model!r}")
            else:
                expect(problems, kind == "audio_content", "only audio after the config")
                expect(problems, len(request.audio_content) % 2 == 0, "odd PCM16 length")
                audio += request.audio_content
                self.stt_audio[-1] = bytes(audio)
                self.first_audio_received.set()
        # Recognition takes a moment after the half-close. (A cancelled call also ends the
        # request stream; the cancellation itself reaches this handler during this wait.)
        await asyncio.sleep(0.02)
        await abort_for(context, problems)
        matched = match_fixture(bytes(audio), 16000, load_fixtures())
        if matched is None:
            return  # the real service answers nothing for audio it hears no words in
        words = matched.text.split()
        half = max(1, len(words) // 2)
        # The real service sends interim results only when asked to; the fake always does, so
        # an adapter that mistook them for final text would repeat words.
        for index, segment in enumerate((words[:half], words[half:])):
            if not segment:
                continue
            # Like Google, results after the first start with a space.
            lead = " " if index else ""
            yield self._recognition(
                lead + " ".join(segment[: max(1, len(segment) - 1)]), final=False
            )
            yield self._recognition(lead + " ".join(segment), final=True)

    def _recognition(self, transcript: str, *, final: bool) -> speech_v1.StreamingRecognizeResponse:
        return speech_v1.StreamingRecognizeResponse(
            results=[
                speech_v1.StreamingRecognitionResult(
                    alternatives=[
                        speech_v1.SpeechRecognitionAlternative(
                            transcript=transcript, confidence=0.9 if final else 0.0
                        )
                    ],
                    is_final=final,
                    stability=0.0 if final else 0.8,
                    language_code=self.expected_language.lower(),
                )
            ]
        )
