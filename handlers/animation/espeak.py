"""Exact timings from espeak-ng: its word and phoneme events, with the sample each starts at.

espeak-ng hands its synthesis callback, with each buffer of audio, a list of events
(``espeak_EVENT``, terminated by ``espeakEVENT_LIST_TERMINATED``): a word event with the word's
character position and length, and, once phoneme events are enabled, a phoneme event with the
phoneme's mnemonic. Each carries ``sample``, its position in the synthesis's audio, so the marks are
exact, on the audio's own clock.

Two ways in, both on the one thread that owns espeak-ng (the library keeps global state, see
``handlers.providers.tts.local``):

* :class:`EspeakTimingCapture` is fed the event pointer from an existing synthesis callback
  (``capture.feed(events, pcm)`` in the local engine's callback) after
  :func:`enable_phoneme_events` ran once on that thread (the engine does it at start-up);
  ``capture.timeline()`` then gives the marks. This is how the local TTS gets its timings
  while it streams, at the cost of reading a few structs per 50 ms buffer.
* :class:`TimedSynthesis` runs a whole synthesis with its own callback (and puts the engine's
  back), returning the audio and its timeline: for the estimator's reference and the tests.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import re
from _ctypes import CFuncPtr
from dataclasses import dataclass
from time import perf_counter
from typing import Final

import espeakng_loader

from generated.models import TimingSource, Viseme
from handlers.animation.energy import close_mouth_in_silence, silent_runs
from handlers.animation.timeline import (
    Timeline,
    VisemeAt,
    WordSpan,
    partition_words,
    samples_to_ms,
)
from handlers.animation.visemes import espeak_viseme

# speak_lib.h: espeak_EVENT_TYPE
EVENT_LIST_TERMINATED: Final = 0
EVENT_WORD: Final = 1
EVENT_PHONEME: Final = 7
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_PARAMETER_RATE: Final = 1
_EE_OK: Final = 0
_MAX_EVENTS_PER_BUFFER: Final = 10_000  # a corrupt list must not loop forever


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),  # a phoneme's mnemonic, NUL-padded
    )


class EspeakEvent(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character position in the input
        ("length", ctypes.c_int),  # a word's length in characters
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),  # sample position in the synthesis's audio
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
"""The synthesis callback's C type, as ``handlers.providers.tts.local`` declares it."""


@dataclass(frozen=True, slots=True)
class PhonemeEvent:
    sample: int
    mnemonic: str


@dataclass(frozen=True, slots=True)
class WordEvent:
    sample: int
    char_index: int  # 0-based
    length: int


def read_events(events_address: int | None) -> tuple[list[PhonemeEvent], list[WordEvent]]:
    """The phoneme and word events in the list a synthesis callback was given."""
    phonemes: list[PhonemeEvent] = []
    words: list[WordEvent] = []
    if not events_address:
        return phonemes, words
    events = ctypes.cast(events_address, ctypes.POINTER(EspeakEvent))
    for index in range(_MAX_EVENTS_PER_BUFFER):
        event = events[index]
        if event.type == EVENT_LIST_TERMINATED:
            break
        if event.type == EVENT_PHONEME:
            mnemonic = bytes(event.id.string).split(b"\0", 1)[0].decode("ascii", "replace")
            phonemes.append(PhonemeEvent(event.sample, mnemonic))
        elif event.type == EVENT_WORD:
            words.append(WordEvent(event.sample, event.text_position - 1, event.length))
    return phonemes, words


