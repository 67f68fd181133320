"""The mapping tables cover every id the providers send, and espeak-ng's English phonemes."""

from __future__ import annotations

import pytest

from generated.models import Viseme
from handlers.animation.visemes import (
    AZURE_TO_VISEME,
    ESPEAK_TO_VISEME,
    POLLY_TO_VISEME,
    espeak_viseme,
)

# Amazon Polly's viseme letters (its phoneme/viseme tables, en-US and the other languages).
POLLY_LETTERS = {"sil", "p", "t", "S", "T", "f", "k", "i", "r", "s", "u", "@", "a", "e", "E", "o"}
POLLY_LETTERS |= {"O", "l", "J", "B"}


def test_every_azure_viseme_id_maps() -> None:
    assert set(AZURE_TO_VISEME) == set(range(22))
    assert AZURE_TO_VISEME[0] is Viseme.SIL
    assert AZURE_TO_VISEME[21] is Viseme.PP  # p, b, m
    assert AZURE_TO_VISEME[18] is Viseme.FF  # f, v


def test_every_polly_viseme_letter_maps() -> None:
    assert set(POLLY_TO_VISEME) == POLLY_LETTERS
    assert POLLY_TO_VISEME["sil"] is Viseme.SIL
    assert POLLY_TO_VISEME["p"] is Viseme.PP


def test_only_silence_maps_to_sil() -> None:
    for table in (AZURE_TO_VISEME, POLLY_TO_VISEME, ESPEAK_TO_VISEME):
        silent = [key for key, viseme in table.items() if viseme is Viseme.SIL]
        assert len(silent) == 1


def test_every_viseme_is_reachable_from_espeak() -> None:
    assert set(ESPEAK_TO_VISEME.values()) == set(Viseme)


@pytest.mark.parametrize(
    ("mnemonic", "viseme"),
    [
        ("'oU", Viseme.OH),
        (",i:", Viseme.IH),
        ("aI@", Viseme.AA),
        ("tS", Viseme.CH),
        ("dZ", Viseme.CH),
        ("t#", Viseme.DD),
        ("@2", Viseme.E),
        ("3:", Viseme.RR),
        ("0", Viseme.OH),
        ("_:", Viseme.SIL),
        ("_", Viseme.SIL),
        ("n-", Viseme.NN),
        ("A@", Viseme.AA),
    ],
)
def test_espeak_mnemonics(mnemonic: str, viseme: Viseme) -> None:
    assert espeak_viseme(mnemonic) is viseme


def test_espeak_markers_that_are_not_sounds() -> None:
    assert espeak_viseme(";") is None
    assert espeak_viseme("'") is None
