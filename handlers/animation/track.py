"""One response's timings, as the pipeline sends them: marks per delta, on each delta's clock.

:class:`ReplyTimings` is the pipeline's one hook: it keeps the response's :class:`DeltaAligner`,
adds the marks of each ``synthesize`` call's audio (a *stretch*: the reply in ``single`` mode, a
sentence in ``chain`` and ``stream`` modes) and cuts each delta's marks as it is sent.

Where a stretch's marks come from, best first: the provider's (``PcmChunk.timeline``: espeak-ng's
events, Polly's speech marks), else an estimate (:mod:`.estimate`): a reference for the same
text is made on espeak-ng's thread (:func:`.reference.reference_timeline`: espeak-ng's phonemes
with typical lengths), started as the stretch starts so it runs beside the provider's synthesis,
and its marks are fitted onto the real audio (on the loop: the audio's frame energies are
computed once, as its chunks come, and a fit reads only them). A whole stretch (``single``,
``chain``) is fitted end to end; a streamed one keeps the reference's pace from the audio's first
sound, the mouth closed where the audio so far is silent. Timings never hold audio back for a
provider that has its own: a chunk that comes before them goes with what is known by then.

With both ``animation`` flags off nothing is computed and the deltas carry no timing fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from generated.models import (
    Animation,
    TimingSource,
    TtsResponseType,
    Viseme,
    VisemeMark,
    WordTiming,
)
from handlers.animation.energy import FrameEnergy
from handlers.animation.estimate import (
    FrameRms,
    Voicing,
    fit_timeline,
    place_prefix,
    prefix_voicing,
)
from handlers.animation.timeline import DeltaAligner, Timeline, VisemeAt, WordSpan, samples_to_ms
from handlers.providers.base import PcmChunk, TimingsWanted

log = logging.getLogger(__name__)

DeltaFields = tuple[list[VisemeMark] | None, list[WordTiming] | None, TimingSource | None]
"""``ResponseAudioDelta``'s ``visemes``, ``words`` and ``timing_source``."""
NO_FIELDS: DeltaFields = (None, None, None)


PROVIDERS_WITH_TIMINGS = frozenset({"local", "aws"})
"""TTS providers whose chunks carry their own marks; for the others the reference starts with the
synthesis. (local must not: the reference would queue before its synthesis on the one espeak-ng
thread.)"""


class ReplyTimings:
    """The marks of one response's audio, cut per delta. One per response, on the event loop."""

    def __init__(self, animation: Animation, provider: str, speed: float) -> None:
        self.visemes, self.words = animation.visemes, animation.words
        self.enabled = self.visemes or self.words
        """Whether the session wants timings (else nothing is computed)."""
        self._eager_reference = provider not in PROVIDERS_WITH_TIMINGS
        self._speed = speed
        self._aligner = DeltaAligner()

    def wanted(self, mode: TtsResponseType) -> TimingsWanted:
        """What to ask the TTS provider for (``TtsRequest.timings``) in response mode ``mode``."""
        if not self.enabled:
            return "none"
        return "each_chunk" if mode == TtsResponseType.STREAM else "final"

    @contextlib.asynccontextmanager
    async def stretch(self, text: str) -> AsyncIterator[Stretch]:
        """One ``synthesize`` call of ``text``: its marks go in before its deltas are taken."""
        stretch = Stretch(self, text)
        if self.enabled and self._eager_reference:
            stretch.start_reference()
        try:
            yield stretch
        finally:
            await stretch.aclose()

    def take(self, samples: int, sample_rate: int) -> DeltaFields:
        """The next delta's fields, for its ``samples`` of audio at the output rate."""
        if not self.enabled:
            return NO_FIELDS
        cut = self._aligner.take(samples, sample_rate)
        return cut.for_contract(visemes=self.visemes, words=self.words)

    @property
    def word_spans(self) -> tuple[WordSpan, ...]:
        """The words of the audio so far, on the response's clock (ms from its first sample)."""
        return self._aligner.words


