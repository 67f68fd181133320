"""Replies for the animation tests: the repository's speech texts, spoken by the local espeak-ng."""

from __future__ import annotations

import asyncio
import json
import wave
from dataclasses import dataclass

import pytest

from handlers.animation.reference import espeak_timed
from handlers.animation.timeline import Timeline
from tests.data import SPEECH_DIR


@dataclass(frozen=True)
class Reply:
    text: str
    pcm: bytes
    sample_rate: int
    timeline: Timeline


@dataclass(frozen=True)
class Recording:
    text: str
    pcm: bytes
    sample_rate: int


def manifest() -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((SPEECH_DIR / "manifest.json").read_text())
    return entries


@pytest.fixture(scope="session")
def local_replies() -> list[Reply]:
    """Each manifest text, plus a reply with pauses and punctuation, synthesised with timings."""
    texts = [str(entry["text"]) for entry in manifest()]
    texts.append(
        "Hello, how are you? I cannot see the sky from here; what would you like it to be?"
    )

    async def speak_all() -> list[Reply]:
        replies = []
        for text in texts:
            pcm, rate, timeline = await espeak_timed(text)
            replies.append(Reply(text, pcm, rate, timeline))
        return replies

    return asyncio.run(speak_all())


@pytest.fixture(scope="session")
def recordings() -> list[Recording]:
    """The Piper (neural, not espeak-ng) speech fixtures with their texts."""
    out = []
    for entry in manifest():
        with wave.open(str(SPEECH_DIR / str(entry["file"]))) as wav:
            assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
            out.append(
                Recording(str(entry["text"]), wav.readframes(wav.getnframes()), wav.getframerate())
            )
    return out
