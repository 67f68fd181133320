"""Failover per stage: an ordered list of providers; a turn moves on to the next when one fails.

Like LiveKit's ``FallbackAdapter`` and Pipecat's ``ServiceSwitcher``, as one wrapper provider per
stage, so the pipeline does not know about it: the registry hands a session's turn the wrapper of
the provider the session chose when the operator lists that provider for failover.

Operator configuration (environment):

``METAHUMAN_STT_FALLBACK``, ``METAHUMAN_LLM_FALLBACK``, ``METAHUMAN_TTS_FALLBACK``
    Comma-separated provider names in order, e.g. ``openai,local``. A session on a listed
    provider tries it first and then the others in list order; a provider not in the list has no
    failover. Fallback providers serve with their own default model and voice.
``METAHUMAN_FALLBACK_FAILURES`` (default 3), ``METAHUMAN_FALLBACK_COOLDOWN_S`` (default 30)
    A provider that failed this many turns in a row is skipped for the cool-down (a circuit
    breaker); if every provider is cooling down, all are tried in order anyway.

Rules: a *transient* failure (timeout, connection error, 429, 5xx) before any output moves the
turn to the next provider. Once a delta or audio chunk has gone out, nothing moves: the error
says the reply had begun. A non-transient failure (a bad request, a refused key) is the
session's or the operator's to fix and is raised at once. The Sender learns of a failure only
when every provider failed. Logs say which provider served a turn after a failover.

Speech-to-text reads the audio as it arrives; the wrapper keeps what it read, so the next
provider hears the whole utterance from its start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Self, TypeVar, cast

from handlers.providers.base import (
    LanguageModel,
    LlmRequest,
    PcmChunk,
    ProviderError,
    SpeechToText,
    Stage,
    SttRequest,
    TextToSpeech,
    Transcript,
    TtsRequest,
)

logger = logging.getLogger(__name__)

FALLBACK_ENV: Final[Mapping[Stage, str]] = {
    "stt": "METAHUMAN_STT_FALLBACK",
    "llm": "METAHUMAN_LLM_FALLBACK",
    "tts": "METAHUMAN_TTS_FALLBACK",
}
FAILURES_ENV: Final = "METAHUMAN_FALLBACK_FAILURES"
COOLDOWN_ENV: Final = "METAHUMAN_FALLBACK_COOLDOWN_S"

ProviderT = TypeVar("ProviderT", SpeechToText, LanguageModel, TextToSpeech)


@dataclass(frozen=True)
class FallbackConfig:
    """The operator's failover lists and circuit-breaker settings."""

    chains: Mapping[Stage, tuple[str, ...]]
    failures: int = 3
    cooldown_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        chains: dict[Stage, tuple[str, ...]] = {}
        for stage, variable in FALLBACK_ENV.items():
            names = [name.strip() for name in env.get(variable, "").split(",")]
            chains[stage] = tuple(dict.fromkeys(name for name in names if name))
        return cls(
            chains,
            failures=max(1, int(env.get(FAILURES_ENV, "3"))),
            cooldown_s=float(env.get(COOLDOWN_ENV, "30")),
        )

    def chain(self, stage: Stage, name: str) -> tuple[str, ...]:
        """``name`` first, then the other listed providers; just ``name`` when it is unlisted."""
        listed = self.chains.get(stage, ())
        if name not in listed:
            return (name,)
        return (name, *(other for other in listed if other != name))


class CircuitBreaker:
    """Consecutive transient failures per provider; ``failures`` in a row open the breaker for
    ``cooldown_s``. Shared by every session of a process (provider health is not per session)."""

    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._failures = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._in_a_row: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def usable(self, name: str) -> bool:
        return self._clock() >= self._open_until.get(name, 0.0)

    def failed(self, name: str) -> None:
        count = self._in_a_row.get(name, 0) + 1
        self._in_a_row[name] = count
        if count >= self._failures:
            self._open_until[name] = self._clock() + self._cooldown_s
            self._in_a_row[name] = 0
            logger.warning("%s failed %d times in a row: skipped for %.0f s", name, count,
                           self._cooldown_s)  # fmt: skip

    def succeeded(self, name: str) -> None:
        self._in_a_row.pop(name, None)
        self._open_until.pop(name, None)


@dataclass(frozen=True)
class Candidate(Generic[ProviderT]):
    """One provider of a failover list. ``model``/``voice``: what a fallback serves with (its own
    defaults); None for the session's own provider, which serves the request as it is."""

    name: str
    provider: ProviderT
    model: str | None = None
    voice: str | None = None


class AllProvidersFailed(ProviderError):
    def __init__(self, stage: Stage, failures: Sequence[tuple[str, ProviderError]]) -> None:
        detail = "; ".join(f"{name}: {error}" for name, error in failures)
        super().__init__(
            f"every {stage} provider failed ({detail})",
            transient=all(error.transient for _, error in failures),
        )


ItemT = TypeVar("ItemT")


