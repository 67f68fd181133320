"""What the three AWS providers (Transcribe, Bedrock, Polly) share.

Configuration comes from the ``env`` Mapping handed to ``from_env`` (in the server
that is ``os.environ``):

* ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (required), e.g. ``AWS_REGION=us-east-1``.
* Credentials: ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``);
  or ``AWS_PROFILE=name`` (``~/.aws`` files, SSO, assume-role, credential_process);
  otherwise botocore's default chain (web identity, ECS/EKS container credentials, ...).
  On a plain EC2 instance role set ``METAHUMAN_AWS_INSTANCE_ROLE=1``: start-up never
  probes the instance metadata service, so without it missing credentials are reported.
* Endpoints: ``AWS_ENDPOINT_URL_<SERVICE>`` (``POLLY``, ``BEDROCK_RUNTIME``,
  ``TRANSCRIBE_STREAMING``), else ``AWS_ENDPOINT_URL``; the names botocore itself reads
  from the process environment, passed explicitly here so the Mapping decides.
* ``AWS_CA_BUNDLE``: a PEM file of the CAs to trust instead of the system's (a TLS-inspecting
  proxy; the tests' loopback Transcribe fake), for botocore and the Transcribe SDK alike.
* ``METAHUMAN_PROVIDER_TIMEOUT_S`` / ``METAHUMAN_PROVIDER_MAX_RETRIES`` (CallPolicy).

boto3 is synchronous: streams are read in worker threads (``toolkit.iterate_in_thread``) and
each item is handed to the event loop as soon as it arrives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from handlers.providers.base import CallPolicy, ProviderError, ProviderUnavailable
from handlers.providers.toolkit import redact, transient_status

STREAM_WORKERS = 32
"""Concurrent AWS streams per provider; the HTTP connection pool is sized to match."""

# Error codes AWS services use for throttling and server-side trouble, compared in lower
# case: event-stream exceptions say ``throttlingException``, HTTP errors ``ThrottlingException``.
_TRANSIENT_CODES = frozenset(
    code.lower()
    for code in (
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ServiceFailureException",
        "InternalServerException",
        "InternalFailureException",
        "InternalFailure",
        "ModelStreamErrorException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "RequestTimeout",
        "RequestTimeoutException",
    )
)


@dataclass(frozen=True)
class AwsSetup:
    """A boto3 session built from the env Mapping, and what every AWS client needs."""

    session: Any
    """``boto3.session.Session``: one per provider (sessions are not thread-safe, clients are)."""
    region: str
    policy: CallPolicy
    ca_bundle: str | None
    secrets: tuple[str, ...]
    """Secret values known from the Mapping, redacted from every error message."""


def aws_setup(env: Mapping[str, str]) -> AwsSetup:
    """Region, credentials and call policy, checked without any network call."""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ProviderUnavailable("missing environment variable AWS_REGION (or AWS_DEFAULT_REGION)")
    ca_bundle = env.get("AWS_CA_BUNDLE") or None
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ProviderUnavailable("AWS_CA_BUNDLE does not name a readable file")
    key_id = env.get("AWS_ACCESS_KEY_ID")
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    token = env.get("AWS_SESSION_TOKEN") or None
    if key_id and secret:
        session = boto3.session.Session(
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=region,
        )
        secrets = tuple(s for s in (secret, token) if s)
    elif key_id or secret:
        missing = "AWS_SECRET_ACCESS_KEY" if key_id else "AWS_ACCESS_KEY_ID"
        raise ProviderUnavailable(f"missing environment variable {missing}")
    else:
        profile = env.get("AWS_PROFILE") or None
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as exc:
            raise ProviderUnavailable(
                f"AWS_PROFILE names a profile that is not configured: {profile}"
            ) from exc
        if not _default_chain_has_credentials(env, profile):
            raise ProviderUnavailable(
                "missing AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE (on an EC2 instance role, METAHUMAN_AWS_INSTANCE_ROLE=1)"
            )
        secrets = ()
    return AwsSetup(
        session=session,
        region=region,
        policy=CallPolicy.from_env(env),
        ca_bundle=ca_bundle,
        secrets=secrets,
    )


def _default_chain_has_credentials(env: Mapping[str, str], profile: str | None) -> bool:
    """Whether botocore's chain finds credentials, without calling the network.

    The chain's last two links fetch over HTTP (ECS/EKS container endpoint, EC2
    instance metadata); they are judged by their configuration instead. Every
    other link reads local files or the environment, or defers its network call
    (SSO, assume-role) to first use.
    """
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return True
    if env.get("METAHUMAN_AWS_INSTANCE_ROLE", "").lower() in {"1", "true", "yes"}:
        return True
    probe = botocore.session.Session(profile=profile)
    resolver = probe.get_component("credential_provider")
    for network_method in ("container-role", "iam-role"):
        resolver.remove(network_method)
    try:
        return resolver.load_credentials() is not None
    except (BotoCoreError, ValueError) as exc:
        raise ProviderUnavailable(
            f"AWS credentials are misconfigured: {type(exc).__name__}"
        ) from exc


def endpoint_url(env: Mapping[str, str], service_env_id: str) -> str | None:
    """``AWS_ENDPOINT_URL_<SERVICE_ID>``, else ``AWS_ENDPOINT_URL``, else None (AWS's own)."""
    return env.get(f"AWS_ENDPOINT_URL_{service_env_id}") or env.get("AWS_ENDPOINT_URL") or None


def botocore_config(policy: CallPolicy) -> Config:
    """botocore's own retries and timeouts, from the shared call policy.

    ``total_max_attempts`` counts the first try (botocore's ``max_attempts`` counts
    only retries). Standard mode retries throttling, 5xx and connection/read timeouts
    with jittered exponential backoff, before any of the response was handed out.
    """
    return Config(
        retries={"total_max_attempts": 1 + policy.max_retries, "mode": "standard"},
        connect_timeout=policy.timeout_s,
        read_timeout=policy.timeout_s,
        max_pool_connections=STREAM_WORKERS,
    )


def make_client(setup: AwsSetup, service: str, env: Mapping[str, str], service_env_id: str) -> Any:
    """A boto3 client for ``service``, built once and shared by every session (thread-safe)."""
    try:
        return setup.session.client(
            service,
            region_name=setup.region,
            endpoint_url=endpoint_url(env, service_env_id),
            config=botocore_config(setup.policy),
            verify=setup.ca_bundle,
        )
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise ProviderUnavailable("missing AWS credentials") from exc
    except (BotoCoreError, ValueError) as exc:
        raise ProviderUnavailable(f"cannot build the AWS {service} client: {exc}") from exc


def botocore_error(exc: BaseException, what: str, secrets: Sequence[str] = ()) -> ProviderError:
    """A ProviderError for a botocore/urllib3 failure; transient for throttling, 5xx, timeouts."""
    transient = False
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        transient = code.lower() in _TRANSIENT_CODES or (
            isinstance(status, int) and transient_status(status)
        )
        detail = f"{code or status}: {error.get('Message', '')}".rstrip(": ")
    elif isinstance(exc, NoCredentialsError | PartialCredentialsError):
        detail = "no usable AWS credentials"
    elif isinstance(exc, BotocoreConnectionError | HTTPClientError | Urllib3HTTPError):
        # Connect/read timeouts, refused or dropped connections, a stream cut mid-body.
        transient = True
        detail = f"{type(exc).__name__}: {exc}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return ProviderError(redact(f"{what}: {detail}", secrets), transient=transient)


def client_error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "") or "")
    return ""


class Boto3Provider:
    """Base of the providers over one boto3 client: ``service`` names it, and its streams are
    read in a thread pool of the provider's own.

    boto3 blocks: each stream holds a worker thread while the service sends, so the provider has
    its own pool rather than sharing the loop's small default executor.
    """

    service: ClassVar[str]
    """boto3's service name, e.g. ``polly``."""
    endpoint_id: ClassVar[str]
    """The ``AWS_ENDPOINT_URL_<ID>`` suffix of the service, e.g. ``POLLY``."""

    def __init__(self, client: Any, secrets: tuple[str, ...] = ()) -> None:
        self._client = client
        self._secrets = secrets
        self._executor = ThreadPoolExecutor(STREAM_WORKERS, thread_name_prefix=self.service)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        setup = aws_setup(env)
        return cls(make_client(setup, cls.service, env, cls.endpoint_id), setup.secrets)

    async def aclose(self) -> None:
        """Let the worker threads end once their streams have (process shutdown, tests)."""
        self._executor.shutdown(wait=False)
