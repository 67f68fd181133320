"""Mistral Voxtral speech to text via the ``mistralai`` SDK (``audio.transcriptions``).

The utterance is uploaded as a WAV to ``POST /v1/audio/transcriptions`` (multipart).
``voxtral-mini-latest`` is a transcription model there. Mistral documents
``voxtral-small-latest`` as its *chat* model with audio input; the transcription endpoint's
Voxtral Small model is ``voxtral-small-transcribe-latest`` (docs.mistral.ai, "Migrate from
Voxtral 2"), so that is the name sent for the contract's ``voxtral-small-latest``.

The SDK's retries are elapsed-time based; to honour the shared retry count they stay off and
``call_with_retries`` retries timeouts, connection failures, 408, 429 and 5xx instead.

Environment: ``MISTRAL_API_KEY`` (required), ``MISTRAL_BASE_URL`` (optional, the server root
without ``/v1``, default ``https://api.mistral.ai``); timeout and retries from
``METAHUMAN_PROVIDER_*``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Self

import httpx2
from mistralai.client import Mistral, errors
from mistralai.client.types import UNSET

from handlers.audio import pcm16_seconds, read_whole_samples, wav_bytes
from handlers.providers.base import CallPolicy, ProviderError, SttRequest, Transcript, require_env
from handlers.providers.retry import call_with_retries
from handlers.providers.stt.openai import iso_639_1
from handlers.providers.toolkit import connection_error, http_status_error, timeout_error

_TRANSCRIPTION_MODELS = {"voxtral-small-latest": "voxtral-small-transcribe-latest"}
_MIN_SECONDS = 0.1


def api_model_name(model: str) -> str:
    return _TRANSCRIPTION_MODELS.get(model, model)


MISTRAL_ERRORS: tuple[type[Exception], ...] = (
    httpx2.HTTPError,
    errors.MistralError,
    errors.NoResponseError,
)


def mistral_error(exc: BaseException, what: str, secrets: Sequence[str] = ()) -> ProviderError:
    if isinstance(exc, httpx2.TimeoutException):
        return timeout_error(what)
    if isinstance(exc, httpx2.TransportError | errors.NoResponseError):
        return connection_error(what, exc)
    if isinstance(exc, errors.MistralError):
        try:
            body = json.loads(exc.body)
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        return http_status_error(
            what, exc.status_code, message if isinstance(message, str) else "", secrets
        )
    return ProviderError(f"{what} failed: {type(exc).__name__}")


class MistralSpeechToText:
    def __init__(
        self,
        client: Mistral,
        http: httpx2.AsyncClient,
        policy: CallPolicy,
        *,
        secrets: tuple[str, ...],
    ) -> None:
        self._client = client
        self._http = http
        self._policy = policy
        self._secrets = secrets

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        (api_key,) = require_env(env, "MISTRAL_API_KEY")
        policy = CallPolicy.from_env(env)
        base_url = env.get("MISTRAL_BASE_URL", "").rstrip("/").removesuffix("/v1")
        # Our own connection pool, so that aclose() can close it.
        http = httpx2.AsyncClient(follow_redirects=True)
        client = Mistral(
            api_key=api_key,
            server_url=base_url or None,
            async_client=http,
            timeout_ms=int(policy.timeout_s * 1000),
        )
        return cls(client, http, policy, secrets=(api_key,))

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        pcm = await read_whole_samples(audio)
        language = iso_639_1(request.language)
        if pcm16_seconds(pcm, request.sample_rate) < _MIN_SECONDS:
            return Transcript(text="", language=request.language if language else None)
        model = api_model_name(request.model)
        wav = wav_bytes(pcm, request.sample_rate)
        what = f"Mistral transcription ({model})"

        async def attempt() -> Transcript:
            try:
                result = await self._client.audio.transcriptions.complete_async(
                    model=model,
                    file={
                        "file_name": "utterance.wav",
                        "content": wav,
                        "content_type": "audio/wav",
                    },
                    language=language or UNSET,
                )
            except MISTRAL_ERRORS as exc:
                raise mistral_error(exc, what, self._secrets) from None
            detected = result.language if isinstance(result.language, str) else None
            # With a hint sent, report the session's tag ("en-US"), as the other providers do.
            return Transcript(
                text=result.text.strip(), language=request.language if language else detected
            )

        return await call_with_retries(attempt, self._policy)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (process shutdown, tests)."""
        await self._http.aclose()
