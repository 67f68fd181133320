"""Phoneme and provider viseme ids onto the contract's viseme set (OVRLipSync's 15).

Three sources name mouth shapes their own way:

* espeak-ng reports each phoneme by its mnemonic in the voice's phoneme table
  (``h``, ``@``, ``'oU``, ``tS``, ``_:`` ...; for English, espeak-ng-data/phsource/ph_english):
  a leading stress mark (``'``, ``,``) or a trailing length/variant mark (``:``, ``#``, ``-``, a
  digit) does not change the mouth, so :func:`espeak_viseme` strips them and, for a diphthong,
  looks the longest known prefix up (``aI`` -> ``a``: the mouth opens on the first part).
* Azure's viseme ids 0-21 (the SAPI viseme set) from its viseme events.
* Amazon Polly's viseme letters from its ``viseme`` speech marks.

The Azure and Polly tables are the ones the contract documents under ``Viseme``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from generated.models import Viseme

SIL, PP, FF, TH, DD, KK, CH, SS, NN, RR, AA, E, IH, OH, OU = (
    Viseme.SIL,
    Viseme.PP,
    Viseme.FF,
    Viseme.TH,
    Viseme.DD,
    Viseme.KK,
    Viseme.CH,
    Viseme.SS,
    Viseme.NN,
    Viseme.RR,
    Viseme.AA,
    Viseme.E,
    Viseme.IH,
    Viseme.OH,
    Viseme.OU,
)

AZURE_TO_VISEME: Final[Mapping[int, Viseme]] = MappingProxyType(
    {
        0: SIL,  # silence
        1: AA,  # ae, ax, ah
        2: AA,  # aa
        3: OH,  # ao
        4: E,  # ey, eh, uh
        5: RR,  # er
        6: IH,  # y, iy, ih, ix
        7: OU,  # w, uw
        8: OH,  # ow
        9: AA,  # aw
        10: OH,  # oy
        11: AA,  # ay
        12: KK,  # h
        13: RR,  # r
        14: NN,  # l
        15: SS,  # s, z
        16: CH,  # sh, ch, jh, zh
        17: TH,  # th, dh
        18: FF,  # f, v
        19: DD,  # d, t, n
        20: KK,  # k, g, ng
        21: PP,  # p, b, m
    }
)
"""Azure Speech viseme id (``VisemeReceived`` / ``Viseme`` metadata) -> contract viseme."""

POLLY_TO_VISEME: Final[Mapping[str, Viseme]] = MappingProxyType(
    {
        "sil": SIL,
        "p": PP,  # p b m
        "t": DD,  # t d n
        "S": CH,  # sh zh ch jh
        "T": TH,  # th dh
        "f": FF,  # f v
        "k": KK,  # k g ng h
        "i": IH,  # iy ih y
        "r": RR,  # r
        "s": SS,  # s z
        "u": OU,  # uw uh w
        "@": E,  # ax (schwa)
        "a": AA,  # aa ae ay aw
        "e": E,  # eh ey
        "E": E,  # er ah
        "o": OH,  # ow
        "O": OH,  # ao oy
        # Letters the phoneme tables of other languages use.
        "l": NN,  # l
        "J": CH,  # palatal stops
        "B": PP,  # bilabial fricative
    }
)
"""Amazon Polly ``viseme`` speech mark value -> contract viseme."""

ESPEAK_TO_VISEME: Final[Mapping[str, Viseme]] = MappingProxyType(
    {
        # pauses and word boundaries
        "_": SIL,
        # consonants
        "p": PP,
        "b": PP,
        "m": PP,
        "f": FF,
        "v": FF,
        "T": TH,
        "D": TH,
        "t": DD,
        "d": DD,
        "k": KK,
        "g": KK,
        "N": KK,
        "h": KK,
        "x": KK,
        "?": KK,  # glottal stop
        "tS": CH,
        "dZ": CH,
        "S": CH,
        "Z": CH,
        "s": SS,
        "z": SS,
        "n": NN,
        "l": NN,
        "r": RR,
        "R": RR,
        "w": OU,
        "j": IH,
        # vowels (English: ph_english)
        "a": AA,
        "aa": AA,
        "A": AA,
        "V": AA,
        "0": OH,
        "@": E,
        "3": RR,  # er (3:, @3 ...) - the r-coloured vowel
        "e": E,
        "E": E,
        "I": IH,
        "i": IH,
        "O": OH,
        "o": OH,
        "U": OU,
        "u": OU,
    }
)
"""espeak-ng phoneme mnemonic (stress and length marks stripped) -> contract viseme."""

_DECORATIONS: Final = "'\",%=:;#-.!^0123456789"


@functools.cache  # pure, and a few dozen mnemonics: each reply asks again for the same ones
def espeak_viseme(mnemonic: str) -> Viseme | None:
    """The viseme of an espeak-ng phoneme, or None for a marker that is not a sound (``;``).

    Longest known prefix first, after dropping stress marks, so ``'oU`` is ``o``, ``aI@`` is
    ``a``, ``tS`` is ``tS`` and not ``t``. Digits are kept only as a whole mnemonic (``0`` is
    the vowel of "lot"); after a letter they only number a variant (``@2``, ``I2``).
    """
    name = mnemonic.lstrip("'\",%=")
    if not name:
        return None
    if name.startswith("_") or name.startswith("|"):
        return SIL
    if name in ESPEAK_TO_VISEME:
        return ESPEAK_TO_VISEME[name]
    for end in range(len(name) - 1, 0, -1):
        viseme = ESPEAK_TO_VISEME.get(name[:end])
        if viseme is not None:
            return viseme
    return None if all(char in _DECORATIONS for char in name) else E
