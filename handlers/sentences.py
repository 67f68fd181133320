"""Incremental sentence splitting of a streamed reply, so `chain` and `stream` speech can start
with the first sentence while the language model is still writing the rest."""

from __future__ import annotations

import re

# A terminator, optionally followed by closing quotes or brackets.
_TERMINATOR = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "prof", "sr", "jr", "no", "approx"}
)


def _is_boundary(text: str, end: int) -> bool:
    """Whether the terminator ending at ``end`` closes a sentence (not "Dr." or "3.5")."""
    match = re.search(r"([A-Za-z.]+|\d+)[.!?…]*[\"'\u201d\u2019)\]]*$", text[:end])
    if match is None:
        return True
    word = match.group(1).rstrip(".").lower()
    if word in _ABBREVIATIONS:
        return False
    # "3." may continue as "3.5"; a terminator right after a digit waits for what follows.
    return not (match.group(1).isdigit() and text[end - 1] == "." and end == len(text))


class SentenceSplitter:
    """Feed text deltas; get back each sentence as soon as its terminator arrives."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, delta: str) -> list[str]:
        self._pending += delta
        sentences: list[str] = []
        start = 0
        for match in _TERMINATOR.finditer(self._pending):
            end = match.end()
            at_end = end == len(self._pending)
            if not at_end and not self._pending[end].isspace():
                continue  # "3.5", "e.g.x": not a boundary
            if not _is_boundary(self._pending, end):
                continue
            sentence = self._pending[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
        self._pending = self._pending[start:]
        return sentences

    def flush(self) -> str | None:
        """The text after the last sentence (a reply may end without a terminator)."""
        rest, self._pending = self._pending.strip(), ""
        return rest or None
