"""``python -m bench.phoneme_lengths [--write]``: the phoneme lengths of the text-only reference.

Measures how long espeak-ng's own syntheses make each phoneme. The training sentences
(bench/data/phoneme_training.txt, everyday English written for this) are synthesised with
phoneme events (the en-US voice at 175 words per minute, as the reference speaks), their events
lined up with ``espeak_TextToPhonemes``'s transcription of the same text (difflib on the
mnemonics), and each transcribed phoneme given the time from its event to the next lined-up one
(so a pause or a sound the synthesis adds goes with the phoneme before it, as the text-only
reference cannot know of it). Per phoneme (mnemonic with its stress mark, ``$`` appended in a
clause's last word, where espeak-ng lengthens), and per phoneme and the kind of sound that
follows it (``>kind``: espeak-ng makes a vowel longer before a pause or a voiced consonant): the
mean, over at least ``MIN_COUNT`` occurrences. Also measured: the pause after a clause ending in
``.?!`` or ``,;:``, how much the last word of a clause lengthens a phoneme the table has only
elsewhere, and, from the same sentences at other rates, how a rate scales the whole.

The training sentences are not the texts ``bench.lipsync_reference`` judges the reference on.
``--write`` writes handlers/animation/phoneme_lengths.py (then ``ruff format`` it); without it
the module's text is printed.
"""

from __future__ import annotations

import argparse
import difflib
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from handlers.animation.espeak import EspeakTimingCapture, PhonemeEvent, read_events
from handlers.animation.reference import REFERENCE_VOICE
from handlers.animation.text_reference import PhonemeTranscriber, in_context
from handlers.providers.tts.local import NORMAL_WORDS_PER_MINUTE, shared_engine

TRAINING_TEXT = Path(__file__).resolve().parent / "data" / "phoneme_training.txt"
"""The training sentences, one a line: everyday English written for this table."""
RATES = (80, 120, 175, 230, 300, 400, 500, 700)
MIN_COUNT = 3
OUTPUT = Path(__file__).resolve().parent.parent / "handlers" / "animation" / "phoneme_lengths.py"


class _EventRecorder(EspeakTimingCapture):
    """Keeps the raw phoneme events (the capture keeps them privately)."""

    def __init__(self, text: str, sample_rate: int) -> None:
        super().__init__(text, sample_rate)
        self.events: list[PhonemeEvent] = []

    def feed(self, events_address: int | None, pcm16: bytes = b"") -> None:
        self.events.extend(read_events(events_address)[0])
        super().feed(events_address, pcm16)


Item = tuple[str, tuple[str, ...]]
"""A transcribed phoneme: (mnemonic, its keys in the table)."""


def training_sentences() -> list[str]:
    return [line.strip() for line in TRAINING_TEXT.read_text().splitlines() if line.strip()]


def _transcription(transcriber: PhonemeTranscriber, text: str) -> list[Item]:
    items: list[Item] = []
    clauses = transcriber.clauses(text, REFERENCE_VOICE)
    for index, clause in enumerate(clauses):
        items.extend((phoneme.mnemonic, phoneme.table_keys()) for phoneme in in_context(clause))
        # Its events' '_:' lines up with it; the last clause's is the audio's tail, not a pause.
        ends = clause.ends_with if index < len(clauses) - 1 else "end"
        items.append(("_:", ("pause " + ends,)))
    return items


