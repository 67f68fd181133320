"""OpenAI text to speech: ``/v1/audio/speech`` with ``response_format="pcm"``, streamed.

OpenAI's ``pcm`` is raw 24 kHz 16-bit LE mono; it is yielded as it arrives, re-cut so that every
chunk holds whole samples (a network read may end in the middle of one).

Models ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``; voices alloy, ash, ballad, coral, echo,
fable, onyx, nova, sage, shimmer, verse (names are passed through, so newer voices work too).

Environment: ``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``,
``OPENAI_PROJECT_ID`` (optional); timeout and retries from ``METAHUMAN_PROVIDER_*``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from handlers.audio import WholeSamples
from handlers.providers.base import PcmChunk, TtsRequest
from handlers.providers.openai_common import OPENAI_ERRORS, OpenAIClientProvider, openai_error

SYNTHESIS_SAMPLE_RATE = 24_000
"""OpenAI's ``pcm`` response format: raw 24 kHz PCM16 LE mono."""
_MIN_SPEED, _MAX_SPEED = 0.25, 4.0


class OpenAITextToSpeech(OpenAIClientProvider):
    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if not text.strip():
            return
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
