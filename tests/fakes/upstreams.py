"""Each fake behind one small interface, so that one conformance suite can drive every provider.

An ``Upstream`` is a started fake plus what a provider needs to reach it (``env``), and the few
knobs the conformance checks turn: fail the next calls with 429/500 (or the protocol's
equivalent), never answer (a timeout), stream slowly (so a consumer can stop early), and what
the fake observed (attempts, the answer it sent, a client that hung up).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Literal, Protocol

import grpc

from tests.fakes.aws_bedrock import FakeBedrockRuntime
from tests.fakes.aws_common import SECRET_ACCESS_KEY, aws_env
from tests.fakes.aws_polly import FakePolly
from tests.fakes.aws_transcribe import FakeTranscribeStreaming
from tests.fakes.azure_speech import KEY as AZURE_SPEECH_KEY
from tests.fakes.azure_speech import AzureSpeechFake
from tests.fakes.google_speech import Failures, GoogleSpeechFake
from tests.fakes.mistral_api import FakeMistralApi
from tests.fakes.openai_api import FakeHttpApi, FakeOpenAIApi, Fault

CHAT_REPLY = "It is sunny and warm today, enjoy it!"
"""What the OpenAI-style fakes answer every chat with."""


class Upstream(Protocol):
    env: dict[str, str]
    """Reaches the fake, with its credentials."""
    credential: str
    """The variable whose absence makes the provider unavailable (and that the reason names)."""
    secrets: tuple[str, ...]
    """Values that must never appear in an error or a reason."""
    server_error_text: str
    """What the error for a 500 (or the protocol's equivalent) names: the status, the error."""
    timeout_text: str
    """What the error for an unanswered call says."""

    def without_credential(self) -> dict[str, str]:
        """``env`` less the credential (and anything that would stand in for it)."""
        ...

    def fail(self, status: int, times: int | None) -> None:
        """Answer the next ``times`` calls (None: all) with HTTP ``status`` or its equivalent."""
        ...

    def hang(self) -> None:
        """Leave the next call unanswered for longer than any test's timeout."""
        ...

    def slow_down(self) -> None:
        """Stream the answer slowly (and hold it after the first piece, where the fake can)."""
        ...

    def release(self) -> None:
        """Let a held answer go on (the client, if it is still there, reads the rest)."""
        ...

    @property
    def attempts(self) -> int:
        """Calls the fake received."""
        ...

    @property
    def hung_up(self) -> asyncio.Event:
        """Set once the fake saw a client close its call before the answer was complete."""
        ...

    @property
    def audio_received(self) -> asyncio.Event | None:
        """Speech to text: set once audio reached the fake; None where audio is uploaded whole
        after the utterance (a call exists only then)."""
        ...

    def answered(self) -> str | bytes:
        """What the last LLM or TTS call got: the reply text, or the PCM streamed so far.
        (Speech to text is checked against the recording's manifest text.)"""
        ...


UpstreamFactory = Callable[[Path], AbstractAsyncContextManager[Upstream]]
"""Starts a fake (``tmp_path`` for any files it needs) and stops it at the end."""


class _HttpApiUpstream:
    """The OpenAI-style fakes (OpenAI, Azure OpenAI, the gateways, Mistral)."""

    def __init__(self, fake: FakeHttpApi, env: dict[str, str], credential: str) -> None:
        self.fake = fake
        self.env = env
        self.credential = credential
        self.secrets: tuple[str, ...] = (fake.api_key,)
        self.server_error_text = "HTTP 500"
        self.timeout_text = "timed out"

    def without_credential(self) -> dict[str, str]:
        return {k: v for k, v in self.env.items() if k != self.credential}

    def fail(self, status: int, times: int | None) -> None:
        # retry-after-ms keeps the SDK's backoff short.
        self.fake.inject(Fault(status=status, retry_after_ms=10), times=times)

    def hang(self) -> None:
        self.fake.inject(Fault(delay_s=5))

    def slow_down(self) -> None:
        self.fake.stream_pause_s = 0.05

    def release(self) -> None:
        pass

    @property
    def attempts(self) -> int:
        return len(self.fake.requests)

    @property
    def hung_up(self) -> asyncio.Event:
        return self.fake.hung_up

    @property
    def audio_received(self) -> asyncio.Event | None:
        return None

    def answered(self) -> str | bytes:
        if isinstance(self.fake, FakeOpenAIApi) and self.fake.requests[-1].path.endswith(
            "/audio/speech"
        ):
            return self.fake.speech_pcm
        return CHAT_REPLY


def _openai_style(
    env_for: Callable[[FakeHttpApi], dict[str, str]], credential: str
) -> UpstreamFactory:
    @asynccontextmanager
    async def start(tmp_path: Path) -> AsyncIterator[Upstream]:
        async with FakeOpenAIApi() as fake:
            fake.chat_reply = CHAT_REPLY
            yield _HttpApiUpstream(fake, env_for(fake), credential)

    return start


def openai_env(fake: FakeHttpApi) -> dict[str, str]:
    return {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.url + "/v1"}


def azure_openai_env(fake: FakeHttpApi) -> dict[str, str]:
    return {"AZURE_OPENAI_ENDPOINT": fake.url, "AZURE_OPENAI_API_KEY": fake.api_key}


def gateway_env(prefix: str) -> Callable[[FakeHttpApi], dict[str, str]]:
    def env(fake: FakeHttpApi) -> dict[str, str]:
        return {
            f"{prefix}_BASE_URL": f"{fake.url}/{prefix.lower()}/v1",
            f"{prefix}_API_KEY": fake.api_key,
            "CLARITY_MODEL": "clarity-large",
        }

    return env


openai = _openai_style(openai_env, "OPENAI_API_KEY")
azure_openai = _openai_style(azure_openai_env, "AZURE_OPENAI_API_KEY")
aigames = _openai_style(gateway_env("AIGAMES"), "AIGAMES_API_KEY")
clarity = _openai_style(gateway_env("CLARITY"), "CLARITY_API_KEY")
bayer = _openai_style(gateway_env("BAYER"), "BAYER_API_KEY")


@asynccontextmanager
async def mistral(tmp_path: Path) -> AsyncIterator[Upstream]:
    async with FakeMistralApi() as fake:
        env = {"MISTRAL_API_KEY": fake.api_key, "MISTRAL_BASE_URL": fake.url}
        yield _HttpApiUpstream(fake, env, "MISTRAL_API_KEY")


class _AwsUpstream:
    """Bedrock, Polly and Transcribe: scripted scenarios, SigV4 keys from ``aws_env``."""

    credential = "AWS_ACCESS_KEY_ID"
    secrets: tuple[str, ...] = (SECRET_ACCESS_KEY,)

    def __init__(
        self, fake: FakeBedrockRuntime | FakePolly | FakeTranscribeStreaming, env: dict[str, str]
    ) -> None:
        self.fake = fake
        self.env = env
        if isinstance(fake, FakeBedrockRuntime):
            self.server_error_text, self.timeout_text = "InternalServerException", "ReadTimeout"
        elif isinstance(fake, FakePolly):
            self.server_error_text, self.timeout_text = "ServiceFailureException", "ReadTimeout"
        else:
            self.server_error_text, self.timeout_text = "InternalFailureException", "timed out"

    def without_credential(self) -> dict[str, str]:
        # Both keys go: botocore takes a lone secret for a broken pair, not for "none set".
        return {
            k: v
            for k, v in self.env.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        }

    def fail(self, status: int, times: int | None) -> None:
        scenario: Literal["throttle", "error500"] = "throttle" if status == 429 else "error500"
        self.fake.scenarios.clear()
        self.fake.scenarios.extend([scenario] * (times if times is not None else 20))

    def hang(self) -> None:
        self.fake.scenarios.clear()
        self.fake.scenarios.append("hang")

    def slow_down(self) -> None:
        if not isinstance(self.fake, FakeTranscribeStreaming):
            self.fake.gate = asyncio.Event()
            self.fake.pace_s = 0.02

    def release(self) -> None:
        if not isinstance(self.fake, FakeTranscribeStreaming) and self.fake.gate is not None:
            self.fake.gate.set()

    @property
    def attempts(self) -> int:
        if isinstance(self.fake, FakeTranscribeStreaming):
            return len(self.fake.sessions)
        return len(self.fake.calls)

    @property
    def hung_up(self) -> asyncio.Event:
        if isinstance(self.fake, FakeTranscribeStreaming):
            return self.fake.hung_up
        return self.fake.calls[-1].hung_up

    @property
    def audio_received(self) -> asyncio.Event | None:
        if isinstance(self.fake, FakeTranscribeStreaming):
            return self.fake.audio_received
        return None

    def answered(self) -> str | bytes:
        if isinstance(self.fake, FakeBedrockRuntime):
            return self.fake.calls[-1].answered
        if isinstance(self.fake, FakePolly):
            return self.fake.calls[-1].served
        return self.fake.sessions[-1].answered_text


@asynccontextmanager
async def bedrock(tmp_path: Path) -> AsyncIterator[Upstream]:
    fake = FakeBedrockRuntime()
    await fake.start()
    try:
        yield _AwsUpstream(fake, aws_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.endpoint))
    finally:
        await fake.stop()


