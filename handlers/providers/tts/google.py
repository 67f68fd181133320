"""Google Cloud Text-to-Speech (gRPC, ``google-cloud-texttospeech``).

Synthesis uses the unary ``SynthesizeSpeech`` RPC with LINEAR16 at 24 kHz: the answer is one WAV,
whose header is parsed off and whose PCM is handed on in ~200 ms chunks. Chirp 3 HD voices (the only
ones ``StreamingSynthesize`` serves) go through the bidirectional streaming RPC instead, asking for
headerless ``PCM``, so the first audio arrives before the whole sentence is synthesised.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, Self

from google.cloud import texttospeech
from google.cloud.texttospeech_v1.services.text_to_speech.transports import (
    TextToSpeechGrpcAsyncIOTransport,
)

from generated.catalog import TTS
from handlers.audio import AudioFormatError, WholeSamples, parse_wav
from handlers.providers.base import (
    CallPolicy,
    PcmChunk,
    ProviderError,
    TtsRequest,
)
from handlers.providers.google_common import (
    GOOGLE_ERRORS,
    GoogleConnection,
    attempt_timeout,
    google_error,
    google_retry,
    loop_bound_client,
)
from handlers.providers.retry import stream_with_retries

SYNTHESIS_SAMPLE_RATE = 24000
WHAT = "Google text-to-speech"
CHUNK_SECONDS = 0.2
_GENDERS = {
    "unspecified": texttospeech.SsmlVoiceGender.SSML_VOICE_GENDER_UNSPECIFIED,
    "neutral": texttospeech.SsmlVoiceGender.NEUTRAL,
    "male": texttospeech.SsmlVoiceGender.MALE,
    "female": texttospeech.SsmlVoiceGender.FEMALE,
}
MODELS = TTS["google"].models
"""``default`` only: Google picks the model from the voice."""


def _is_streaming_voice(voice_name: str) -> bool:
    """Only Chirp 3 HD voices (en-US-Chirp3-HD-Charon, ...) serve StreamingSynthesize."""
    return "-Chirp3-HD-" in voice_name


class GoogleTextToSpeech:
    def __init__(self, connection: GoogleConnection, policy: CallPolicy) -> None:
        self._policy = policy
        self._clients = loop_bound_client(
            connection, texttospeech.TextToSpeechAsyncClient, TextToSpeechGrpcAsyncIOTransport
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(GoogleConnection.from_env(env, "GOOGLE_TTS_ENDPOINT"), CallPolicy.from_env(env))

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if request.model not in MODELS:
            raise ProviderError(f"unknown {WHAT} model {request.model!r}")
        gender = _GENDERS.get(request.ssml_gender)
        if gender is None:
            raise ProviderError(f"unknown SSML gender {request.ssml_gender!r}")
        voice = texttospeech.VoiceSelectionParams(
            language_code=request.language, ssml_gender=gender
        )
        if request.voice != "default":
            voice.name = request.voice
        # Google's accepted speaking rates.
        speed = min(max(request.speed, 0.25), 4.0)
        chunks: AsyncGenerator[PcmChunk, None]
        if _is_streaming_voice(voice.name):
            chunks = stream_with_retries(lambda: self._stream(text, voice, speed), self._policy)
        else:
            chunks = self._synthesize_whole(text, voice, speed)
        # aclosing: a listener who stops early (barge-in) ends the RPC now, not at GC.
        async with aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    async def _synthesize_whole(
        self, text: str, voice: texttospeech.VoiceSelectionParams, speed: float
    ) -> AsyncGenerator[PcmChunk, None]:
        client = self._clients.get()
        try:
            response = await client.synthesize_speech(
                input=texttospeech.SynthesisInput(text=text),
                voice=voice,
                audio_config=texttospeech.AudioConfig(
                    audio_encoding=texttospeech.AudioEncoding.LINEAR16,
                    sample_rate_hertz=SYNTHESIS_SAMPLE_RATE,
                    speaking_rate=speed,
                ),
                retry=google_retry(self._policy),
                timeout=attempt_timeout(self._policy),
            )
        except GOOGLE_ERRORS as exc:
            raise google_error(exc, WHAT) from exc
        try:
            # LINEAR16 answers are a WAV file; its header says the rate actually served.
            pcm, rate = parse_wav(response.audio_content)
        except AudioFormatError as exc:
            raise ProviderError(f"{WHAT} answered unreadable audio: {exc}") from exc
        step = 2 * round(rate * CHUNK_SECONDS)
        for start in range(0, len(pcm), step):
            yield PcmChunk(pcm[start : start + step], rate)

    async def _stream(
        self, text: str, voice: texttospeech.VoiceSelectionParams, speed: float
    ) -> AsyncGenerator[PcmChunk, None]:
        """One StreamingSynthesize call; stream_with_retries bounds each wait and retries."""

        async def requests() -> AsyncIterator[texttospeech.StreamingSynthesizeRequest]:
            yield texttospeech.StreamingSynthesizeRequest(
                streaming_config=texttospeech.StreamingSynthesizeConfig(
                    voice=voice,
                    streaming_audio_config=texttospeech.StreamingAudioConfig(
                        audio_encoding=texttospeech.AudioEncoding.PCM,
                        sample_rate_hertz=SYNTHESIS_SAMPLE_RATE,
                        speaking_rate=speed,
                    ),
                )
            )
            yield texttospeech.StreamingSynthesizeRequest(
                input=texttospeech.StreamingSynthesisInput(text=text)
            )

        client = self._clients.get()
        call: Any = None
        try:
            call = await client.streaming_synthesize(requests=requests(), retry=None, timeout=None)
            audio = (response.audio_content async for response in call)
            async with aclosing(audio):
                async for pcm in WholeSamples(audio):
                    yield PcmChunk(pcm, SYNTHESIS_SAMPLE_RATE)
        except GOOGLE_ERRORS as exc:
            raise google_error(exc, WHAT) from exc
        finally:
            if call is not None:
                call.cancel()  # a no-op once finished; stops the RPC if the consumer left early
