"""OpenAI speech to text: the utterance is uploaded as a WAV to ``/v1/audio/transcriptions``.

``gpt-4o-transcribe`` and ``gpt-4o-mini-transcribe`` answer as a stream of
``transcript.text.delta`` / ``transcript.text.done`` events; ``whisper-1`` does not stream and
answers with JSON. The contract spells one model ``gpt_4o_mini_transcribe``; the API's name is
``gpt-4o-mini-transcribe``, which is what is sent.

Environment: ``OPENAI_API_KEY`` (required; ``OPENAI_STT_API_KEY`` wins), ``OPENAI_STT_BASE_URL``
(else ``OPENAI_BASE_URL``: a self-hosted OpenAI-compatible server for this stage only),
``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID`` (optional); timeout and retries from
``METAHUMAN_PROVIDER_*``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from openai import omit

from handlers.audio import pcm16_seconds, read_whole_samples, wav_bytes
from handlers.providers.base import SttRequest, Transcript
from handlers.providers.openai_common import OPENAI_ERRORS, OpenAIClientProvider, openai_error

# The contract's spellings that differ from the API's model names.
_MODEL_NAMES = {"gpt_4o_mini_transcribe": "gpt-4o-mini-transcribe"}
# Models that stream their transcript (whisper-1 ignores stream=true and answers JSON).
_STREAMING_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
# The API rejects uploads shorter than this ("Audio file is too short").
_MIN_SECONDS = 0.1


def api_model_name(model: str) -> str:
    return _MODEL_NAMES.get(model, model)


def iso_639_1(language: str) -> str | None:
    """``en`` for ``en-US``; None when the tag's language is not a two-letter ISO 639-1 code."""
    primary = language.replace("_", "-").split("-")[0].lower()
    return primary if len(primary) == 2 and primary.isalpha() else None


class OpenAISpeechToText(OpenAIClientProvider):
    stage = "STT"

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        pcm = await read_whole_samples(audio)
        language = iso_639_1(request.language)
        reported_language = request.language if language else None
        if pcm16_seconds(pcm, request.sample_rate) < _MIN_SECONDS:
            return Transcript(text="", language=reported_language)
        model = api_model_name(request.model)
        upload = ("utterance.wav", wav_bytes(pcm, request.sample_rate), "audio/wav")
        try:
            if model.startswith(_STREAMING_MODELS):
                text = await self._streamed(model, upload, language)
            else:
                result = await self._client.audio.transcriptions.create(
                    file=upload, model=model, language=language or omit, response_format="json"
                )
                text = result.text
        except OPENAI_ERRORS as exc:
            raise openai_error(exc, f"OpenAI transcription ({model})", self._secrets) from None
        return Transcript(text=text.strip(), language=reported_language)

    async def _streamed(
        self, model: str, upload: tuple[str, bytes, str], language: str | None
    ) -> str:
        stream = await self._client.audio.transcriptions.create(
            file=upload, model=model, language=language or omit, stream=True
        )
        deltas: list[str] = []
        async with stream:
            async for event in stream:
                if event.type == "transcript.text.delta":
                    deltas.append(event.delta)
                elif event.type == "transcript.text.done":
                    return event.text
        # A stream that ends without its "done" event still delivered its words as deltas.
        return "".join(deltas)
