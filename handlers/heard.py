"""What the person heard of a reply: its text cut where the avatar stopped playing it.

The history keeps what was heard, not what was written: a reply interrupted after 1.3 s keeps
the words spoken in those 1.3 s. With the synthesiser's word timings (``words``) the cut is
exact; without them it is estimated from the text's length and the audio's, as speech runs at
a roughly even rate of characters per second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

WordSpan = tuple[str, float, float]
"""(text, start_ms, end_ms) of one word on the reply's audio clock; ``text`` may carry its
punctuation and trailing space, so the words joined give the reply's text."""

_WORD = re.compile(r"\S+\s*")


def heard_text(
    reply_text: str,
    played_ms: int,
    audio_ms: int,
    words: Sequence[WordSpan] | None = None,
) -> str:
    """The words of ``reply_text`` heard in its first ``played_ms`` of ``audio_ms`` of audio.

    A word counts as heard when at least half of it was played. With ``words`` the cut follows
    their timings; otherwise each word is placed on the audio in proportion to the characters
    before it. Returns "" when nothing was played and the whole text once all of it was.
    """
    if played_ms <= 0 or not reply_text.strip():
        return ""
    if words is not None:
        heard = [text for text, start, end in words if (start + end) / 2 <= played_ms]
        return "".join(heard).strip() if len(heard) < len(words) else reply_text.strip()
    if played_ms >= audio_ms:
        return reply_text.strip()
    spans = [(match.start(), match.end()) for match in _WORD.finditer(reply_text)]
    total = len(reply_text.rstrip())
    cut = 0
    for start, end in spans:
        middle = (start + len(reply_text[start:end].rstrip()) / 2) / total * audio_ms
        if middle > played_ms:
            break
        cut = end
    return reply_text[:cut].strip()