class EspeakTimingCapture:
    """Collects one synthesis's events and audio; ``feed`` is called from the synthesis callback.

    ``text`` is the text exactly as handed to espeak-ng (its character positions index it).
    Not thread-safe: fed on espeak-ng's thread; ``timeline`` may be read there between buffers
    (the marks of the audio fed so far) or anywhere after the synthesis ended.
    """

    def __init__(self, text: str, sample_rate: int) -> None:
        self.text = text
        self.sample_rate = sample_rate
        self._audio = bytearray()
        self._phonemes: list[PhonemeEvent] = []
        self._words: list[WordEvent] = []

    @property
    def samples(self) -> int:
        return len(self._audio) // 2

    def feed(self, events_address: int | None, pcm16: bytes = b"") -> None:
        """Take one callback's events and its audio (PCM16 at ``sample_rate``)."""
        phonemes, words = read_events(events_address)
        self._phonemes.extend(phonemes)
        self._words.extend(words)
        self._audio += pcm16

    def timeline(self, *, complete: bool = True) -> Timeline:
        """The marks, with the mouth at rest wherever the audio is silent.

        ``complete=False`` (read while the synthesis goes on): the words are those espeak-ng has
        reached, the text cut after the last of them, so the words not spoken yet are not
        guessed; the last word ends with the audio so far until later events say otherwise.
        """
        text = self.text
        if not complete:
            reached = max((w.char_index + max(w.length, 1) for w in self._words), default=0)
            token_end = re.compile(r"\S*").match(text, min(reached, len(text)))
            text = text[: token_end.end()] if token_end is not None else text[:reached]
        raw = timeline_from_events(
            text, self._phonemes, self._words, self.samples, self.sample_rate
        )
        audio = bytes(self._audio)
        return close_mouth_in_silence(raw, silent_runs(audio, self.sample_rate))


def timeline_from_events(
    text: str,
    phonemes: list[PhonemeEvent],
    words: list[WordEvent],
    total_samples: int,
    sample_rate: int,
) -> Timeline:
    """Viseme and word marks from espeak-ng's events (samples at ``sample_rate``)."""
    last_sample = max([total_samples, *(p.sample for p in phonemes)])
    marks: list[tuple[int, Viseme]] = []
    for phoneme in sorted(phonemes, key=lambda p: p.sample):
        viseme = espeak_viseme(phoneme.mnemonic)
        if viseme is None:
            continue
        if marks and marks[-1][0] == phoneme.sample:
            marks.pop()  # a zero-length phoneme: the later one sounds
        if not marks or marks[-1][1] != viseme:
            marks.append((phoneme.sample, viseme))
    if not marks or marks[-1][1] != Viseme.SIL:
        marks.append((last_sample, Viseme.SIL))  # the mouth closes when the audio ends
    visemes = tuple(VisemeAt(samples_to_ms(s, sample_rate), v) for s, v in marks)

    # Word starts must increase to partition the text. espeak-ng reports a number read as several
    # words, and now and then a word's second letter, as words of their own: each event is
    # snapped back to the start of the text's word it falls in, and a repeat joins the one before.
    token_starts = [m.start() for m in re.finditer(r"\S+", text)]
    kept: list[WordEvent] = []
    for word in sorted(words, key=lambda w: (w.sample, w.char_index)):
        starts_before = bisect.bisect_right(token_starts, word.char_index)
        if not starts_before or word.char_index >= len(text):
            continue
        snapped = WordEvent(word.sample, token_starts[starts_before - 1], word.length)
        if not kept or snapped.char_index > kept[-1].char_index:
            kept.append(snapped)
    texts = partition_words(text, [w.char_index for w in kept])
    sounds = sorted(
        (p.sample, espeak_viseme(p.mnemonic) not in (None, Viseme.SIL)) for p in phonemes
    )
    spans: list[WordSpan] = []
    for i, word in enumerate(kept):
        next_sample = kept[i + 1].sample if i + 1 < len(kept) else last_sample
        start, end = _sounding(sounds, word.sample, next_sample)
        spans.extend(
            _split_joined(
                texts[i], samples_to_ms(start, sample_rate), samples_to_ms(end, sample_rate)
            )
        )
    return Timeline(
        visemes, tuple(spans), samples_to_ms(last_sample, sample_rate), TimingSource.PROVIDER
    )


def _split_joined(text: str, start_ms: float, end_ms: float) -> list[WordSpan]:
    """espeak-ng reports some runs of short words as one ("of the"): split them again, sharing
    the time by length in characters."""
    pieces = re.findall(r"\S+\s*", text)
    if len(pieces) <= 1:
        return [WordSpan(text, start_ms, end_ms)]
    pieces[0] = text[: len(text) - len("".join(pieces[1:]))]  # keeps any leading space
    weights = [len(piece.strip()) for piece in pieces]
    total = sum(weights)
    out, at = [], start_ms
    for piece, weight in zip(pieces, weights, strict=True):
        end = at + (end_ms - start_ms) * weight / total
        out.append(WordSpan(piece, at, end))
        at = end
    return out


