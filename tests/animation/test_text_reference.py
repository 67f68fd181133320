"""The estimate's text-only reference: espeak-ng's transcription with typical phoneme lengths."""

from __future__ import annotations

import asyncio
import difflib
import re

import pytest

from generated.models import Viseme
from handlers.animation.reference import REFERENCE_VOICE, reference_timeline
from handlers.animation.text_reference import PhonemeTranscriber, SpokenClause, rate_factor
from handlers.animation.timeline import Timeline
from handlers.providers.tts.local import shared_engine
from tests.animation.conftest import manifest

PUNCTUATED = "Hello, how are you? I cannot see the sky from here; what would you like it to be?"


def clauses(text: str) -> list[SpokenClause]:
    engine = shared_engine()
    return engine.thread.submit(
        lambda: PhonemeTranscriber().clauses(text, REFERENCE_VOICE)
    ).result()


def spoken_shapes(timeline: Timeline) -> list[Viseme]:
    out: list[Viseme] = []
    for mark in timeline.visemes:
        if mark.viseme != Viseme.SIL and (not out or out[-1] != mark.viseme):
            out.append(mark.viseme)
    return out


def test_each_clause_gets_the_words_of_its_own_text() -> None:
    # espeak-ng reads a character past each clause: the words must not slide into the one before.
    text = "Sure, I can help with that; just tell me. Yes, of course."
    got = [[text[w.char_index : w.char_index + w.length] for w in c.words] for c in clauses(text)]
    assert got == [
        ["Sure,"],
        ["I", "can", "help", "with", "that;"],
        ["just", "tell", "me."],
        ["Yes,"],
        ["of", "course."],
    ]
    assert [c.ends_with for c in clauses(text)] == [",", ",", ".", ",", "."]


def test_words_espeak_reads_as_more_or_fewer_keep_their_own_phonemes() -> None:
    # "42" is read as two words and "of the" as one: each text word still gets its phonemes.
    text = "It costs 42 dollars for the history of the city"
    words = [w for c in clauses(text) for w in c.words]
    assert [text[w.char_index : w.char_index + w.length] for w in words] == text.split()
    forty_two = words[2]
    assert sum(1 for p in forty_two.phonemes if "'" in p) == 2  # forty, two: two stresses
    of, the = words[7], words[8]
    assert [p.lstrip("'") for p in of.phonemes][-1] == "v"
    assert the.phonemes[0] == "D"


def test_a_clause_that_starts_inside_a_word_joins_that_word() -> None:
    text = "yes,please now"
    words = [w for c in clauses(text) for w in c.words]
    assert [(w.char_index, w.length) for w in words] == [(0, 10), (11, 3)]
    assert "p" in words[0].phonemes and "j" in words[0].phonemes


def test_the_text_reference_keeps_espeaks_shapes_and_pace() -> None:
    texts = [str(entry["text"]) for entry in manifest()] + [PUNCTUATED]
    for text in texts:
        synthesised = asyncio.run(reference_timeline(text, method="synthesis"))
        transcribed = asyncio.run(reference_timeline(text, method="text"))
        assert "".join(w.text for w in transcribed.words) == text
        assert len(transcribed.words) == len(re.findall(r"\S+", text))
        # The same mouth shapes in the same order (a stop's silent closure aside) ...
        matcher = difflib.SequenceMatcher(
            None, spoken_shapes(synthesised), spoken_shapes(transcribed), autojunk=False
        )
        assert matcher.ratio() >= 0.9, text
        # ... and the same pace: within 15% overall, each word's start within 15% of the reply.
        assert abs(transcribed.duration_ms / synthesised.duration_ms - 1) < 0.15, text
        for mine, theirs in zip(transcribed.words, synthesised.words, strict=True):
            assert abs(mine.start_ms - theirs.start_ms) < 0.15 * synthesised.duration_ms, text


def test_a_faster_rate_makes_a_shorter_reference() -> None:
    normal = asyncio.run(reference_timeline(PUNCTUATED, words_per_minute=175, method="text"))
    fast = asyncio.run(reference_timeline(PUNCTUATED, words_per_minute=350, method="text"))
    ratio = rate_factor(350) / rate_factor(175)
    assert fast.duration_ms == pytest.approx(normal.duration_ms * ratio, rel=1e-3)
    assert 0.4 < rate_factor(350) < 0.6  # espeak-ng's own: twice the rate, about half the time
    assert rate_factor(50) == rate_factor(80) and rate_factor(900) == rate_factor(700)


def test_the_transcription_follows_voice_switches_by_the_local_voice() -> None:
    """espeak-ng's voice is process-global and loaded only when it changes (select_voice): the
    local TTS speaking in another voice between two transcriptions must not leave that voice in
    place for the second."""
    from handlers.providers.tts.local import VOICES

    text = "I can't dance with a tomato."
    engine = shared_engine()

    def phonemes(voice: str) -> list[tuple[str, ...]]:
        spoken = engine.thread.submit(lambda: PhonemeTranscriber().clauses(text, voice)).result()
        return [word.phonemes for clause in spoken for word in clause.words]

    american, british = phonemes(VOICES["en-us"]), phonemes(VOICES["en-gb"])
    assert american != british  # "can't", "tomato": the test can tell the voices apart
    heard: list[bytes] = []

    def hear(pcm: bytes) -> bool:
        heard.append(pcm)
        return True

    for voice, other, expected in (
        (VOICES["en-us"], VOICES["en-gb"], american),
        (VOICES["en-gb"], VOICES["en-us"], british),
    ):
        phonemes(voice)  # the transcriber's voice is loaded...
        engine.thread.submit(  # ...then the local voice speaks in the other one...
            engine.speak, b"Hello.", other, 175, hear
        ).result()
        assert phonemes(voice) == expected  # ...and the next transcription is in its own again
    assert heard
