"""OpenAI text to speech: ``/v1/audio/speech`` with ``response_format="pcm"``, streamed.

OpenAI's ``pcm`` is raw 24 kHz 16-bit LE mono; it is yielded as it arrives, re-cut so that every
chunk holds whole samples (a network read may end in the middle of one).

Models ``tts-1``, ``tts-1-hd`` (voices alloy, ash, coral, echo, fable, onyx, nova, sage, shimmer)
and ``gpt-4o-mini-tts`` (those and ballad, verse, marin, cedar); the lifecycle data says which
model takes which voice, and OpenAI answers 400 for any other pair.

Environment: ``OPENAI_API_KEY`` (required; ``OPENAI_TTS_API_KEY`` wins), ``OPENAI_TTS_BASE_URL``
(else ``OPENAI_BASE_URL``: a self-hosted OpenAI-compatible server for this stage only),
``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID`` (optional); timeout and retries from
``METAHUMAN_PROVIDER_*``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from handlers.audio import WholeSamples
from handlers.providers.base import PcmChunk, ProviderError, TtsRequest
from handlers.providers.lifecycle import load_lifecycle
from handlers.providers.openai_common import OPENAI_ERRORS, OpenAIClientProvider, openai_error

SYNTHESIS_SAMPLE_RATE = 24_000
"""OpenAI's ``pcm`` response format: raw 24 kHz PCM16 LE mono."""
_MIN_SPEED, _MAX_SPEED = 0.25, 4.0
OPENAI_HOST = "api.openai.com"


class OpenAITextToSpeech(OpenAIClientProvider):
    stage = "TTS"

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if not text.strip():
            return
        if self._client.base_url.host == OPENAI_HOST:
            # OpenAI's own models take fixed voice lists (tts-1: nine); session.update refuses
            # the rest, and a request that did not come through it gets a clear error here
            # rather than a 400. Self-hosted servers (Kokoro, Piper) have voices of their own.
            problem = load_lifecycle().voice_problem("openai", request.model, request.voice)
            if problem is not None:
                raise ProviderError(f"OpenAI speech: {problem}", transient=False)
        speed = min(_MAX_SPEED, max(_MIN_SPEED, request.speed or 1.0))
        try:
            # The SDK retries the request (429, 5xx, timeouts) before the first byte; once
            # audio has been yielded nothing is retried.
            async with self._client.audio.speech.with_streaming_response.create(
                model=request.model,
                voice=request.voice,
                input=text,
                response_format="pcm",
                speed=speed,
            ) as response:
                async for pcm in WholeSamples(response.iter_bytes()):
                    yield PcmChunk(pcm=pcm, sample_rate=SYNTHESIS_SAMPLE_RATE)
        except OPENAI_ERRORS as exc:
            raise openai_error(exc, f"OpenAI speech ({request.model})", self._secrets) from None
