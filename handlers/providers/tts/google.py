"""Google Cloud Text-to-Speech (gRPC, ``google-cloud-texttospeech``), plus the Google plumbing
(credentials, endpoint, per-loop client, retry and error mapping) shared with the Google STT.

Synthesis uses the unary ``SynthesizeSpeech`` RPC with LINEAR16 at 24 kHz: the answer is one WAV,
whose header is parsed off and whose PCM is handed on in ~200 ms chunks. Chirp 3 HD voices (the only
ones ``StreamingSynthesize`` serves) go through the bidirectional streaming RPC instead, asking for
headerless ``PCM``, so the first audio arrives before the whole sentence is synthesised.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any, Generic, Self, TypeVar, cast

import google.auth
import grpc
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.retry_async import AsyncRetry
from google.api_core.timeout import ConstantTimeout
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import texttospeech
from google.cloud.texttospeech_v1.services.text_to_speech.transports import (
    TextToSpeechGrpcAsyncIOTransport,
)

from handlers.audio import AudioFormatError, parse_wav
from handlers.providers.base import (
    CallPolicy,
    PcmChunk,
    ProviderError,
    ProviderUnavailable,
    TtsRequest,
)
from handlers.providers.retry import stream_with_retries

# --------------------------------------------------------------------------------------------
# Google plumbing shared with handlers.providers.stt.google
# --------------------------------------------------------------------------------------------

CREDENTIALS_VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Variables set only on Google's own runtimes, where the metadata server supplies credentials.
_GOOGLE_RUNTIME_VARIABLES = ("GCE_METADATA_HOST", "K_SERVICE", "CLOUD_RUN_JOB", "GAE_APPLICATION")
_GCE_PRODUCT_NAME_FILE = Path("/sys/class/dmi/id/product_name")
# Unlimited message sizes, as the Google client libraries configure their own channels.
_CHANNEL_OPTIONS = (("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1))

# Timeouts, 429 and 5xx in gRPC terms: worth another attempt.
TRANSIENT_GOOGLE_ERRORS: tuple[type[Exception], ...] = (
    google_exceptions.ServiceUnavailable,
    google_exceptions.ResourceExhausted,
    google_exceptions.DeadlineExceeded,
    google_exceptions.InternalServerError,
)


def _gcloud_adc_file(env: Mapping[str, str]) -> Path:
    """Where ``gcloud auth application-default login`` leaves its credentials."""
    if config_dir := env.get("CLOUDSDK_CONFIG"):
        return Path(config_dir) / "application_default_credentials.json"
    if os.name == "nt" and (appdata := env.get("APPDATA")):
        return Path(appdata) / "gcloud" / "application_default_credentials.json"
    return Path.home() / ".config" / "gcloud" / "application_default_credentials.json"


def _on_google_runtime(env: Mapping[str, str]) -> bool:
    """Whether a metadata server can supply credentials, judged without touching the network."""
    if env.get("NO_GCE_CHECK", "").lower() == "true":  # google-auth's own opt-out
        return False
    if any(env.get(name) for name in _GOOGLE_RUNTIME_VARIABLES):
        return True
    try:
        return _GCE_PRODUCT_NAME_FILE.read_text().strip().startswith("Google")
    except OSError:
        return False


def _load_credentials_file(path: str) -> Credentials:
    """Any ADC credential type (service account, user, workload identity federation, ...)."""
    with warnings.catch_warnings():
        # load_credentials_from_file warns against files from untrusted sources; this one is the
        # operator's own ADC file, which google.auth.default() loads the same way, silencing
        # the same warning.
        warnings.simplefilter("ignore", DeprecationWarning)
        credentials, _ = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
            path, scopes=_SCOPES
        )
    return credentials  # type: ignore[no-any-return]


def google_credentials(env: Mapping[str, str]) -> Credentials:
    """Google's Application Default Credentials chain, resolved from ``env`` without network.

    ``google.auth.default()`` would ping the metadata server (seconds of network timeouts off
    Google Cloud) and reads ``os.environ`` rather than ``env``, so the same chain is walked here:
    ``GOOGLE_APPLICATION_CREDENTIALS``, then gcloud's application-default file, then the metadata
    server, used only where this process runs on Google Cloud.
    """
    explicit_file = env.get(CREDENTIALS_VARIABLE)
    adc_file = _gcloud_adc_file(env)
    try:
        if explicit_file:
            return _load_credentials_file(explicit_file)
        if adc_file.is_file():
            return _load_credentials_file(str(adc_file))
    except DefaultCredentialsError as exc:
        source = CREDENTIALS_VARIABLE if explicit_file else "gcloud application-default file"
        raise ProviderUnavailable(
            f"Google credentials from {source} are not usable: {type(exc).__name__}"
        ) from exc
    if _on_google_runtime(env):
        from google.auth import compute_engine

        return compute_engine.Credentials()  # type: ignore[no-untyped-call]
    raise ProviderUnavailable(
        f"no Google credentials: set {CREDENTIALS_VARIABLE} to a service account JSON file "
        "(or run `gcloud auth application-default login`)"
    )


def _is_loopback(endpoint: str) -> bool:
    """Whether ``host:port`` (``[v6]:port`` too) names this machine."""
    if endpoint.startswith("["):
        host = endpoint[1 : endpoint.find("]")]
    else:
        name, _, port = endpoint.rpartition(":")
        host = name if port.isdigit() and ":" not in name else endpoint
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GoogleConnection:
    """Where and as whom a Google client connects.

    A loopback ``endpoint`` (a local fake, or a test double) gets a plaintext channel and anonymous
    credentials; any other endpoint is a Google host (say a regional one) reached over TLS with the
    ADC credentials.
    """

    def __init__(self, endpoint: str | None, credentials: Credentials, *, insecure: bool) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.insecure = insecure

    @classmethod
    def from_env(cls, env: Mapping[str, str], endpoint_variable: str) -> GoogleConnection:
        endpoint = env.get(endpoint_variable) or None
        if endpoint is not None and _is_loopback(endpoint):
            return cls(endpoint, AnonymousCredentials(), insecure=True)  # type: ignore[no-untyped-call]
        return cls(endpoint, google_credentials(env), insecure=False)

    def client_arguments(self, transport_class: type[Any]) -> dict[str, Any]:
        """Keyword arguments for a ``*AsyncClient``; call it on the loop that will use it."""
        if self.insecure:
            assert self.endpoint is not None
            channel = grpc.aio.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS)
            return {"transport": transport_class(channel=channel, credentials=self.credentials)}
        options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
        return {"credentials": self.credentials, "client_options": options}


ClientT = TypeVar("ClientT")


class LoopBoundClient(Generic[ClientT]):
    """One SDK client per event loop, built on first use.

    A ``grpc.aio`` channel belongs to the loop that was running when it was made, and ``from_env``
    may run before any loop (or on another one), so the client is made lazily and remade if the
    loop changes (in production there is one loop, hence one client for every session).
    """

    def __init__(self, build: Callable[[], ClientT]) -> None:
        self._build = build
        self._client: ClientT | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> ClientT:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._build()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.transport.close()  # type: ignore[attr-defined]


def google_retry(policy: CallPolicy) -> AsyncRetry:
    """An api_core retry for one call: transient errors, at most ``policy.max_retries`` times."""
    failures = 0

    def should_retry(exc: Exception) -> bool:
        nonlocal failures
        if not isinstance(exc, TRANSIENT_GOOGLE_ERRORS):
            return False
        failures += 1
        return failures <= policy.max_retries

    # No overall deadline: the attempt count bounds the retries, each attempt has its own timeout.
    return AsyncRetry(
        predicate=should_retry, initial=0.25, maximum=4.0, multiplier=2.0, timeout=None
    )


def attempt_timeout(policy: CallPolicy) -> ConstantTimeout:
    """The gRPC deadline of each attempt.

    A plain float would become api_core's TimeToDeadlineTimeout, one budget shared by all
    retries, which would leave a timed-out first attempt nothing to retry with.
    """
    return ConstantTimeout(policy.timeout_s)  # type: ignore[no-untyped-call]


def google_provider_error(service: str, exc: Exception) -> ProviderError:
    """A ProviderError for a google-api-core or gRPC failure (messages carry no credentials)."""
    if isinstance(exc, google_exceptions.RetryError):
        return ProviderError(f"Google {service}: retries exhausted", transient=True)
    if isinstance(exc, google_exceptions.GoogleAPICallError):
        status = exc.grpc_status_code.name if exc.grpc_status_code is not None else exc.code
        if isinstance(exc, google_exceptions.DeadlineExceeded):
            return ProviderError(f"Google {service} timed out ({status})", transient=True)
        return ProviderError(
            f"Google {service} failed: {status}: {exc.message}",
            transient=isinstance(exc, TRANSIENT_GOOGLE_ERRORS),
        )
    if isinstance(exc, grpc.RpcError):  # not wrapped by api_core (should not happen)
        return ProviderError(f"Google {service} failed: {type(exc).__name__}", transient=True)
    return ProviderError(f"Google {service} failed: {type(exc).__name__}")


GOOGLE_CALL_ERRORS = (google_exceptions.GoogleAPIError, grpc.RpcError)


# --------------------------------------------------------------------------------------------
# Text-to-speech
# --------------------------------------------------------------------------------------------

NATIVE_RATE = 24000
CHUNK_SECONDS = 0.2
_GENDERS = {
    "unspecified": texttospeech.SsmlVoiceGender.SSML_VOICE_GENDER_UNSPECIFIED,
    "neutral": texttospeech.SsmlVoiceGender.NEUTRAL,
    "male": texttospeech.SsmlVoiceGender.MALE,
    "female": texttospeech.SsmlVoiceGender.FEMALE,
}
MODELS = ("default",)
"""Google picks the model from the voice; the contract has no Google TTS model list."""


def _is_streaming_voice(voice_name: str) -> bool:
    """Only Chirp 3 HD voices (en-US-Chirp3-HD-Charon, ...) serve StreamingSynthesize."""
    return "-Chirp3-HD-" in voice_name


class GoogleTextToSpeech:
    def __init__(self, connection: GoogleConnection, policy: CallPolicy) -> None:
        self._policy = policy
        self._clients: LoopBoundClient[texttospeech.TextToSpeechAsyncClient] = LoopBoundClient(
            lambda: texttospeech.TextToSpeechAsyncClient(
                **connection.client_arguments(TextToSpeechGrpcAsyncIOTransport)
            )
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(GoogleConnection.from_env(env, "GOOGLE_TTS_ENDPOINT"), CallPolicy.from_env(env))

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if request.model not in MODELS:
            raise ProviderError(f"unknown Google text-to-speech model {request.model!r}")
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
            # An async generator, though stream_with_retries is annotated as an AsyncIterator.
            chunks = cast(
                AsyncGenerator[PcmChunk, None],
                stream_with_retries(lambda: self._stream(text, voice, speed), self._policy),
            )
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
                    sample_rate_hertz=NATIVE_RATE,
                    speaking_rate=speed,
                ),
                retry=google_retry(self._policy),
                timeout=attempt_timeout(self._policy),
            )
        except GOOGLE_CALL_ERRORS as exc:
            raise google_provider_error("text-to-speech", exc) from exc
        try:
            # LINEAR16 answers are a WAV file; its header says the rate actually served.
            pcm, rate = parse_wav(response.audio_content)
        except AudioFormatError as exc:
            raise ProviderError(f"Google text-to-speech answered unreadable audio: {exc}") from exc
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
                        sample_rate_hertz=NATIVE_RATE,
                        speaking_rate=speed,
                    ),
                )
            )
            yield texttospeech.StreamingSynthesizeRequest(
                input=texttospeech.StreamingSynthesisInput(text=text)
            )

        client = self._clients.get()
        call: Any = None
        odd_byte = b""
        try:
            call = await client.streaming_synthesize(requests=requests(), retry=None, timeout=None)
            async for response in call:
                data = odd_byte + response.audio_content
                cut = len(data) - len(data) % 2
                odd_byte = data[cut:]
                if cut:
                    yield PcmChunk(data[:cut], NATIVE_RATE)
        except GOOGLE_CALL_ERRORS as exc:
            raise google_provider_error("text-to-speech", exc) from exc
        finally:
            if call is not None:
                call.cancel()  # a no-op once finished; stops the RPC if the consumer left early
