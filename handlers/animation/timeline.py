"""Viseme and word marks on an audio clock, and the one aligner that re-bases them onto deltas.

A :class:`Timeline` holds the marks of one stretch of synthesised audio (a reply, a sentence or a
provider's chunk) in milliseconds from that audio's first sample. Marks are in time, not in
samples, so resampling the audio to the session's output rate does not move them; a source that
counts samples converts once with :func:`samples_to_ms` at its own rate.

:class:`DeltaAligner` is what every TTS path uses: it is told each delta's audio length as the
delta is cut (in samples at the output rate) and hands back that delta's visemes and words, with
offsets from the delta's first sample. Timelines are appended as they become known (the next
sentence's marks after its audio), so the aligner works the same for one clip, a clip per sentence
or a stream of chunks.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from generated.models import TimingSource, Viseme, VisemeMark, WordTiming


def samples_to_ms(samples: float, sample_rate: int) -> float:
    return samples * 1000.0 / sample_rate


@dataclass(frozen=True, slots=True)
class VisemeAt:
    """A mouth shape that starts ``at_ms`` into the audio and holds until the next one."""

    at_ms: float
    viseme: Viseme


@dataclass(frozen=True, slots=True)
class WordSpan:
    """A word sounding from ``start_ms`` to ``end_ms``; ``text`` runs up to the next word."""

    text: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True)
class Timeline:
    """Marks of one stretch of audio, ``duration_ms`` long, in time order."""

    visemes: tuple[VisemeAt, ...]
    words: tuple[WordSpan, ...]
    duration_ms: float
    source: TimingSource

    def shifted(self, by_ms: float) -> Timeline:
        return Timeline(
            tuple(VisemeAt(v.at_ms + by_ms, v.viseme) for v in self.visemes),
            tuple(WordSpan(w.text, w.start_ms + by_ms, w.end_ms + by_ms) for w in self.words),
            self.duration_ms + by_ms,
            self.source,
        )

    def viseme_at(self, at_ms: float) -> Viseme:
        """The mouth shape at ``at_ms`` (silence before the first mark)."""
        current = Viseme.SIL
        for mark in self.visemes:
            if mark.at_ms > at_ms:
                break
            current = mark.viseme
        return current


def partition_words(text: str, starts: Sequence[int]) -> list[str]:
    """Cut ``text`` at each word's first character, so the pieces joined are ``text``.

    ``starts`` are character indexes, increasing; text before the first word goes with it.
    """
    if not starts:
        return []
    bounds = [0, *starts[1:], len(text)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(starts))]


@dataclass(frozen=True, slots=True)
class DeltaTimings:
    """One delta's marks, offsets in whole milliseconds from the delta's first sample."""

    visemes: tuple[VisemeMark, ...]
    words: tuple[WordTiming, ...]
    source: TimingSource | None
    continued_word: bool = False
    """True when the first word started in the previous delta (its text is repeated here)."""

    def for_contract(
        self, *, visemes: bool, words: bool
    ) -> tuple[list[VisemeMark] | None, list[WordTiming] | None, TimingSource | None]:
        """``ResponseAudioDelta``'s ``visemes``, ``words`` and ``timing_source`` under the
        session's ``animation`` flags: None (absent) for what is off or unknown."""
        sent_visemes = list(self.visemes) if visemes and self.source is not None else None
        sent_words = list(self.words) if words and self.source is not None else None
        source = self.source if sent_visemes is not None or sent_words is not None else None
        return sent_visemes, sent_words, source


