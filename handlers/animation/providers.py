"""Cloud providers' timings onto a :class:`Timeline`, from their documented wire formats.

* Amazon Polly speech marks: line-delimited JSON, ``{"time": ms, "type": "word"|"viseme"|...,
  "start": byte, "end": byte, "value": ...}``; ``start``/``end`` are UTF-8 byte offsets in the
  input text, ``time`` milliseconds from the start of the audio of the same request (text, voice
  and engine). Asked for with ``OutputFormat=json`` and ``SpeechMarkTypes=["word", "viseme"]``.
* Azure Speech, the WebSocket protocol behind the Speech SDK: ``audio.metadata`` text messages,
  ``{"Metadata": [{"Type": "WordBoundary", "Data": {"Offset": ticks, "Duration": ticks,
  "text": {"Text": ..., "Length": n, "BoundaryType": ...}}}, {"Type": "Viseme", "Data":
  {"Offset": ticks, "VisemeId": n}}]}``, ticks of 100 ns from the start of the audio.
* Google Cloud TTS (v1beta1): ``timepoints`` ``[{markName, timeSeconds}]`` for SSML ``<mark>``s
  when ``enableTimePointing=[SSML_MARK]``; :func:`ssml_with_word_marks` puts one before each word.
  Google gives words only: the visemes come from the estimate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from xml.sax.saxutils import escape

from generated.models import TimingSource, Viseme
from handlers.animation.timeline import Timeline, VisemeAt, WordSpan, partition_words
from handlers.animation.visemes import AZURE_TO_VISEME, POLLY_TO_VISEME

TICKS_PER_MS: Final = 10_000
WORD_MARK_PREFIX: Final = "w"


def _char_index(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


def _visemes(marks: Iterable[tuple[float, Viseme]], duration_ms: float) -> tuple[VisemeAt, ...]:
    out: list[VisemeAt] = []
    for at_ms, viseme in sorted(marks, key=lambda m: m[0]):
        if out and out[-1].at_ms == at_ms:
            out.pop()
        if not out or out[-1].viseme != viseme:
            out.append(VisemeAt(at_ms, viseme))
    if out and out[-1].viseme != Viseme.SIL:
        out.append(VisemeAt(duration_ms, Viseme.SIL))
    return tuple(out)


def _words(
    text: str, starts: list[tuple[int, float, float | None]], visemes: tuple[VisemeAt, ...]
) -> tuple[WordSpan, ...]:
    """Words from (char index, start ms, end ms or None: until the next word or silence)."""
    kept: list[tuple[int, float, float | None]] = []
    for item in sorted(starts, key=lambda s: (s[1], s[0])):
        if 0 <= item[0] < len(text) and (not kept or item[0] > kept[-1][0]):
            kept.append(item)
    texts = partition_words(text, [k[0] for k in kept])
    spans = []
    for i, (_, start, end) in enumerate(kept):
        if end is None:
            limit = kept[i + 1][1] if i + 1 < len(kept) else float("inf")
            silence = [v.at_ms for v in visemes if v.viseme == Viseme.SIL and start < v.at_ms]
            end = min([limit, *silence[:1]])
            if end == float("inf"):
                end = start
        spans.append(WordSpan(texts[i], start, end))
    return tuple(spans)


def polly_timeline(
    speech_marks: Iterable[str | Mapping[str, Any]], text: str, duration_ms: float
) -> Timeline:
    """Polly's speech marks (JSON lines or parsed) for ``text``, the audio ``duration_ms`` long.

    Unknown viseme letters are skipped (Polly may add languages); sentence and ssml marks are not
    used. A word ends at the next word or the next ``sil`` viseme.
    """
    visemes: list[tuple[float, Viseme]] = []
    words: list[tuple[int, float, float | None]] = []
    for line in speech_marks:
        mark = json.loads(line) if isinstance(line, str) else line
        if not mark:
            continue
        if mark.get("type") == "viseme":
            viseme = POLLY_TO_VISEME.get(str(mark.get("value")))
            if viseme is not None:
                visemes.append((float(mark["time"]), viseme))
        elif mark.get("type") == "word":
            words.append((_char_index(text, int(mark["start"])), float(mark["time"]), None))
    placed = _visemes(visemes, duration_ms)
    return Timeline(placed, _words(text, words, placed), duration_ms, TimingSource.PROVIDER)


def azure_timeline(
    metadata_messages: Iterable[str | Mapping[str, Any]], text: str, duration_ms: float
) -> Timeline:
    """Azure's ``audio.metadata`` message bodies for ``text``, the audio ``duration_ms`` long.

    A WordBoundary carries no text offset on the wire: each word's text is found in ``text``
    after the previous one. Punctuation and sentence boundaries are not words.
    """
    visemes: list[tuple[float, Viseme]] = []
    words: list[tuple[int, float, float | None]] = []
    cursor = 0
    for message in metadata_messages:
        body = json.loads(message) if isinstance(message, str) else message
        for item in body.get("Metadata", []):
            data = item.get("Data", {})
            at_ms = float(data.get("Offset", 0)) / TICKS_PER_MS
            if item.get("Type") == "Viseme":
                viseme = AZURE_TO_VISEME.get(int(data.get("VisemeId", -1)))
                if viseme is not None:
                    visemes.append((at_ms, viseme))
            elif item.get("Type") == "WordBoundary":
                spoken = data.get("text", {})
                if spoken.get("BoundaryType", "WordBoundary") != "WordBoundary":
                    continue
                found = text.find(str(spoken.get("Text", "")), cursor)
                if found < 0:
                    continue
                cursor = found + max(1, len(str(spoken.get("Text", ""))))
                end_ms = at_ms + float(data.get("Duration", 0)) / TICKS_PER_MS
                words.append((found, at_ms, end_ms))
    placed = _visemes(visemes, duration_ms)
    return Timeline(placed, _words(text, words, placed), duration_ms, TimingSource.PROVIDER)


def ssml_with_word_marks(text: str) -> tuple[str, list[int]]:
    """SSML ``<speak>`` with ``<mark name="wN"/>`` before word N, and each word's char index."""
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    parts, last = [], 0
    for n, start in enumerate(starts):
        parts.append(escape(text[last:start]))
        parts.append(f'<mark name="{WORD_MARK_PREFIX}{n}"/>')
        last = start
    parts.append(escape(text[last:]))
    return "<speak>" + "".join(parts) + "</speak>", starts


def google_word_timeline(
    text: str, starts: list[int], timepoints: Iterable[Mapping[str, Any]], duration_ms: float
) -> Timeline:
    """Words from Google's timepoints for the marks of :func:`ssml_with_word_marks` (no visemes:
    estimate them and keep these words). A word ends where the next begins."""
    at: dict[int, float] = {}
    for point in timepoints:
        name = str(point.get("markName", ""))
        if name.startswith(WORD_MARK_PREFIX) and name[1:].isdigit():
            at[int(name[1:])] = float(point.get("timeSeconds", 0.0)) * 1000
    words = [(starts[n], ms, None) for n, ms in at.items() if n < len(starts)]
    timed = sorted(words, key=lambda w: w[1])
    ends = [w[1] for w in timed[1:]] + [duration_ms]
    spans = _words(text, [(c, s, e) for (c, s, _), e in zip(timed, ends, strict=True)], ())
    return Timeline((), spans, duration_ms, TimingSource.PROVIDER)