def _measure(text: str, words_per_minute: int) -> list[tuple[str, float]]:
    """(key, ms) of each transcribed phoneme lined up with the synthesis's events."""
    engine = shared_engine()

    def job() -> tuple[list[Item], list[PhonemeEvent], int]:
        transcriber = PhonemeTranscriber()
        items = _transcription(transcriber, text)
        recorder = _EventRecorder(text, engine.sample_rate)
        engine.speak(text.encode(), REFERENCE_VOICE, words_per_minute, lambda pcm: True, recorder)
        return items, recorder.events, recorder.samples

    items, events, total = engine.thread.submit(job).result()
    events = sorted(events, key=lambda e: e.sample)
    matcher = difflib.SequenceMatcher(
        None, [m for m, _ in items], [e.mnemonic for e in events], autojunk=False
    )
    pairs = [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    out: list[tuple[str, float]] = []
    for (item, event), following in zip(pairs, [*pairs[1:], None], strict=True):
        end = events[following[1]].sample if following is not None else total
        ms = (end - events[event].sample) * 1000 / engine.sample_rate
        out.extend((key, ms) for key in items[item][1])
    return out


def build(log: Callable[[str], None] = print) -> str:
    at_normal: list[tuple[str, float]] = []
    sentences = training_sentences()
    for text in sentences:
        at_normal.extend(_measure(text, NORMAL_WORDS_PER_MINUTE))
    by_key: dict[str, list[float]] = defaultdict(list)
    for key, ms in at_normal:
        by_key[key].append(ms)
    phonemes = {
        key: round(statistics.fmean(values), 1)
        for key, values in sorted(by_key.items())
        if len(values) >= MIN_COUNT and not key.startswith("pause")
    }
    pauses = {
        key.removeprefix("pause "): round(statistics.fmean(values), 1)
        for key, values in by_key.items()
        if key.startswith("pause ") and key != "pause end"
    }
    # The last word's lengthening for a phoneme measured only elsewhere: the measured ratio over
    # the phonemes measured in both places, weighted by time.
    both = [k for k in phonemes if k.endswith("$") and k[:-1] in phonemes]
    final_factor = sum(phonemes[k] * len(by_key[k]) for k in both) / max(
        sum(phonemes[k[:-1]] * len(by_key[k]) for k in both), 1e-9
    )
    sounds = [ms for key, ms in at_normal if not key.startswith("pause") and ">" not in key]
    unknown = round(statistics.median(sounds), 1)
    totals: dict[int, float] = {}
    for rate in RATES:
        measured = at_normal if rate == NORMAL_WORDS_PER_MINUTE else []
        if not measured:
            for text in sentences:
                measured.extend(_measure(text, rate))
        totals[rate] = sum(
            ms for key, ms in measured if not key.startswith("pause") and ">" not in key
        )
    factors = tuple(
        (rate, round(totals[rate] / totals[NORMAL_WORDS_PER_MINUTE], 3)) for rate in RATES
    )
    log(
        f"{len(sounds)} phonemes measured in {len(sentences)} sentences; "
        f"{len(phonemes)} keys kept; last-word factor {final_factor:.3f}; pauses {pauses}"
    )
    return _module_text(len(sentences), phonemes, pauses, round(final_factor, 3), unknown, factors)


def _module_text(
    sentence_count: int,
    phonemes: dict[str, float],
    pauses: dict[str, float],
    final_factor: float,
    unknown: float,
    factors: tuple[tuple[int, float], ...],
) -> str:
    return f'''"""Typical phoneme lengths in espeak-ng's en-US speech, for the text-only reference.

Generated by ``python -m bench.phoneme_lengths --write`` (see there): means of what espeak-ng's
own syntheses of {sentence_count} training sentences (bench/data/phoneme_training.txt) made
each phoneme last at {NORMAL_WORDS_PER_MINUTE} words per minute, read from its phoneme events.
Do not edit by hand.
"""

from typing import Final

TABLE_WORDS_PER_MINUTE: Final = {NORMAL_WORDS_PER_MINUTE}
PHONEME_MS: Final[dict[str, float]] = {phonemes!r}
"""Milliseconds per espeak-ng mnemonic (stress mark kept; ``$``: in a clause's last word;
``>kind``: before that kind of sound, as ``text_reference.phoneme_class`` names them)."""
UNKNOWN_PHONEME_MS: Final = {unknown!r}
"""A phoneme the table lacks: the median phoneme."""
FINAL_WORD_FACTOR: Final = {final_factor!r}
"""A clause's last word lengthens a phoneme the table has only elsewhere by this much."""
CLAUSE_PAUSE_MS: Final[dict[str, float]] = {pauses!r}
"""The pause after a clause that ends with ``.`` (``.?!``), ``,`` (``,;:``) or ``""`` (no mark)."""
RATE_FACTORS: Final[tuple[tuple[int, float], ...]] = {factors!r}
"""(words per minute, length relative to the table's rate), measured on the same sentences."""
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT}")
    args = parser.parse_args()
    text = build()
    if args.write:
        OUTPUT.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
