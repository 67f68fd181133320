"""OpenAI text to speech: ``/v1/audio/speech`` with ``response_format="pcm"``, streamed.

OpenAI's ``pcm`` is raw 24 kHz 16-bit LE mono; it is yielded as it arrives, re-cut so that every
chunk holds whole samples (a network read may end in the middle of one).

Models ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``; voices alloy, ash, ballad, coral, echo,
fable, onyx, nova, sage, shimmer, verse (names are passed through, so newer voices work too).

Environment: ``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``,
``OPENAI_PROJECT_ID`` (optional); timeout and retries from ``METAHUMAN_PROVIDER_*``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Self

from openai import AsyncOpenAI

from handlers.providers.base import PcmChunk, TtsRequest
from handlers.providers.openai_common import TRANSPORT_ERRORS, build_openai_client, openai_error

OPENAI_PCM_RATE = 24_000
_MIN_SPEED, _MAX_SPEED = 0.25, 4.0


class WholeSamples:
    """Re-cuts a byte stream into chunks of whole PCM16 samples, holding back an odd last byte."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        data = self._carry + data
        cut = len(data) - len(data) % 2
        self._carry = data[cut:]
        return data[:cut]


class OpenAITextToSpeech:
    def __init__(self, client: AsyncOpenAI, *, secrets: tuple[str, ...] = ()) -> None:
        self._client = client
        self._secrets = secrets

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(build_openai_client(env), secrets=(env["OPENAI_API_KEY"],))

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if not text.strip():
            return
        speed = min(_MAX_SPEED, max(_MIN_SPEED, request.speed or 1.0))
        samples = WholeSamples()
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
                async for data in response.iter_bytes():
                    pcm = samples.feed(data)
                    if pcm:
                        yield PcmChunk(pcm=pcm, sample_rate=OPENAI_PCM_RATE)
        except TRANSPORT_ERRORS as exc:
            raise openai_error(exc, f"OpenAI speech ({request.model})", self._secrets) from None

    async def aclose(self) -> None:
        """Close the HTTP connection pool (process shutdown, tests)."""
        await self._client.close()
