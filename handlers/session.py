"""Session state: effective settings, conversation history and the ordered queue of turns."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from codegen.runtime import ClientError
from generated.catalog import CATALOG, LLM, STT, TTS
from generated.models import (
    ErrorCode,
    InputAudio,
    LlmSettings,
    OutputAudio,
    SessionUpdate,
    SessionUpdated,
    Stage,
    SttSettings,
    TtsSettings,
)
from handlers.pipeline import Turn
from handlers.providers.base import ChatMessage
from handlers.providers.base import Stage as ProviderStage
from handlers.utterance import Utterance

DEFAULT_INSTRUCTIONS = (
    "You are a friendly digital human having a spoken conversation. "
    "Answer briefly, in one to three short sentences, without lists or markup."
)


@dataclass(frozen=True, slots=True)
class Settings:
    stt: SttSettings
    llm: LlmSettings
    tts: TtsSettings
    input_audio: InputAudio
    output_audio: OutputAudio

    @classmethod
    def defaults(cls) -> Settings:
        """The embedded offline configuration: every stage on its `local` provider."""
        stt, llm, tts = STT["local"], LLM["local"], TTS["local"]
        return cls(
            stt=SttSettings.model_validate(
                {"provider": "local", "model": stt.default_model, "language": "en-US"}
            ),
            llm=LlmSettings.model_validate(
                {
                    "provider": "local",
                    "model": llm.default_model,
                    "instructions": DEFAULT_INSTRUCTIONS,
                    "temperature": 0.7,
                    "maxOutputTokens": 256,
                }
            ),
            tts=TtsSettings.model_validate(
                {
                    "provider": "local",
                    "model": tts.default_model,
                    "voice": tts.default_voice,
                    "responseType": "chain",
                    "ssmlGender": "unspecified",
                    "language": "en-US",
                    "speed": 1.0,
                }
            ),
            input_audio=InputAudio.model_validate({"format": "pcm16", "sampleRate": 16000}),
            output_audio=OutputAudio.model_validate({"format": "pcm16", "sampleRate": 24000}),
        )

    def describe(self, session_id: str) -> SessionUpdated:
        return SessionUpdated(
            session_id=session_id,
            stt=self.stt,
            llm=self.llm,
            tts=self.tts,
            input_audio=self.input_audio,
            output_audio=self.output_audio,
        )


ProviderCheck = Callable[[ProviderStage, str], "str | None"]
"""(stage, provider) -> why it is unavailable, or None."""


def _merge_stage(stage: ProviderStage, current: Any, update: Any, check: ProviderCheck) -> Any:
    """Merge one stage's partial update (a oneOf variant) into its effective settings."""
    changes: dict[str, Any] = update.model_dump(exclude_unset=True)
    merged: dict[str, Any] = current.model_dump()
    provider = changes.get("provider")
    if provider is not None:
        reason = check(stage, provider)
        if reason is not None:
            raise ClientError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"{stage} provider {provider!r} is not available on this server: {reason}",
                stage=Stage(stage),
                provider=provider,
            )
        if provider != current.provider.value:
            entry = CATALOG[Stage(stage)][provider]
            merged["model"] = entry.default_model
            if "voice" in merged:
                merged["voice"] = entry.default_voice
    merged.update(changes)
    return type(current).model_validate(merged)


def requested_providers(update: SessionUpdate) -> list[tuple[ProviderStage, str]]:
    """The (stage, provider) pairs ``update`` asks for, to check before ``apply_update``."""
    stages: tuple[ProviderStage, ...] = ("stt", "llm", "tts")
    requested: list[tuple[ProviderStage, str]] = []
    for stage in stages:
        stage_update = getattr(update, stage)
        changes = {} if stage_update is None else stage_update.model_dump(exclude_unset=True)
        provider = changes.get("provider")
        if provider is not None:
            requested.append((stage, str(provider)))
    return requested


def apply_update(settings: Settings, update: SessionUpdate, check: ProviderCheck) -> Settings:
    """The settings after ``update``; raises ClientError, changing nothing, when it cannot apply."""
    changed = settings
    stages: tuple[ProviderStage, ...] = ("stt", "llm", "tts")
    for stage in stages:
        stage_update = getattr(update, stage)
        if stage_update is not None:
            merged = _merge_stage(stage, getattr(settings, stage), stage_update, check)
            changed = replace(changed, **{stage: merged})
    for name in ("input_audio", "output_audio"):
        audio_update = getattr(update, name)
        if audio_update is not None:
            current = getattr(settings, name)
            merged = {**current.model_dump(), **audio_update.model_dump(exclude_unset=True)}
            changed = replace(changed, **{name: type(current).model_validate(merged)})
    return changed


class Session:
    """One conversation (a session id) on this node: its Senders, Receivers and turns."""

    def __init__(self, session_id: str, settings: Settings, history_turns: int) -> None:
        self.session_id = session_id
        self.settings = settings
        self.history: deque[ChatMessage] = deque(maxlen=2 * history_turns)
        self.clients: set[str] = set()
        self.utterances: dict[str, Utterance] = {}
        """The utterance each Sender is speaking, by sid."""
        self.turns: deque[Turn] = deque()
        self.worker: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return not self.clients and self.worker is None and not self.utterances
