"""Google Cloud plumbing shared by the Google STT and TTS providers: credentials found without
network calls, the endpoint and a per-event-loop gRPC client, retry and the error mapper."""

from __future__ import annotations

import ipaddress
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import google.auth
import grpc
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.retry_async import AsyncRetry
from google.api_core.timeout import ConstantTimeout
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError

from handlers.providers.base import CallPolicy, ProviderError, ProviderUnavailable
from handlers.providers.toolkit import LoopBound, redact

ClientT = TypeVar("ClientT")

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


def loop_bound_client(
    connection: GoogleConnection, build: Callable[..., ClientT], transport_class: type[Any]
) -> LoopBound[ClientT]:
    """A ``*AsyncClient`` per event loop (a ``grpc.aio`` channel belongs to its loop)."""

    async def close(client: ClientT) -> None:
        await client.transport.close()  # type: ignore[attr-defined]

    return LoopBound(lambda: build(**connection.client_arguments(transport_class)), close)


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


GOOGLE_ERRORS = (google_exceptions.GoogleAPIError, grpc.RpcError)
"""What a google-api-core or gRPC call raises; ``google_error`` maps them."""


def google_error(exc: BaseException, what: str, secrets: Sequence[str] = ()) -> ProviderError:
    """A ProviderError for a google-api-core or gRPC failure."""
    if isinstance(exc, google_exceptions.RetryError):
        return ProviderError(f"{what}: retries exhausted", transient=True)
    if isinstance(exc, google_exceptions.GoogleAPICallError):
        status = exc.grpc_status_code.name if exc.grpc_status_code is not None else exc.code
        if isinstance(exc, google_exceptions.DeadlineExceeded):
            return ProviderError(f"{what} timed out ({status})", transient=True)
        return ProviderError(
            redact(f"{what} failed: {status}: {exc.message}", secrets),
            transient=isinstance(exc, TRANSIENT_GOOGLE_ERRORS),
        )
    if isinstance(exc, grpc.RpcError):  # not wrapped by api_core (should not happen)
        return ProviderError(f"{what} failed: {type(exc).__name__}", transient=True)
    return ProviderError(f"{what} failed: {type(exc).__name__}")
