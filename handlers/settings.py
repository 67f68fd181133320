"""A session's effective settings: their defaults, how a `session.update` merges into them, and
the provider requests (STT, LLM, TTS) they make: every request is built here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from codegen.runtime import ClientError
from generated.catalog import (
    CATALOG,
    DEFAULT_SSML_GENDER,
    DEFAULT_TTS_RESPONSE_TYPE,
    LLM,
    STT,
    TTS,
)
from generated.models import (
    Animation,
    ErrorCode,
    InputAudio,
    LlmSettings,
    OutputAudio,
    SessionUpdate,
    SessionUpdated,
    Stage,
    SttSettings,
    TtsSettings,
    TurnDetection,
)
from handlers.providers.base import ChatMessage, LlmRequest, SttRequest, TtsRequest
from handlers.providers.base import Stage as ProviderStage
from handlers.providers.choice import choose_model
from handlers.providers.lifecycle import ModelRefused

DEFAULT_INSTRUCTIONS = (
    "You are a friendly digital human having a spoken conversation. "
    "Answer briefly, in one to three short sentences, without lists or markup."
)

DEFAULT_TURN_DETECTION = TurnDetection.model_validate(
    # OpenAI Realtime's server_vad defaults; off, so the seed's explicit commits are unchanged.
    {
        "type": "none",
        "threshold": 0.5,
        "prefixPaddingMs": 300,
        "silenceDurationMs": 500,
        "minSpeechMs": 250,
        "interruptResponse": True,
    }
)


@dataclass(frozen=True, slots=True)
class Settings:
    """What a session uses, every default resolved; a turn keeps those in force at its commit."""

    stt: SttSettings
    llm: LlmSettings
    tts: TtsSettings
    input_audio: InputAudio
    output_audio: OutputAudio
    animation: Animation
    turn_detection: TurnDetection = field(default_factory=lambda: DEFAULT_TURN_DETECTION)

    @classmethod
    def defaults(cls) -> Settings:
        """The embedded offline configuration: every stage on its `local` provider, with the
        contract's default models, voice, response type and SSML gender. The contract declares
        no default language, speed, temperature, token limit or audio encoding: those are ours."""
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
                    "responseType": DEFAULT_TTS_RESPONSE_TYPE,
                    "ssmlGender": DEFAULT_SSML_GENDER,
                    "language": "en-US",
                    "speed": 1.0,
                }
            ),
            input_audio=InputAudio.model_validate({"format": "pcm16", "sampleRate": 16000}),
            output_audio=OutputAudio.model_validate({"format": "pcm16", "sampleRate": 24000}),
            animation=Animation(visemes=True, words=True),
        )

    def session_updated(self, session_id: str) -> SessionUpdated:
        """The `session.updated` payload showing these settings."""
        return SessionUpdated(
            session_id=session_id,
            stt=self.stt,
            llm=self.llm,
            tts=self.tts,
            input_audio=self.input_audio,
            output_audio=self.output_audio,
            animation=self.animation,
            turn_detection=self.turn_detection,
        )

    def stt_request(self) -> SttRequest:
        return SttRequest(
            model=self.stt.model,
            language=self.stt.language,
            sample_rate=self.input_audio.sample_rate,
        )

    def llm_request(self, history: Iterable[ChatMessage], user_text: str) -> LlmRequest:
        """The request answering ``user_text`` after the conversation ``history``."""
        return LlmRequest(
            model=self.llm.model,
            instructions=self.llm.instructions,
            messages=(*history, ChatMessage("user", user_text)),
            temperature=self.llm.temperature,
            max_output_tokens=self.llm.max_output_tokens,
        )

    def tts_request(self) -> TtsRequest:
        return TtsRequest(
            model=self.tts.model,
            voice=self.tts.voice,
            language=self.tts.language,
            ssml_gender=self.tts.ssml_gender.value,
            speed=self.tts.speed,
            sample_rate=self.output_audio.sample_rate,
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
    try:  # the lifecycle: a retired model's successor; a voice the model does not take
        merged = choose_model(stage, merged, changes)
    except ModelRefused as refused:
        raise ClientError(
            ErrorCode(refused.code),
            refused.message,
            stage=Stage(stage),
            provider=str(merged["provider"]),
        ) from None
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
    for name in ("input_audio", "output_audio", "animation", "turn_detection"):
        audio_update = getattr(update, name)
        if audio_update is not None:
            current = getattr(settings, name)
            merged = {**current.model_dump(), **audio_update.model_dump(exclude_unset=True)}
            changed = replace(changed, **{name: type(current).model_validate(merged)})
    _check_input_rate(changed)
    return changed


LOCAL_STT_MIN_RATE = 16000
"""The local recogniser's acoustic model is trained on 16 kHz speech (pocketsphinx en-us)."""


def _check_input_rate(settings: Settings) -> None:
    """Refuse input the local recogniser would turn into nonsense: narrow-band (8 kHz) audio,
    upsampled, lacks the 4-8 kHz band its model expects ("what a what" for "what is the weather
    like today"). A cloud recogniser takes it."""
    rate = settings.input_audio.sample_rate
    if settings.stt.provider.value == "local" and rate < LOCAL_STT_MIN_RATE:
        raise ClientError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"the local recogniser needs {LOCAL_STT_MIN_RATE} Hz input or more; {rate} Hz"
            " speech comes out as nonsense: send 16 kHz audio, or choose another stt provider",
            stage=Stage.STT,
            provider="local",
        )
