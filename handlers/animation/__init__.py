"""Lip sync and word timings for ``response.audio.delta``: marks on the audio's own clock.

* :mod:`.visemes` - espeak-ng phonemes, Azure viseme ids and Polly viseme letters onto the
  contract's ``Viseme`` (OVRLipSync's 15).
* :mod:`.timeline` - the marks (:class:`Timeline`) and the one aligner every TTS path uses
  (:class:`DeltaAligner`, :func:`rebase`) to cut them per delta, on each delta's own clock.
* :mod:`.espeak` - exact marks from espeak-ng's events during the local synthesis.
* :mod:`.estimate`, :mod:`.reference` and :mod:`.text_reference` - estimated marks for
  providers without timings (a reference from espeak-ng's phonemes with the typical lengths of
  :mod:`.phoneme_lengths`, fitted onto the real audio).
* :mod:`.energy` - where audio is silent, and how well a viseme track agrees with it.
* :mod:`.track` - the pipeline's hook: one :class:`~.track.ReplyTimings` per response takes
  each ``synthesize`` call's marks (the provider's ``PcmChunk.timeline``, else the estimate) and
  cuts each delta's fields.

Pure code except :mod:`.reference` (which queues work on the local TTS's espeak-ng thread) and
:class:`.text_reference.PhonemeTranscriber` (which runs there).
"""

from handlers.animation.timeline import (
    DeltaAligner,
    DeltaTimings,
    Timeline,
    VisemeAt,
    WordSpan,
    rebase,
)

__all__ = ["DeltaAligner", "DeltaTimings", "Timeline", "VisemeAt", "WordSpan", "rebase"]