@asynccontextmanager
async def polly(tmp_path: Path) -> AsyncIterator[Upstream]:
    fake = FakePolly()
    await fake.start()
    try:
        yield _AwsUpstream(fake, aws_env(AWS_ENDPOINT_URL_POLLY=fake.endpoint))
    finally:
        await fake.stop()


@asynccontextmanager
async def transcribe(tmp_path: Path) -> AsyncIterator[Upstream]:
    fake = FakeTranscribeStreaming()
    await fake.start(tmp_path)
    env = aws_env(
        AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING=fake.endpoint, AWS_CA_BUNDLE=str(fake.ca_file)
    )
    try:
        yield _AwsUpstream(fake, env)
    finally:
        await fake.stop()


class _GoogleUpstream:
    """Speech-to-Text and Text-to-Speech over gRPC; HTTP statuses map to gRPC codes."""

    credential = "GOOGLE_APPLICATION_CREDENTIALS"
    secrets: tuple[str, ...] = ()
    server_error_text = "INTERNAL"
    timeout_text = "timed out"

    def __init__(self, fake: GoogleSpeechFake, env: dict[str, str], tmp_path: Path) -> None:
        self.fake = fake
        self.env = env
        self._tmp_path = tmp_path

    def without_credential(self) -> dict[str, str]:
        # No endpoint override (which means "no credentials needed"), and no gcloud or metadata
        # server to fall back on.
        return {"CLOUDSDK_CONFIG": str(self._tmp_path), "NO_GCE_CHECK": "true"}

    def fail(self, status: int, times: int | None) -> None:
        code = {429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL}[status]
        self.fake.failures = Failures(code, count=times if times is not None else 100)

    def hang(self) -> None:
        self.fake.failures = Failures(delay_s=2.0)

    def slow_down(self) -> None:
        pass  # the fake already pauses between pieces

    def release(self) -> None:
        pass

    @property
    def attempts(self) -> int:
        return self.fake.calls

    @property
    def hung_up(self) -> asyncio.Event:
        return self.fake.call_cancelled

    @property
    def audio_received(self) -> asyncio.Event | None:
        return self.fake.first_audio_received

    def answered(self) -> str | bytes:
        return self.fake.served_pcm


