"""One row of generated/catalog.py: what the contract allows for one provider of one stage."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderCatalog:
    """What the contract allows for one provider of one stage."""

    stage: enum.StrEnum  # the contract's Stage
    provider: str
    models: tuple[str, ...]
    default_model: str
    voices: tuple[str, ...] | None = None  # tts only; empty when voices are a pattern
    voice_pattern: str | None = None  # tts google: a voice name pattern instead of a list
    default_voice: str | None = None  # tts only

    def accepts_model(self, model: str) -> bool:
        return model in self.models

    def accepts_voice(self, voice: str) -> bool:
        if self.voices is None:
            return False
        if self.voice_pattern is not None:
            return re.search(self.voice_pattern, voice) is not None
        return voice in self.voices
