"""In-process fake providers, injected under the contract name ``local`` through the registry.

* ``instant``: answer at once (the capacity and memory benchmarks measure the server alone).
* ``latency``: simulated provider latency (the time-to-first-audio benchmark); see ``Profile``.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Self

from handlers.providers.base import (
    LlmRequest,
    PcmChunk,
    Stage,
    SttRequest,
    Transcript,
    TtsRequest,
)
from handlers.providers.registry import Factory, ProviderRegistry
from handlers.providers.toolkit import NothingToClose


class Counters:
    """What the fakes saw, for the server's /bench/stats (one process, one event loop)."""

    stt_chunks = 0
    stt_bytes = 0
    transcripts = 0


# -- instant ---------------------------------------------------------------------------------------


class InstantSpeechToText(NothingToClose):
    """Reads the audio as it arrives and answers as soon as the client commits."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        del request
        async for chunk in audio:
            Counters.stt_chunks += 1
            Counters.stt_bytes += len(chunk)
        Counters.transcripts += 1
        return Transcript("what is the weather like today", "en-US")


class InstantLanguageModel(NothingToClose):
    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        del request
        for delta in ("It", " is", " sunny."):
            yield delta


class InstantTextToSpeech(NothingToClose):
    """20 ms of silence per sentence, at the rate the session asks for (no resampling)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        del text
        yield PcmChunk(bytes(2 * (request.sample_rate // 50)), request.sample_rate)


# -- simulated latency -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """The issue's provider latencies, and the reply they produce."""

    stt_s: float = 0.300
    """Transcript this long after the audio ends (the commit)."""
    llm_first_token_s: float = 0.200
    llm_tokens_per_s: float = 30.0
    tts_first_audio_s: float = 0.150
    """First audio this long after the text arrives; then audio comes in real time."""
    tts_chunk_s: float = 0.050
    speech_chars_per_s: float = 15.0
    """How long the simulated speech of a text is: about 15 characters a second."""
    output_rate: int = 24000
    reply: str = "Sure, I can help with that. It looks mild and dry today."

    @property
    def tokens(self) -> list[str]:
        return re.findall(r"\s*\S+", self.reply)

    def token_at(self, index: int) -> float:
        """When token ``index`` (0-based) arrives, from the LLM call."""
        return self.llm_first_token_s + index / self.llm_tokens_per_s

    def speech_chunks(self, text: str) -> int:
        return max(1, math.ceil(len(text.strip()) / self.speech_chars_per_s / self.tts_chunk_s))

    def speech_s(self, text: str) -> float:
        """Seconds of audio the fake TTS makes for ``text``."""
        return self.speech_chunks(text) * self.tts_chunk_s

    def tts_done_s(self, text: str) -> float:
        """When the last chunk of ``text`` is out, from the TTS call."""
        return self.tts_first_audio_s + (self.speech_chunks(text) - 1) * self.tts_chunk_s

    def first_sentence(self) -> tuple[str, int]:
        """The reply's first sentence and the index of the token that ends it."""
        text = ""
        for index, token in enumerate(self.tokens):
            text += token
            if token.rstrip().endswith((".", "!", "?")):
                return text.strip(), index
        return text.strip(), len(self.tokens) - 1


PROFILE = Profile()


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


class SlowSpeechToText(NothingToClose):
    """Reads the audio as it arrives; the transcript comes ``stt_s`` after the commit."""

    profile = PROFILE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        del request
        async for chunk in audio:
            Counters.stt_chunks += 1
            Counters.stt_bytes += len(chunk)
        await asyncio.sleep(self.profile.stt_s)
        Counters.transcripts += 1
        return Transcript("what is the weather like today", "en-US")


class SlowLanguageModel(NothingToClose):
    """First token after ``llm_first_token_s``, then ``llm_tokens_per_s`` (one word a token)."""

    profile = PROFILE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        del request
        start = asyncio.get_running_loop().time()
        for index, token in enumerate(self.profile.tokens):
            await _sleep_until(start + self.profile.token_at(index))
            yield token


class SlowTextToSpeech(NothingToClose):
    """First chunk ``tts_first_audio_s`` after the call, then one ``tts_chunk_s`` chunk per
    ``tts_chunk_s``: a real-time streaming synthesiser."""

    profile = PROFILE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env
        return cls()

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        rate = request.sample_rate
        chunk = bytes(2 * round(rate * self.profile.tts_chunk_s))
        start = asyncio.get_running_loop().time()
        for index in range(self.profile.speech_chunks(text)):
            await _sleep_until(
                start + self.profile.tts_first_audio_s + index * self.profile.tts_chunk_s
            )
            yield PcmChunk(chunk, rate)


# -- registries ------------------------------------------------------------------------------------

PROVIDER_SETS = ("instant", "latency", "local")


def registry(providers: str, env: Mapping[str, str]) -> ProviderRegistry:
    """A registry whose ``local`` providers are the fakes named by ``providers``.

    ``local`` keeps the real embedded engines (pocketsphinx, the demo responder, espeak-ng).
    """
    factories: dict[Stage, dict[str, Factory]]
    if providers == "instant":
        factories = {
            "stt": {"local": InstantSpeechToText.from_env},
            "llm": {"local": InstantLanguageModel.from_env},
            "tts": {"local": InstantTextToSpeech.from_env},
        }
    elif providers == "latency":
        factories = {
            "stt": {"local": SlowSpeechToText.from_env},
            "llm": {"local": SlowLanguageModel.from_env},
            "tts": {"local": SlowTextToSpeech.from_env},
        }
    elif providers == "local":
        factories = {}
    else:
        raise ValueError(f"unknown provider set {providers!r}; one of {PROVIDER_SETS}")
    return ProviderRegistry(env, factories)
