"""Provider registry: the contract's provider names, each mapped to the class that serves it.

Adding a provider is one module and one line here. Classes are imported on first
use, so a vendor SDK is loaded only when that provider is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from generated.catalog import CATALOG
from generated.models import Stage as ContractStage
from handlers.providers.base import (
    LanguageModel,
    Provider,
    ProviderUnavailable,
    SpeechToText,
    Stage,
    TextToSpeech,
)
from handlers.providers.fallback import WRAPPERS, Candidate, CircuitBreaker, FallbackConfig
from handlers.providers.lifecycle import ModelRefused, load_lifecycle

STT_PROVIDERS: dict[str, str] = {
    "local": "handlers.providers.stt.local:LocalSpeechToText",
    "openai": "handlers.providers.stt.openai:OpenAISpeechToText",
    "aws": "handlers.providers.stt.aws:AwsSpeechToText",
    "google": "handlers.providers.stt.google:GoogleSpeechToText",
    "mistral": "handlers.providers.stt.mistral:MistralSpeechToText",
}
LLM_PROVIDERS: dict[str, str] = {
    "local": "handlers.providers.llm.local:LocalLanguageModel",
    "openai": "handlers.providers.llm.openai:OpenAILanguageModel",
    "aws": "handlers.providers.llm.aws:BedrockLanguageModel",
    "azure": "handlers.providers.llm.azure:AzureOpenAILanguageModel",
    "aigames": "handlers.providers.llm.gateways:AiGamesLanguageModel",
    "clarity": "handlers.providers.llm.gateways:ClarityLanguageModel",
    "bayer": "handlers.providers.llm.gateways:BayerLanguageModel",
}
TTS_PROVIDERS: dict[str, str] = {
    "local": "handlers.providers.tts.local:LocalTextToSpeech",
    "openai": "handlers.providers.tts.openai:OpenAITextToSpeech",
    "aws": "handlers.providers.tts.aws:PollyTextToSpeech",
    "azure": "handlers.providers.tts.azure:AzureTextToSpeech",
    "google": "handlers.providers.tts.google:GoogleTextToSpeech",
}

PROVIDER_PATHS: dict[Stage, dict[str, str]] = {
    "stt": STT_PROVIDERS,
    "llm": LLM_PROVIDERS,
    "tts": TTS_PROVIDERS,
}

logger = logging.getLogger(__name__)

Factory = Callable[[Mapping[str, str]], object]
"""Builds a provider from the environment; raises ProviderUnavailable."""


def _import_factory(path: str) -> Factory:
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderUnavailable(f"package not installed: {exc.name or exc}") from exc
    cls = getattr(module, class_name)
    return cast(Factory, cls.from_env)


class ProviderRegistry:
    """Builds each provider once per process and hands the same instance to every session.

    ``factories`` replaces or adds providers by stage and name (tests and
    benchmarks inject in-process fakes this way instead of patching modules).

    Building a provider may block (an SDK import, credential files, a model load), so
    ``unavailable_reason`` builds it in a worker thread; the getters ``stt``/``llm``/``tts``
    then find it built (they build on the spot only what nobody asked about first).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        factories: Mapping[Stage, Mapping[str, Factory]] | None = None,
    ) -> None:
        self._env = dict(env)
        self._factories = {stage: dict(f) for stage, f in (factories or {}).items()}
        self._instances: dict[tuple[Stage, str], Provider] = {}
        self._builds: dict[tuple[Stage, str], asyncio.Future[Provider]] = {}
        self._lock = threading.Lock()
        # Failover (handlers.providers.fallback): wrappers of the providers the operator lists.
        self._fallback = FallbackConfig.from_env(self._env)
        self._breakers = {
            stage: CircuitBreaker(self._fallback.failures, self._fallback.cooldown_s)
            for stage in PROVIDER_PATHS
        }
        self._wrappers: dict[tuple[Stage, str], Provider] = {}

    def names(self, stage: Stage) -> list[str]:
        return sorted(set(PROVIDER_PATHS[stage]) | set(self._factories.get(stage, {})))

    def _get(self, stage: Stage, name: str) -> Provider:
        key = (stage, name)
        # The lock makes a build in a worker thread and one on the loop agree on one instance.
        with self._lock:
            instance = self._instances.get(key)
        if instance is not None:
            return instance
        built = cast(Provider, self._factory(stage, name)(self._env))
        with self._lock:
            return self._instances.setdefault(key, built)

    def _factory(self, stage: Stage, name: str) -> Factory:
        factory = self._factories.get(stage, {}).get(name)
        if factory is not None:
            return factory
        path = PROVIDER_PATHS[stage].get(name)
        if path is None:
            raise ProviderUnavailable(f"unknown {stage} provider {name!r}")
        return _import_factory(path)

    def _served(self, stage: Stage, name: str) -> Provider:
        """The provider that serves sessions choosing ``name``: itself, or its failover wrapper
        when the operator lists it (METAHUMAN_<STAGE>_FALLBACK)."""
        chain = self._fallback.chain(stage, name)
        primary = self._get(stage, name)
        if len(chain) == 1:
            return primary
        key = (stage, name)
        with self._lock:
            wrapper = self._wrappers.get(key)
        if wrapper is not None:
            return wrapper
        candidates: list[Candidate[Any]] = [Candidate(name, primary)]
        for other in chain[1:]:
            try:
                candidates.append(self._fallback_candidate(stage, other))
            except ProviderUnavailable as exc:
                logger.warning("%s fallback %s is unavailable: %s", stage, other, exc)
        built = cast(Provider, WRAPPERS[stage](candidates, self._breakers[stage]))
        with self._lock:
            return self._wrappers.setdefault(key, built)

    def _fallback_candidate(self, stage: Stage, name: str) -> Candidate[Any]:
        """``name`` as a fallback: it serves with its own default model (and voice)."""
        provider = self._get(stage, name)
        lifecycle = load_lifecycle(self._env)
        entry = CATALOG.get(ContractStage(stage), {}).get(name)
        model = lifecycle.default(stage, name) or (entry.default_model if entry else "default")
        with contextlib.suppress(ModelRefused):
            model = lifecycle.resolve(stage, name, model).served
        voice = entry.default_voice if entry is not None and stage == "tts" else None
        return Candidate(name, provider, model, voice)

    def stt(self, name: str) -> SpeechToText:
        return cast(SpeechToText, self._served("stt", name))

    def llm(self, name: str) -> LanguageModel:
        return cast(LanguageModel, self._served("llm", name))

    def tts(self, name: str) -> TextToSpeech:
        return cast(TextToSpeech, self._served("tts", name))

    async def unavailable_reason(self, stage: Stage, name: str) -> str | None:
        """Why ``name`` cannot serve ``stage`` here, or None when it can.

        Builds the provider off the event loop; callers asking at the same time share one build.
        A failed build is not remembered: the next call tries again.
        """
        key = (stage, name)
        with self._lock:
            if key in self._instances:
                return None
        build = self._builds.get(key)
        if build is None:
            build = asyncio.ensure_future(asyncio.to_thread(self._served, stage, name))
            self._builds[key] = build
            build.add_done_callback(lambda _: self._builds.pop(key, None))
        try:
            # Shielded: one caller cancelled (its client left) does not cancel the others' build.
            await asyncio.shield(build)
        except ProviderUnavailable as exc:
            return str(exc)
        return None

    async def aclose(self) -> None:
        """Close every provider built so far."""
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for instance in instances:
            await instance.aclose()