@asynccontextmanager
async def google_speech(tmp_path: Path) -> AsyncIterator[Upstream]:
    fake = GoogleSpeechFake()
    await fake.start()
    env = {"GOOGLE_STT_ENDPOINT": fake.endpoint, "GOOGLE_TTS_ENDPOINT": fake.endpoint}
    try:
        yield _GoogleUpstream(fake, env, tmp_path)
    finally:
        await fake.stop()


class _AzureSpeechUpstream:
    credential = "AZURE_SPEECH_KEY"
    secrets: tuple[str, ...] = (AZURE_SPEECH_KEY,)
    server_error_text = "HTTP 500"
    timeout_text = "timed out"

    def __init__(self, fake: AzureSpeechFake) -> None:
        self.fake = fake
        self.env = {"AZURE_SPEECH_KEY": AZURE_SPEECH_KEY, "AZURE_SPEECH_ENDPOINT": fake.url}

    def without_credential(self) -> dict[str, str]:
        return {"AZURE_SPEECH_ENDPOINT": self.fake.url}

    def fail(self, status: int, times: int | None) -> None:
        self.fake.fail_status, self.fake.fail_count = status, times if times is not None else 100

    def hang(self) -> None:
        self.fake.delay_s = 2.0

    def slow_down(self) -> None:
        self.fake.pace_s = 0.05

    def release(self) -> None:
        pass

    @property
    def attempts(self) -> int:
        return self.fake.requests

    @property
    def hung_up(self) -> asyncio.Event:
        return self.fake.hung_up

    @property
    def audio_received(self) -> asyncio.Event | None:
        return None

    def answered(self) -> str | bytes:
        return self.fake.served_pcm


@asynccontextmanager
async def azure_speech(tmp_path: Path) -> AsyncIterator[Upstream]:
    fake = AzureSpeechFake()
    await fake.start()
    try:
        yield _AzureSpeechUpstream(fake)
    finally:
        await fake.stop()