class Stretch:
    """One ``synthesize`` call's audio so far (at its first chunk's rate) and its marks."""

    def __init__(self, timings: ReplyTimings, text: str) -> None:
        self._timings = timings
        self._text = text
        self._energy: FrameEnergy | None = None
        """The audio so far, as its frames' energies (at its first chunk's rate)."""
        self._appended = False
        self._chunks_without_marks = 0
        self._reference: asyncio.Task[Timeline] | None = None
        self._prefix: tuple[Voicing, Timeline] | None = None
        """The last prefix fit and the voicing it was fitted to (a stream's audio grows by
        chunks; its fit changes only when a silence or the first sound is found)."""
        self._placed: Timeline | None = None

    async def add_clip(self, chunks: Sequence[PcmChunk]) -> None:
        """All of the call's chunks, sent as one delta (``single``, ``chain``)."""
        if not self._timings.enabled:
            return
        for chunk in chunks:
            self._extend(chunk)
        timeline = _last_timeline(chunks)
        if timeline is None and self._energy is not None and self._energy.samples:
            reference = await self._estimate()
            if reference is not None:
                timeline = fit_timeline(reference, self._energy.rms, self._duration_ms())
        self._place(timeline)

    async def add(self, chunk: PcmChunk) -> None:
        """The next chunk, before the delta carrying it is taken (``stream``)."""
        if not self._timings.enabled:
            return
        self._extend(chunk)
        timeline = chunk.timeline
        if (
            timeline is None
            and self._energy is not None
            and self._energy.samples
            and self._may_estimate()
        ):
            reference = await self._estimate()
            if reference is not None:
                timeline = self._fit_prefix(reference, self._energy.rms)
        self._place(timeline)

    def _fit_prefix(self, reference: Timeline, rms: FrameRms) -> Timeline:
        # On the loop: the frames' energies were computed once, as the audio came, and the fit
        # reads only them (tens of microseconds; a thread hop per chunk cost more).
        voicing = prefix_voicing(rms)
        if self._prefix is None or self._prefix[0] != voicing:
            self._prefix = voicing, place_prefix(reference, voicing, self._duration_ms())
        return self._prefix[1]

    def _may_estimate(self) -> bool:
        """A provider with timings of its own (Polly, before its marks are in) does not make a
        delta wait for the reference: its mouth rests until the reference or the marks are in,
        and the reference starts only after the first chunk, so that its work (on a 2-core
        machine, its share of the interpreter) does not slow first audio. For the others the
        estimate is the only source, started with the synthesis."""
        if self._timings._eager_reference:
            return True
        self._chunks_without_marks += 1
        if self._chunks_without_marks > 1:
            self.start_reference()
        return self._reference is not None and self._reference.done()

    def start_reference(self) -> None:
        if self._reference is None:
            self._reference = asyncio.ensure_future(_reference(self._text, self._timings._speed))

    async def aclose(self) -> None:
        if self._reference is not None and not self._reference.done():
            self._reference.cancel()
            with contextlib.suppress(BaseException):
                await self._reference

    def _extend(self, chunk: PcmChunk) -> None:
        if self._energy is None:
            self._energy = FrameEnergy(chunk.sample_rate)
        rate = self._energy.sample_rate
        if chunk.sample_rate == rate:
            self._energy.extend(chunk.pcm)
        else:  # a provider that changes rate mid-call: keep its time, not its samples
            self._energy.extend(bytes(2 * round(len(chunk.pcm) // 2 * rate / chunk.sample_rate)))

    def _place(self, timeline: Timeline | None) -> None:
        """``timeline`` over exactly the audio so far (a provider's last mark may fall a little
        before or after its end); with no marks the mouth rests."""
        duration_ms = self._duration_ms()
        aligner = self._timings._aligner
        if timeline is not None and timeline is self._placed:
            aligner.lengthen(duration_ms)  # the same marks over more audio
            return
        self._placed = timeline
        if timeline is None:
            timeline = Timeline((VisemeAt(0.0, Viseme.SIL),), (), 0.0, TimingSource.ESTIMATED)
        timeline = replace(timeline, duration_ms=duration_ms)
        if self._appended:
            aligner.revise(timeline)
        else:
            aligner.append(timeline)
            self._appended = True

    def _duration_ms(self) -> float:
        if self._energy is None:
            return 0.0
        return samples_to_ms(self._energy.samples, self._energy.sample_rate)

    async def _estimate(self) -> Timeline | None:
        """The reference to fit onto the audio (None if espeak-ng could not make it)."""
        try:
            self.start_reference()
            assert self._reference is not None
            return await asyncio.shield(self._reference)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Timings are an extra: a reply is spoken without them rather than not at all.
            log.warning(
                "could not estimate timings for %d characters", len(self._text), exc_info=True
            )
            return None


async def _reference(text: str, speed: float) -> Timeline:
    # Imported here: the reference needs the local engine, which loads espeak-ng.
    from handlers.animation.reference import REFERENCE_VOICE, reference_timeline
    from handlers.providers.tts.local import speakable, words_per_minute

    spoken = speakable(text).decode("utf-8")  # as the local voice would take it
    return await reference_timeline(spoken, REFERENCE_VOICE, words_per_minute(speed))


def _last_timeline(chunks: Sequence[PcmChunk]) -> Timeline | None:
    for chunk in reversed(chunks):
        if chunk.timeline is not None:
            return chunk.timeline
    return None
