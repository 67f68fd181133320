"""Offline speech synthesis: the espeak-ng formant synthesiser, the server's offline default.

The ``espeakng-loader`` wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data``;
this module drives the library's C API with ctypes in synchronous mode: the
synthesis callback receives PCM16 buffers as the engine produces them, they are
cut into chunks of about 150 ms and streamed to the caller. A sentence takes a
few milliseconds. Audio comes out at the engine's native rate (22050 Hz, as
reported by ``espeak_Initialize``).

The library keeps global state (the current voice, rate and callback), so the
process has one engine and every call to it runs on one dedicated worker
thread, never on the event loop. Concurrent ``synthesize`` calls queue there.

Voices are the contract's ``ttsLocalVoice`` names, mapped to espeak-ng's English
voices. ``ssml_gender="female"`` picks espeak-ng's ``+f3`` female variant of the
voice; every other value keeps the voice's default (male) sound.

Timings (``request.timings``): espeak-ng's phoneme and word events come with each audio buffer,
each with its sample position (phoneme events are switched on once, at start-up); an
``EspeakTimingCapture`` reads them in the synthesis callback, and the last chunk (``final``; an
empty one when no audio is left) or every chunk (``each_chunk``) carries the marks of the audio
so far (``PcmChunk.timeline``): exact, on the audio's own clock, at the cost of
reading a few structs per 50 ms buffer. ``Espeak``, ``shared_engine`` and ``speakable`` are
public for ``handlers.animation``, which queues its reference syntheses on the same thread.
``request.speed`` (1.0 normal) scales the rate of 175 words per minute, within
the 80..700 wpm espeak-ng renders. ``request.language`` is not used: the voice
decides the accent, and every voice here speaks English.

espeak-ng's output is not bit-for-bit repeatable: its pitch "flutter" phase is a
static inside the library that carries on from one synthesis to the next, so
the same text comes out with slightly different pitch wobble and a few samples
more or less.
"""

from __future__ import annotations

import ctypes
import threading
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Self

import espeakng_loader

from generated.catalog import TTS
from handlers.animation.espeak import (
    EspeakTimingCapture,
    enable_phoneme_events,
    forget_voice,
    select_voice,
)
from handlers.animation.timeline import Timeline
from handlers.providers.base import (
    PcmChunk,
    ProviderError,
    ProviderUnavailable,
    TtsRequest,
)
from handlers.providers.toolkit import Emit, NothingToClose, stream_from_thread

MODEL_NAME = TTS["local"].default_model
"""``espeak-ng``, the one model."""
VOICES: dict[str, str] = {
    "en-us": "en-US",
    "en-gb": "en",
    "en-gb-scotland": "en-GB-scotland",
    "en-gb-x-rp": "en-GB-x-rp",
    "en-029": "en-029",
    "en-us-nyc": "en-US-nyc",
}
"""Contract voice name -> espeak-ng voice name (files under espeak-ng-data/lang/gmw)."""
FEMALE_VARIANT = "+f3"
NORMAL_WORDS_PER_MINUTE = 175
MIN_WORDS_PER_MINUTE = 80  # espeak-ng's floor
MAX_WORDS_PER_MINUTE = 700  # speed 4.0; above 450 wpm espeak-ng speeds up with its sonic library
CHUNK_SECONDS = 0.15

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CALLBACK_BUFFER_MS = 50  # smaller than a chunk, so chunks leave as soon as they are full
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of exit() when data is missing
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAMETER_RATE = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

Sink = Callable[[bytes], bool]
"""Receives PCM16 from the engine; returns False to stop the synthesis."""


