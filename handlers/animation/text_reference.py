"""The lip-sync reference from text alone: espeak-ng's phonemes, each given a typical length.

For a provider that reports no timings, the estimate (:mod:`.estimate`) fits a reference's marks
onto the real audio. The reference was a whole espeak-ng synthesis of the text, read only for its
phoneme events' positions; here espeak-ng only transcribes the text (``espeak_TextToPhonemes``:
its letter-to-sound rules and dictionary, no audio), and each phoneme lasts what espeak-ng's own
syntheses make it last on average (:mod:`.phoneme_lengths`, measured by
``python -m bench.phoneme_lengths``). The marks come out as the synthesis's did (the same
mnemonics, :func:`.espeak.timeline_from_events`), so the fit, the aligner and the deltas are
unchanged; the fit stretches them over the real audio anyway, so a phoneme's typical length
needs only to be right relative to its neighbours'.

``espeak_TextToPhonemes`` returns one clause per call (espeak-ng splits at ``,`` ``;`` ``.``
``?`` and at some abbreviations) and moves the text pointer past it, so each clause's phonemes
are known to come from its stretch of text. Within a clause its words are separated by spaces,
its phonemes by ``_SEPARATOR``. A clause whose phoneme words do not pair one to one with its
text's words (a number read as several words, "of the" run together as one) is transcribed
again word by word, so each word keeps its own phonemes.

Like every call into espeak-ng, :class:`PhonemeTranscriber` runs on the local TTS's one
espeak-ng thread (the library keeps global state; see :mod:`.reference`).
"""

from __future__ import annotations

import bisect
import ctypes
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import espeakng_loader

from handlers.animation.espeak import (
    PhonemeEvent,
    WordEvent,
    select_voice,
    timeline_from_events,
)
from handlers.animation.phoneme_lengths import (
    CLAUSE_PAUSE_MS,
    FINAL_WORD_FACTOR,
    PHONEME_MS,
    RATE_FACTORS,
    TABLE_WORDS_PER_MINUTE,
    UNKNOWN_PHONEME_MS,
)
from handlers.animation.timeline import Timeline

_CHARS_UTF8: Final = 1
_SEPARATOR: Final = "\x01"
"""Between a word's phonemes: no espeak-ng mnemonic contains a control character."""
_PHONEME_MODE: Final = ord(_SEPARATOR) << 8
"""speak_lib.h: bits 0-3 0 (mnemonics, no ties), bits 4-7 0 (espeak-ng's ASCII names, not IPA),
bits 8-23 the separator character."""
TIMELINE_RATE: Final = 48_000
"""The clock the marks are built on (samples per second): finer than a millisecond."""
_SENTENCE_ENDS: Final = ".?!"
_CLAUSE_ENDS: Final = ",;:"


@dataclass(frozen=True, slots=True)
class SpokenWord:
    """A word of the text (``char_index``, ``length`` in characters) and its phonemes."""

    char_index: int
    length: int
    phonemes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpokenClause:
    words: tuple[SpokenWord, ...]
    ends_with: str
    """How the clause ends: ``"."`` (a sentence's end: ``.?!``), ``","`` (``,;:``) or ``""``."""