@dataclass(slots=True)
class DeltaAligner:
    """Re-bases timelines onto the deltas actually sent. Not thread-safe: one per response.

    ``append`` adds the marks of the next stretch of audio (placed right after the audio already
    appended, whose length is the previous timeline's ``duration_ms``); ``take`` cuts the next
    delta of ``samples`` at ``sample_rate`` and returns its marks. Deltas may be cut before the
    marks of their audio are known only if the caller appends them first: the aligner places a
    timeline where the audio appended so far ends, never where the deltas taken so far end.
    """

    _visemes: list[VisemeAt] = field(default_factory=list)
    _words: list[WordSpan] = field(default_factory=list)
    _sources: list[tuple[float, TimingSource]] = field(default_factory=list)
    _audio_end_ms: float = 0.0
    _taken_ms: float = 0.0
    _taken_samples: int = 0
    _taken_rate: int = 0

    _stretch: tuple[float, int, int] = (0.0, 0, 0)
    """Where the last appended stretch starts: (ms, index in _visemes, index in _words)."""

    def append(self, timeline: Timeline) -> None:
        self._drop_marks_after_the_audio()
        self._stretch = (self._audio_end_ms, len(self._visemes), len(self._words))
        placed = timeline.shifted(self._audio_end_ms)
        if placed.words and self._words and not self._words[-1].text[-1:].isspace():
            # A stretch (a sentence) ends with its last word bare; the reply's text joins the
            # sentences with a space, so the words joined give it only with that space here.
            self._words[-1] = replace(self._words[-1], text=self._words[-1].text + " ")
        self._visemes.extend(placed.visemes)
        self._words.extend(placed.words)
        self._sources.append((self._audio_end_ms, timeline.source))
        self._audio_end_ms = placed.duration_ms

    def revise(self, timeline: Timeline) -> None:
        """Replace the last appended stretch's marks with ``timeline``: the same audio from its
        first sample, known further now (a stream's marks grow with its audio). Deltas already
        taken keep what they were given."""
        start_ms, visemes_from, words_from = self._stretch
        del self._visemes[visemes_from:], self._words[words_from:]
        if self._sources and self._sources[-1][0] == start_ms:
            self._sources.pop()
        self._audio_end_ms = start_ms
        self.append(timeline)

    def _drop_marks_after_the_audio(self) -> None:
        """A streamed stretch's estimate runs ahead of its audio; what follows its end is the
        next stretch's: the marks stay in time order (``take`` relies on it)."""
        while self._visemes and self._visemes[-1].at_ms >= self._audio_end_ms:
            self._visemes.pop()

    def lengthen(self, duration_ms: float) -> None:
        """The last appended stretch's audio is ``duration_ms`` long now; its marks stay."""
        self._audio_end_ms = self._stretch[0] + duration_ms

    @property
    def words(self) -> tuple[WordSpan, ...]:
        """Every word appended so far, on the response's clock (ms from its first sample)."""
        return tuple(self._words)

    def append_silence(self, duration_ms: float) -> None:
        """Audio with no marks (a pause the pipeline inserts): the mouth rests."""
        self._drop_marks_after_the_audio()
        self._visemes.append(VisemeAt(self._audio_end_ms, Viseme.SIL))
        self._audio_end_ms += duration_ms

    def take(self, samples: int, sample_rate: int) -> DeltaTimings:
        # Count samples, not rounded milliseconds, so many small deltas do not drift.
        if sample_rate != self._taken_rate:
            self._taken_ms = self._delta_end_ms()
            self._taken_samples, self._taken_rate = 0, sample_rate
        start_ms = self._delta_end_ms()
        self._taken_samples += samples
        end_ms = self._delta_end_ms()
        return _cut(self._visemes, self._words, self._source_at(start_ms), start_ms, end_ms)

    def _delta_end_ms(self) -> float:
        if self._taken_rate == 0:
            return self._taken_ms
        return self._taken_ms + samples_to_ms(self._taken_samples, self._taken_rate)

    def _source_at(self, at_ms: float) -> TimingSource | None:
        source = None
        for start_ms, this in self._sources:
            if start_ms <= at_ms:
                source = this
        return source


def rebase(
    timeline: Timeline, delta_samples: Iterable[int], sample_rate: int
) -> list[DeltaTimings]:
    """Each delta's marks, for deltas of ``delta_samples`` at ``sample_rate`` cut from the audio."""
    aligner = DeltaAligner()
    aligner.append(timeline)
    return [aligner.take(samples, sample_rate) for samples in delta_samples]


def _cut(
    visemes: Sequence[VisemeAt],
    words: Sequence[WordSpan],
    source: TimingSource | None,
    start_ms: float,
    end_ms: float,
) -> DeltaTimings:
    length = max(0, math.floor(end_ms - start_ms))
    if length == 0:
        return DeltaTimings((), (), source)
    marks: list[VisemeMark] = []
    # Before the first mark the mouth rests; with no marks at all there is nothing to say.
    current: Viseme | None = Viseme.SIL if visemes else None
    # The marks are in time order: skip those before the delta (a response has hundreds, cut
    # into tens of deltas) except the last, the shape held as the delta starts.
    first = bisect.bisect_right(visemes, start_ms, key=_at_ms)
    if first:
        current = visemes[first - 1].viseme
    for mark in itertools.islice(visemes, first, None):
        if mark.at_ms >= end_ms:
            break
        if current is not None and not marks:
            marks.append(VisemeMark(offset_ms=0, id=current))
        offset = min(length - 1, math.floor(mark.at_ms - start_ms))
        _add_viseme(marks, offset, mark.viseme)
    if not marks and current is not None:
        marks.append(VisemeMark(offset_ms=0, id=current))
    cut_words: list[WordTiming] = []
    continued = False
    for word in words:
        if word.end_ms <= start_ms or word.start_ms >= end_ms:
            continue
        begin = max(word.start_ms, start_ms)
        finish = min(word.end_ms, end_ms)
        offset = min(length - 1, math.floor(begin - start_ms))
        duration = max(0, min(length - offset, round(finish - begin)))
        if word.start_ms < start_ms and not cut_words:
            continued = True
        cut_words.append(WordTiming(text=word.text, offset_ms=offset, duration_ms=duration))
    return DeltaTimings(tuple(marks), tuple(cut_words), source, continued)


def _at_ms(mark: VisemeAt) -> float:
    return mark.at_ms


def _add_viseme(marks: list[VisemeMark], offset: int, viseme: Viseme) -> None:
    """Append keeping offsets strictly increasing and no shape repeated back to back."""
    if marks and marks[-1].offset_ms >= offset:
        marks.pop()  # an earlier mark in the same millisecond never shows
    if marks and marks[-1].id == viseme:
        return
    marks.append(VisemeMark(offset_ms=offset, id=viseme))