class _Failover(Generic[ProviderT]):
    stage: Stage

    def __init__(self, candidates: Sequence[Candidate[ProviderT]], breaker: CircuitBreaker) -> None:
        self.candidates: tuple[Candidate[ProviderT], ...] = tuple(candidates)
        self._breaker = breaker

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        raise TypeError("built by the provider registry from METAHUMAN_*_FALLBACK")

    async def aclose(self) -> None:
        """Nothing: the registry closes the providers it built."""

    def _order(self) -> list[Candidate[ProviderT]]:
        usable = [c for c in self.candidates if self._breaker.usable(c.name)]
        return usable or list(self.candidates)

    def _failed(self, candidate: Candidate[ProviderT], error: ProviderError) -> None:
        self._breaker.failed(candidate.name)
        logger.warning("%s provider %s failed before any output: %s", self.stage,
                       candidate.name, error)  # fmt: skip

    def _served(self, candidate: Candidate[ProviderT], failures: int) -> None:
        self._breaker.succeeded(candidate.name)
        if failures:
            logger.info("%s turn served by %s after %d failed", self.stage, candidate.name,
                        failures)  # fmt: skip

    def _after_output(self, candidate: Candidate[ProviderT], error: ProviderError) -> ProviderError:
        self._breaker.failed(candidate.name)
        return ProviderError(
            f"{self.stage} provider {candidate.name} failed after its output began "
            f"(no failover once a client has received part of a reply): {error}",
            transient=False,
        )

    async def _stream(
        self, open_stream: Callable[[Candidate[ProviderT]], AsyncIterator[ItemT]]
    ) -> AsyncGenerator[ItemT, None]:
        """Each candidate's stream in turn until one ends well; no failover once any of it
        went out (the client has heard it)."""
        failures: list[tuple[str, ProviderError]] = []
        for candidate in self._order():
            started = False
            try:
                stream = _closable(open_stream(candidate))
                async with contextlib.aclosing(stream):
                    async for item in stream:
                        started = True
                        yield item
            except ProviderError as error:
                if started:
                    raise self._after_output(candidate, error) from error
                if not error.transient:
                    raise
                self._failed(candidate, error)
                failures.append((candidate.name, error))
                continue
            self._served(candidate, len(failures))
            return
        raise AllProvidersFailed(self.stage, failures)


class FallbackSpeechToText(_Failover[SpeechToText]):
    stage: Stage = "stt"

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        replay = _Replay(audio)
        failures: list[tuple[str, ProviderError]] = []
        for candidate in self._order():
            asked = request if candidate.model is None else _with(request, model=candidate.model)
            try:
                transcript = await candidate.provider.transcribe(replay.from_start(), asked)
            except ProviderError as error:
                if not error.transient:
                    raise
                self._failed(candidate, error)
                failures.append((candidate.name, error))
                continue
            self._served(candidate, len(failures))
            return transcript
        raise AllProvidersFailed(self.stage, failures)


class FallbackLanguageModel(_Failover[LanguageModel]):
    stage: Stage = "llm"

    def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        def open_stream(candidate: Candidate[LanguageModel]) -> AsyncIterator[str]:
            asked = request if candidate.model is None else _with(request, model=candidate.model)
            return candidate.provider.respond(asked)

        return self._stream(open_stream)


class FallbackTextToSpeech(_Failover[TextToSpeech]):
    stage: Stage = "tts"

    def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        def open_stream(candidate: Candidate[TextToSpeech]) -> AsyncIterator[PcmChunk]:
            asked = request
            if candidate.model is not None:
                asked = _with(request, model=candidate.model, voice=candidate.voice or "default")
            return candidate.provider.synthesize(text, asked)

        return self._stream(open_stream)


def _closable(stream: AsyncIterator[ItemT]) -> AsyncGenerator[ItemT, None]:
    """Providers' streams are async generators (base.py); typed so they can be aclosing()ed."""
    return cast(AsyncGenerator[ItemT, None], stream)


RequestT = TypeVar("RequestT", SttRequest, LlmRequest, TtsRequest)


def _with(request: RequestT, *, model: str, voice: str | None = None) -> RequestT:
    if isinstance(request, TtsRequest) and voice is not None:
        return dataclasses.replace(request, model=model, voice=voice)
    return dataclasses.replace(request, model=model)


class _Replay:
    """The utterance's audio as read so far, replayable from its start by the next provider,
    then continued from the live source."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._read: list[bytes] = []
        self._done = False

    async def from_start(self) -> AsyncIterator[bytes]:
        index = 0
        while True:
            if index < len(self._read):
                yield self._read[index]
                index += 1
                continue
            if self._done:
                return
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                self._done = True
                return
            self._read.append(chunk)


WRAPPERS: Final[Mapping[Stage, type[_Failover[SpeechToText] | _Failover[LanguageModel]
                                   | _Failover[TextToSpeech]]]] = {
    "stt": FallbackSpeechToText,
    "llm": FallbackLanguageModel,
    "tts": FallbackTextToSpeech,
}  # fmt: skip