class PhonemeTranscriber:
    """espeak-ng's phonemes for a text, without synthesising it. Use only on espeak-ng's thread,
    after the library is initialised (the local TTS's engine does it)."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._to_phonemes = self._lib.espeak_TextToPhonemes
        self._to_phonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self._to_phonemes.restype = ctypes.c_char_p

    def clauses(self, text: str, voice: str) -> list[SpokenClause]:
        """``text``'s clauses, each word with its phonemes; a word espeak-ng says nothing for
        (a lone dash) is left out, its text going with the word before it."""
        if not select_voice(self._lib, voice):
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        token_starts = [start for start, _ in tokens]
        out: list[SpokenClause] = []
        for start, end, spoken in self._raw_clauses(text):
            first = bisect.bisect_left(token_starts, start)
            last = bisect.bisect_left(token_starts, end)
            mine = tokens[first:last]
            if not mine:
                # A clause that starts inside a word ("yes,please"): its sounds join that word.
                if out and out[-1].words and spoken:
                    extra = tuple(p for word in spoken for p in word)
                    joined = out[-1].words[-1]
                    joined = SpokenWord(joined.char_index, joined.length, joined.phonemes + extra)
                    out[-1] = SpokenClause(
                        (*out[-1].words[:-1], joined), _clause_end(text[start:end])
                    )
                continue
            if len(spoken) == len(mine):
                pairs = zip(mine, spoken, strict=True)
                words = [SpokenWord(s, e - s, tuple(p)) for (s, e), p in pairs if p]
            else:
                words = [SpokenWord(s, e - s, self._word_phonemes(text[s:e])) for s, e in mine]
                words = [word for word in words if word.phonemes]
            out.append(SpokenClause(tuple(words), _clause_end(text[start:end])))
        return out

    def _word_phonemes(self, word: str) -> tuple[str, ...]:
        return tuple(p for _, _, spoken in self._raw_clauses(word) for w in spoken for p in w)

    def _raw_clauses(self, text: str) -> list[tuple[int, int, list[list[str]]]]:
        """(first character, end character, its words' phonemes) of each clause."""
        encoded = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(encoded)
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        out: list[tuple[int, int, list[list[str]]]] = []
        length = len(text)
        start = 0
        # Each call takes one clause and moves the pointer on (NULL after the last). espeak-ng
        # reads one character beyond a clause's end (the next word's first, after the spaces)
        # to decide where it ends: the next clause starts one character before the pointer.
        for _ in range(len(encoded) + 1):  # a clause has at least one byte: no endless loop
            if not pointer.value:
                break
            result = self._to_phonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEME_MODE)
            if pointer.value:
                end = _char_index(encoded, pointer.value - base) - 1
                end = max(start, min(end, length))
            else:
                end = length
            phonemes = (result or b"").decode("utf-8", "replace")
            words = [w.split(_SEPARATOR) for w in phonemes.split()]
            out.append((start, end, [[p for p in word if p] for word in words]))
            start = end
        return out


def _char_index(encoded: bytes, byte_offset: int) -> int:
    return len(encoded[:byte_offset].decode("utf-8", "ignore"))


def _clause_end(clause_text: str) -> str:
    stripped = clause_text.rstrip().rstrip("\"')]}")
    if stripped and stripped[-1] in _SENTENCE_ENDS:
        return "."
    if stripped and stripped[-1] in _CLAUSE_ENDS:
        return ","
    return ""


_VOWEL_STARTS: Final = frozenset("aeiouAEIOUV03@")
_CLASSES: Final = {
    **dict.fromkeys(("p", "t", "k", "t#", "tS"), "stop"),
    **dict.fromkeys(("b", "d", "g", "dZ"), "voiced-stop"),
    **dict.fromkeys(("f", "T", "s", "S", "h"), "fricative"),
    **dict.fromkeys(("v", "D", "z", "Z"), "voiced-fricative"),
    **dict.fromkeys(("m", "n", "N"), "nasal"),
    ";": "mark",
}


def phoneme_class(mnemonic: str | None) -> str:
    """What kind of sound a neighbour is, as far as a phoneme's length goes: espeak-ng lengthens
    a vowel before a pause or a voiced consonant, shortens it before a voiceless stop."""
    if mnemonic is None:
        return "pause"
    name = mnemonic.lstrip("'\",%=")
    if not name or name.startswith("_"):
        return "pause"
    if name[0] in _VOWEL_STARTS:
        return "vowel"
    return _CLASSES.get(name, "other")