class Espeak:
    """The process's one espeak-ng engine, used only from its own worker thread."""

    def __init__(self) -> None:
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="espeak-ng")
        """The engine's one worker thread: every call into the library runs there."""
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._declare_signatures()
        # ctypes frees a callback whose Python object is collected: keep it for the process.
        self.callback = _SynthCallback(self._on_audio)
        """The engine's synthesis callback (others that install theirs put this one back)."""
        self._sink: Sink | None = None
        self._capture: EspeakTimingCapture | None = None
        data_path = espeakng_loader.get_data_path()
        self.sample_rate = self.thread.submit(self._initialize, data_path).result()

    def _declare_signatures(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size (unused in synchronous mode)
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position (0: none)
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier out
            ctypes.c_void_p,  # user data
        ]
        lib.espeak_Synth.restype = ctypes.c_int

    def _initialize(self, data_path: str) -> int:
        sample_rate = int(
            self._lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS,
                _CALLBACK_BUFFER_MS,
                data_path.encode(),
                _INITIALIZE_DONT_EXIT,
            )
        )
        if sample_rate <= 0:
            raise ProviderUnavailable(
                f"espeak-ng could not initialise with its data at {data_path}"
            )
        self._lib.espeak_SetSynthCallback(self.callback)
        enable_phoneme_events(self._lib)  # for timings; the events cost little when unread
        # Load the default voice's data now rather than in the first reply (~20 ms).
        forget_voice()
        select_voice(self._lib, VOICES["en-us"])
        return sample_rate

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], n_samples: int, events: int | None
    ) -> int:
        # Called by espeak_Synth on the worker thread; 0 continues, 1 aborts the synthesis.
        sink = self._sink
        if sink is None:
            return 1
        try:
            pcm = ctypes.string_at(wav, 2 * n_samples) if wav and n_samples > 0 else b""
            if self._capture is not None:
                self._capture.feed(events, pcm)  # before the sink, which reads its timeline
            if not pcm:
                return 0
            keep_going = sink(pcm)
        except Exception:
            return 1  # an exception cannot cross the C callback boundary
        return 0 if keep_going else 1

    def speak(
        self,
        text: bytes,
        voice: str,
        words_per_minute: int,
        sink: Sink,
        capture: EspeakTimingCapture | None = None,
    ) -> None:
        """Synthesise ``text`` (UTF-8) into ``sink``, feeding ``capture`` the events and audio
        first. Runs on the worker thread only."""
        if not select_voice(self._lib, voice):
            raise ProviderError(f"espeak-ng has no voice {voice!r}")
        # Set after the voice: loading a voice may reset parameters.
        self._lib.espeak_SetParameter(_PARAMETER_RATE, words_per_minute, 0)
        buffer = ctypes.create_string_buffer(text)
        self._sink, self._capture = sink, capture
        try:
            status = self._lib.espeak_Synth(
                buffer, len(buffer), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        finally:
            self._sink, self._capture = None, None
        if status != _EE_OK:
            raise ProviderError(f"espeak-ng synthesis failed with status {status}")


_engine: Espeak | None = None
_engine_lock = threading.Lock()


def shared_engine() -> Espeak:
    """The library is process-global, so every LocalTextToSpeech shares one engine."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Espeak()
        return _engine


class _Rechunker:
    """Cuts the engine's buffers into chunks of exactly ``chunk_bytes`` (the last may be less)."""

    def __init__(self, chunk_bytes: int) -> None:
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()

    def push(self, pcm: bytes) -> list[bytes]:
        self._buffer += pcm
        chunks: list[bytes] = []
        while len(self._buffer) >= self._chunk_bytes:
            chunks.append(bytes(self._buffer[: self._chunk_bytes]))
            del self._buffer[: self._chunk_bytes]
        return chunks

    def flush(self) -> bytes:
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest


def speakable(text: str) -> bytes:
    """UTF-8 text espeak-ng can take: no NULs or control characters, no lone surrogates."""
    cleaned = "".join(" " if unicodedata.category(char) in ("Cc", "Cs") else char for char in text)
    return cleaned.strip().encode("utf-8")


def words_per_minute(speed: float) -> int:
    rate = round(NORMAL_WORDS_PER_MINUTE * speed)
    return max(MIN_WORDS_PER_MINUTE, min(MAX_WORDS_PER_MINUTE, rate))


def espeak_voice(request: TtsRequest) -> str:
    voice = VOICES.get(request.voice.lower())
    if voice is None:
        raise ProviderError(
            f"unknown local voice {request.voice!r}; choose one of {', '.join(VOICES)}"
        )
    return voice + FEMALE_VARIANT if request.ssml_gender == "female" else voice


class LocalTextToSpeech(NothingToClose):
    """Embedded espeak-ng synthesiser; streams PCM16 at the engine's native rate."""

    def __init__(self, engine: Espeak) -> None:
        self._engine = engine
        self.sample_rate = engine.sample_rate
        self._chunk_bytes = 2 * round(engine.sample_rate * CHUNK_SECONDS)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env  # nothing to configure: no credentials, no settings
        try:
            engine = shared_engine()
        except OSError as exc:
            raise ProviderUnavailable(f"espeak-ng library could not be loaded: {exc}") from exc
        return cls(engine)

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        if request.model != MODEL_NAME:
            raise ProviderError(
                f"local speech synthesis has one model, {MODEL_NAME!r}; got {request.model!r}"
            )
        voice = espeak_voice(request)
        rate = words_per_minute(request.speed)
        spoken = speakable(text)
        if not spoken:
            return
        rechunker = _Rechunker(self._chunk_bytes)
        # Character positions in espeak-ng's events index the text it was handed.
        capture = (
            EspeakTimingCapture(spoken.decode("utf-8"), self.sample_rate)
            if request.timings != "none"
            else None
        )

        def marks(*, complete: bool = False) -> Timeline | None:
            # Each chunk's costs more as the audio grows: only when each chunk needs one.
            if capture is None or not (complete or request.timings == "each_chunk"):
                return None
            return capture.timeline(complete=complete)

        def speak(emit: Emit[tuple[bytes, Timeline | None]]) -> None:
            def sink(pcm: bytes) -> bool:
                return all(emit((chunk, marks())) for chunk in rechunker.push(pcm))

            self._engine.speak(spoken, voice, rate, sink, capture)
            tail = rechunker.flush()
            if tail or capture is not None:  # the final marks, even with no audio left
                emit((tail, marks(complete=True)))

        # aclosing: a consumer that stops early aborts the synthesis at its next full chunk.
        async with aclosing(stream_from_thread(speak, self._engine.thread)) as chunks:
            try:
                async for pcm, timeline in chunks:
                    yield PcmChunk(pcm, self.sample_rate, timeline)
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderError(f"espeak-ng failed: {exc}") from exc
