"""Amazon Transcribe streaming speech to text, fed while the person speaks.

SDK: ``amazon-transcribe`` (async, HTTP/2 and AWS event-stream signing on awscrt).
Its successor ``aws-sdk-transcribe-streaming`` needs Python 3.12+, and this project
supports 3.11; batch Transcribe would need the audio in S3 first.

Each incoming PCM chunk is resampled to 16 kHz when needed, cut into events of at
most 200 ms (Transcribe's recommended 50-200 ms) and sent at once; the final
(non-partial) results are joined when the client commits. ``request.model`` is
unused (Transcribe streaming has no model choice); ``request.language`` is the
Transcribe language code (``en-US``).

Credentials come from the same boto3 session as the other AWS providers (the SDK's
own CRT chain would read the process environment instead of the Mapping).
Retries: opening the stream is retried on throttling/5xx/timeouts (no audio has
been consumed yet); once audio flows a failure is final, since the audio iterator
cannot be replayed.

Environment: see ``handlers.providers.aws_common``; the endpoint override is
``AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING`` (else ``AWS_ENDPOINT_URL``), an
``https://`` URL since the SDK only speaks HTTP/2 over TLS; ``AWS_CA_BUNDLE`` is
trusted for it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Self

from amazon_transcribe.auth import CredentialResolver, Credentials
from amazon_transcribe.client import TranscribeStreamingClient
from amazon_transcribe.endpoints import BaseEndpointResolver
from amazon_transcribe.exceptions import (
    CredentialsException,
    HTTPException,
    InternalFailureException,
    LimitExceededException,
    SDKError,
    ServiceException,
    ServiceUnavailableException,
    UnknownServiceException,
)
from amazon_transcribe.model import TranscriptEvent
from awscrt import io as crt_io
from awscrt.exceptions import AwsCrtError
from botocore.credentials import RefreshableCredentials

from handlers.audio import Pcm16Resampler, WholeSamples
from handlers.providers.aws_common import aws_setup, endpoint_url
from handlers.providers.base import (
    CallPolicy,
    ProviderError,
    ProviderUnavailable,
    SttRequest,
    Transcript,
)
from handlers.providers.retry import call_with_retries
from handlers.providers.toolkit import NothingToClose, redact, transient_status

RECOGNITION_SAMPLE_RATE = 16000
MAX_EVENT_BYTES = 6400
"""200 ms of 16 kHz PCM16 per AudioEvent (the service takes at most 32 KB)."""
DEFAULT_LANGUAGE = "en-US"


class BotocoreCredentialResolver(CredentialResolver):
    """Hands the SDK the boto3 session's credentials, refreshed when they are temporary."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    async def get_credentials(self) -> Credentials:
        if isinstance(self._credentials, RefreshableCredentials):
            # A refresh may call STS/SSO/instance metadata: keep it off the loop.
            frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        else:
            frozen = self._credentials.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


class FixedEndpoint(BaseEndpointResolver):
    """``AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING`` instead of the regional endpoint."""

    def __init__(self, url: str) -> None:
        self._url = url

    async def resolve(self, region: str) -> str:
        return self._url


def trust_ca_bundle(client: TranscribeStreamingClient, ca_file: str) -> None:
    """Make the SDK's HTTP/2 connections trust ``ca_file`` (``AWS_CA_BUNDLE``).

    The SDK builds its TLS context with the system trust store and has no option
    for another one, so its session manager's context is replaced.
    """
    options = crt_io.TlsContextOptions()
    options.override_default_trust_store_from_path(ca_filepath=ca_file)
    client._session_manager._tls_ctx = crt_io.ClientTlsContext(options)


TRANSCRIBE_ERRORS: tuple[type[Exception], ...] = (SDKError, AwsCrtError)
"""What the Transcribe streaming SDK raises; ``transcribe_error`` maps them."""