@dataclass(frozen=True, slots=True)
class PhonemeInContext:
    """A phoneme of a clause with what its length depends on."""

    word: int
    """Its word's index in the clause."""
    mnemonic: str
    final_word: bool
    """In the clause's last word."""
    after: str | None
    """The phoneme after it in the clause (None: the clause's end, a pause)."""

    def table_keys(self) -> tuple[str, str]:
        """Its keys in the table, the more specific first: with the kind of sound that follows
        it, and alone. (The kind before it too was no better in ``bench.lipsync_reference``.)"""
        plain = self.mnemonic + ("$" if self.final_word else "")
        return f"{plain}>{phoneme_class(self.after)}", plain


def in_context(clause: SpokenClause) -> list[PhonemeInContext]:
    """Each phoneme of ``clause`` in order."""
    sounds = [(index, p) for index, word in enumerate(clause.words) for p in word.phonemes]
    last_word = len(clause.words) - 1
    return [
        PhonemeInContext(
            word,
            mnemonic,
            word == last_word,
            sounds[at + 1][1] if at + 1 < len(sounds) else None,
        )
        for at, (word, mnemonic) in enumerate(sounds)
    ]


@functools.cache  # pure, over a few thousand contexts
def phoneme_ms(phoneme: PhonemeInContext) -> float:
    """A phoneme's typical length at the table's rate, in its context; a phoneme in a clause's
    last word the table has only elsewhere is lengthened as espeak-ng lengthens it."""
    for key in phoneme.table_keys():
        known = PHONEME_MS.get(key)
        if known is not None:
            return known
    if phoneme.final_word:
        elsewhere = PhonemeInContext(phoneme.word, phoneme.mnemonic, False, phoneme.after)
        return phoneme_ms(elsewhere) * FINAL_WORD_FACTOR
    return PHONEME_MS.get(phoneme.mnemonic.lstrip("'\",%="), UNKNOWN_PHONEME_MS)


def rate_factor(words_per_minute: int) -> float:
    """How much longer than at the table's rate a phoneme lasts at ``words_per_minute``
    (linear between the measured rates, held beyond them)."""
    rates = [rate for rate, _ in RATE_FACTORS]
    index = bisect.bisect_left(rates, words_per_minute)
    if index == 0:
        return RATE_FACTORS[0][1]
    if index == len(RATE_FACTORS):
        return RATE_FACTORS[-1][1]
    (low, low_factor), (high, high_factor) = RATE_FACTORS[index - 1], RATE_FACTORS[index]
    share = (words_per_minute - low) / (high - low)
    return low_factor + (high_factor - low_factor) * share


def timeline_from_clauses(
    text: str,
    clauses: Sequence[SpokenClause],
    words_per_minute: int = TABLE_WORDS_PER_MINUTE,
) -> Timeline:
    """The marks a synthesis of ``text`` would have, each phoneme its typical length."""
    factor = rate_factor(words_per_minute)
    phonemes: list[PhonemeEvent] = []
    words: list[WordEvent] = []
    at_ms = 0.0

    def sample() -> int:
        return round(at_ms * TIMELINE_RATE / 1000)

    for index, clause in enumerate(clauses):
        word_index = -1
        for phoneme in in_context(clause):
            if phoneme.word != word_index:
                word_index = phoneme.word
                word = clause.words[word_index]
                words.append(WordEvent(sample(), word.char_index, word.length))
            phonemes.append(PhonemeEvent(sample(), phoneme.mnemonic))
            at_ms += phoneme_ms(phoneme) * factor
        if index < len(clauses) - 1 and clause.words:
            phonemes.append(PhonemeEvent(sample(), "_:"))  # the pause that ends a clause
            pause_ms = CLAUSE_PAUSE_MS.get(clause.ends_with) or CLAUSE_PAUSE_MS.get(",", 0.0)
            at_ms += pause_ms * factor
    return timeline_from_events(text, phonemes, words, sample(), TIMELINE_RATE)


def text_timeline(
    transcriber: PhonemeTranscriber,
    text: str,
    voice: str,
    words_per_minute: int = TABLE_WORDS_PER_MINUTE,
) -> Timeline:
    """The reference marks for ``text`` (as the local voice takes it). On espeak-ng's thread."""
    return timeline_from_clauses(text, transcriber.clauses(text, voice), words_per_minute)
