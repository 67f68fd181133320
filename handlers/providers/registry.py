"""Provider registry: the contract's provider names, each mapped to the class that serves it.

Adding a provider is one module and one line here. Classes are imported on first
use, so a vendor SDK is loaded only when that provider is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from handlers.providers.base import (
    LanguageModel,
    ProviderUnavailable,
    SpeechToText,
    Stage,
    TextToSpeech,
)

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

Factory = Callable[[Mapping[str, str]], object]
"""Builds a provider from the environment; raises ProviderUnavailable."""

P = TypeVar("P")


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
    """

    def __init__(
        self,
        env: Mapping[str, str],
        factories: Mapping[Stage, Mapping[str, Factory]] | None = None,
    ) -> None:
        self._env = dict(env)
        self._factories = {stage: dict(f) for stage, f in (factories or {}).items()}
        self._instances: dict[tuple[Stage, str], object] = {}

    def names(self, stage: Stage) -> list[str]:
        return sorted(set(PROVIDER_PATHS[stage]) | set(self._factories.get(stage, {})))

    def _get(self, stage: Stage, name: str) -> Any:
        key = (stage, name)
        if key not in self._instances:
            factory = self._factories.get(stage, {}).get(name)
            if factory is None:
                path = PROVIDER_PATHS[stage].get(name)
                if path is None:
                    raise ProviderUnavailable(f"unknown {stage} provider {name!r}")
                factory = _import_factory(path)
            self._instances[key] = factory(self._env)
        return self._instances[key]

    def stt(self, name: str) -> SpeechToText:
        return cast(SpeechToText, self._get("stt", name))

    def llm(self, name: str) -> LanguageModel:
        return cast(LanguageModel, self._get("llm", name))

    def tts(self, name: str) -> TextToSpeech:
        return cast(TextToSpeech, self._get("tts", name))

    async def aclose(self) -> None:
        """Close every provider built so far that holds connections (those with ``aclose``)."""
        instances, self._instances = list(self._instances.values()), {}
        for instance in instances:
            close = getattr(instance, "aclose", None)
            if close is not None:
                await close()

    def check(self, stage: Stage, name: str) -> str | None:
        """Why ``name`` cannot serve ``stage`` here, or None when it can."""
        try:
            self._get(stage, name)
        except ProviderUnavailable as exc:
            return str(exc)
        return None