def transcribe_error(
    exc: BaseException, what: str = "Transcribe", secrets: Sequence[str] = ()
) -> ProviderError:
    transient = False
    if isinstance(
        exc, LimitExceededException | InternalFailureException | ServiceUnavailableException
    ):
        transient = True
        detail = f"{type(exc).__name__}: {exc.message}"
    elif isinstance(exc, UnknownServiceException):
        transient = transient_status(exc.status_code)
        detail = f"{exc.error_code} ({exc.status_code}): {exc.message}"
    elif isinstance(exc, ServiceException):
        detail = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
    elif isinstance(exc, CredentialsException):
        detail = "no usable AWS credentials"
    elif isinstance(exc, HTTPException):
        transient = True  # the connection could not be opened
        detail = str(exc)
    elif isinstance(exc, AwsCrtError):
        # Socket and HTTP/2 failures pass; a TLS (certificate) failure will not.
        transient = not exc.name.startswith("AWS_IO_TLS")
        detail = f"{exc.name}: {exc.message}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return ProviderError(redact(f"{what}: {detail}", secrets), transient=transient)


class AwsSpeechToText(NothingToClose):
    def __init__(
        self,
        client: TranscribeStreamingClient,
        policy: CallPolicy,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._policy = policy
        self._secrets = secrets

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        setup = aws_setup(env)
        credentials = setup.session.get_credentials()
        if credentials is None:
            raise ProviderUnavailable("missing AWS credentials")
        endpoint = endpoint_url(env, "TRANSCRIBE_STREAMING")
        client = TranscribeStreamingClient(
            region=setup.region,
            endpoint_resolver=FixedEndpoint(endpoint) if endpoint else None,
            credential_resolver=BotocoreCredentialResolver(credentials),
        )
        if setup.ca_bundle:
            trust_ca_bundle(client, setup.ca_bundle)
        return cls(client, setup.policy, setup.secrets)

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        language = request.language or DEFAULT_LANGUAGE
        stream = await call_with_retries(lambda: self._start(language), self._policy)
        input_stream = stream.input_stream
        receiver = asyncio.create_task(self._collect(stream.output_stream))
        resampler = Pcm16Resampler(request.sample_rate, RECOGNITION_SAMPLE_RATE)
        ended = False
        try:
            async for pcm in WholeSamples(audio):
                if receiver.done():  # the service failed or closed: stop feeding it
                    break
                await self._send(input_stream, resampler.process(pcm))
            if not receiver.done():
                await self._send(input_stream, resampler.process(b"", last=True))
                await input_stream.end_stream()
                ended = True
            async with asyncio.timeout(self._policy.timeout_s):
                finals = await receiver
        except TimeoutError as exc:
            raise ProviderError(
                f"Transcribe: no final result within {self._policy.timeout_s:g} s", transient=True
            ) from exc
        except ProviderError:
            raise
        except TRANSCRIBE_ERRORS as exc:
            raise transcribe_error(exc, secrets=self._secrets) from exc
        finally:
            if not ended:
                with contextlib.suppress(Exception):  # lets the HTTP/2 stream finish
                    await input_stream.end_stream()
            if not receiver.done():
                receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        return Transcript(text=" ".join(finals), language=language)

    async def _start(self, language: str) -> Any:
        try:
            return await self._client.start_stream_transcription(
                language_code=language,
                media_sample_rate_hz=RECOGNITION_SAMPLE_RATE,
                media_encoding="pcm",
            )
        except TRANSCRIBE_ERRORS as exc:
            raise transcribe_error(exc, secrets=self._secrets) from exc

    @staticmethod
    async def _send(input_stream: Any, pcm: bytes) -> None:
        for start in range(0, len(pcm), MAX_EVENT_BYTES):
            # Never an empty event: an empty AudioEvent tells Transcribe the audio ended.
            await input_stream.send_audio_event(audio_chunk=pcm[start : start + MAX_EVENT_BYTES])

    async def _collect(self, output_stream: Any) -> list[str]:
        finals: list[str] = []
        try:
            async for event in output_stream:
                if not isinstance(event, TranscriptEvent):
                    continue
                for result in event.transcript.results:
                    if result.is_partial or not result.alternatives:
                        continue
                    text = (result.alternatives[0].transcript or "").strip()
                    if text:
                        finals.append(text)
        except TRANSCRIBE_ERRORS as exc:
            raise transcribe_error(exc, secrets=self._secrets) from exc
        return finals
