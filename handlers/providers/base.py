"""The three small streaming interfaces every provider implements, and their errors.

A provider is one class in one module. It is built once per process by
``from_env(env)`` (credentials come from the environment, never from clients)
and then serves every session concurrently, so it keeps no per-session state.

* STT: ``transcribe(audio, request)`` consumes PCM16 chunks *as they arrive*
  (the turn starts the call at the first chunk of an utterance, so streaming
  recognisers work while the person speaks) and returns the transcript once the
  iterator ends (the client committed).
* LLM: ``respond(request)`` is an async generator of text deltas.
* TTS: ``synthesize(text, request)`` is an async generator of PCM16 chunks. A provider that knows
  when each viseme and word sounds (espeak-ng's events, Polly's speech marks) puts it on the
  chunks (``PcmChunk.timeline``) where ``request.timings`` asks; one that does not leaves it None
  and the server estimates the timings from the audio (``handlers.animation.track``).

Every provider also has ``async def aclose()``: the server calls it at shutdown, and a provider
that holds connections or threads closes them there (one that holds none does nothing).

``handlers.providers.toolkit`` has what providers share (redaction, the HTTP status rule, a client
per event loop, the bridge from worker threads); ``handlers.audio.WholeSamples`` re-cuts a byte
stream into whole PCM16 samples.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol, Self

from handlers.animation.timeline import Timeline

Stage = Literal["stt", "llm", "tts"]
TimingsWanted = Literal["none", "final", "each_chunk"]
"""Which chunks need ``PcmChunk.timeline``: none; the last (the call's audio goes out as one
delta); every one (each chunk goes out as it comes)."""


CALLER: ContextVar[str] = ContextVar("metahuman_caller", default="")
"""Whom a provider call is for (the session id), for engines shared fairly between callers
(the local recogniser's decoders are handed out round-robin by caller). Set it around the
call that starts the provider's task."""


class ProviderUnavailable(Exception):
    """The provider cannot be used on this machine: a credential or a package is missing.

    The message says which variable or package, never a secret's value.
    """


class ProviderError(Exception):
    """A provider call failed. ``transient`` errors (timeouts, 429, 5xx) may be retried."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SttRequest:
    model: str
    language: str
    """BCP-47 tag, e.g. ``en-US``."""
    sample_rate: int
    """Rate of the PCM16 LE mono chunks the provider is fed."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class LlmRequest:
    model: str
    instructions: str
    messages: tuple[ChatMessage, ...]
    """The conversation so far, oldest first; the last one is the user's new utterance."""
    temperature: float | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TtsRequest:
    model: str
    voice: str
    language: str
    ssml_gender: str
    """``unspecified`` | ``neutral`` | ``male`` | ``female``."""
    speed: float
    sample_rate: int
    """The rate the session wants; a provider may yield another, each chunk says which."""
    timings: TimingsWanted = "none"
    """Which chunks the caller wants ``PcmChunk.timeline`` on; a provider may skip the work
    elsewhere (and may add timelines anywhere: they are never wrong, only maybe unused)."""


@dataclass(frozen=True, slots=True)
class PcmChunk:
    pcm: bytes
    """PCM16 LE mono."""
    sample_rate: int
    timeline: Timeline | None = None
    """The provider's marks for the audio of this ``synthesize`` call so far, in ms from its first
    sample, covering at least this chunk's audio. Each chunk's timeline replaces the one before
    (later events can move a word's end); None where the provider has none (yet)."""


class Provider(Protocol):
    """What every provider has: a constructor from the environment, and ``aclose``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self: ...

    async def aclose(self) -> None: ...


class SpeechToText(Provider, Protocol):
    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript: ...


class LanguageModel(Provider, Protocol):
    def respond(self, request: LlmRequest) -> AsyncIterator[str]: ...


class TextToSpeech(Provider, Protocol):
    def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]: ...


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """Timeout and retry budget for one provider call, the same for every cloud provider.

    Read from ``METAHUMAN_PROVIDER_TIMEOUT_S`` (default 30) and
    ``METAHUMAN_PROVIDER_MAX_RETRIES`` (default 2; retries happen on transient
    failures only: timeouts, 408, 429 and 5xx, before any output was streamed).
    """

    timeout_s: float = 30.0
    max_retries: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallPolicy:
        return cls(
            timeout_s=float(env.get("METAHUMAN_PROVIDER_TIMEOUT_S", "30")),
            max_retries=int(env.get("METAHUMAN_PROVIDER_MAX_RETRIES", "2")),
        )


def require_env(env: Mapping[str, str], *names: str) -> list[str]:
    """Return the values of ``names``; raise ProviderUnavailable naming the missing ones."""
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise ProviderUnavailable("missing environment variable " + ", ".join(missing))
    return [env[name] for name in names]