def _sounding(sounds: list[tuple[int, bool]], begin: int, limit: int) -> tuple[int, int]:
    """From a word's first sounding phoneme to the pause or next word that ends it."""
    start = None
    # Sorted by sample: start at the first at or after ``begin`` (a reply has thousands).
    for sample, sounding in itertools.islice(sounds, bisect.bisect_left(sounds, (begin,)), None):
        if sample >= limit:
            break
        if start is None and sounding:
            start = sample
        elif start is not None and not sounding:
            return start, sample
    if start is None:
        return begin, begin
    return start, limit


def enable_phoneme_events(lib: ctypes.CDLL, enable: bool = True) -> None:
    """Ask espeak-ng for phoneme events (mnemonics, not IPA), or stop. On espeak-ng's thread."""
    lib.espeak_ng_SetPhonemeEvents.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetPhonemeEvents.restype = ctypes.c_int
    status = lib.espeak_ng_SetPhonemeEvents(int(enable), 0)
    if status != _EE_OK:
        raise RuntimeError(f"espeak-ng refused phoneme events (status {status})")


_current_voice: str | None = None
"""espeak-ng's voice now: the library is process-global, and all its users (the local voice,
the lip-sync references) run on the local engine's one thread."""


def select_voice(lib: ctypes.CDLL, voice: str) -> bool:
    """Make ``voice`` espeak-ng's voice, unless it already is (loading a voice reads its files:
    ~80 us a call, a third of a sentence's text reference). False: espeak-ng has no such voice.
    On espeak-ng's thread; call ``forget_voice`` after ``espeak_Initialize``."""
    global _current_voice
    if voice == _current_voice:
        return True
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
        _current_voice = None  # a failed load may have changed it
        return False
    _current_voice = voice
    return True


def forget_voice() -> None:
    """espeak-ng was (re)initialised: its voice is unknown."""
    global _current_voice
    _current_voice = None


class TimedSynthesis:
    """One whole synthesis with its audio and timeline. Use only on espeak-ng's thread.

    espeak-ng must already be initialised (the local TTS's engine does it). ``run`` installs this
    object's callback for the synthesis and then reinstalls ``restore`` (the engine's callback),
    so the engine's next synthesis is as before.
    """

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib = self._lib
        lib.espeak_SetSynthCallback.argtypes = [ctypes.c_void_p]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        self._callback = SynthCallback(self._on_audio)
        self._events_enabled = True  # the local engine switches them on at start-up
        self._audio = bytearray()
        self._capture: EspeakTimingCapture | None = None
        self.first_audio_at: float | None = None
        """perf_counter() of the first audio buffer of the last run (for the bench)."""

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], n_samples: int, events: int | None
    ) -> int:
        try:
            pcm = ctypes.string_at(wav, 2 * n_samples) if wav and n_samples > 0 else b""
            if self._capture is not None:
                self._capture.feed(events, pcm)
            if pcm:
                if self.first_audio_at is None:
                    self.first_audio_at = perf_counter()
                self._audio += pcm
        except Exception:
            return 1  # an exception cannot cross the C callback boundary
        return 0

    def run(
        self,
        text: str,
        voice: str,
        words_per_minute: int,
        sample_rate: int,
        restore: CFuncPtr | None,
        *,
        timings: bool = True,
    ) -> tuple[bytes, Timeline | None]:
        """Synthesise ``text``; its PCM16 at ``sample_rate`` and (``timings``) its timeline."""
        lib = self._lib
        if timings != self._events_enabled:
            enable_phoneme_events(lib, timings)
            self._events_enabled = timings
        if not select_voice(lib, voice):
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_PARAMETER_RATE, words_per_minute, 0)
        self._audio = bytearray()
        self.first_audio_at = None
        capture = EspeakTimingCapture(text, sample_rate) if timings else None
        self._capture = capture
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        lib.espeak_SetSynthCallback(ctypes.cast(self._callback, ctypes.c_void_p))
        try:
            status = lib.espeak_Synth(
                buffer, len(buffer), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        finally:
            self._capture = None
            if not self._events_enabled:  # the engine's own syntheses read them
                enable_phoneme_events(lib, True)
                self._events_enabled = True
            if restore is not None:
                lib.espeak_SetSynthCallback(ctypes.cast(restore, ctypes.c_void_p))
        if status != _EE_OK:
            raise RuntimeError(f"espeak-ng synthesis failed with status {status}")
        return bytes(self._audio), capture.timeline() if capture is not None else None
