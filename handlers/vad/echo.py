"""Echo guard: the avatar's own voice reaching the Sender's microphone must not start a turn.

Silero is nearly level-blind: the avatar's reply heard 20 dB down through the kiosk's microphone
is speech to it, so ``threshold`` and ``min_speech_ms`` alone let the avatar interrupt itself. The
server knows what the avatar says, sample for sample (it sent that audio), so the guard predicts
the echo of each 32 ms microphone frame band by band and passes a frame's speech probability only
if enough bands hold more than that echo can explain (a person's voice differs in spectrum from
the avatar's at each moment, so it shows in bands the echo leaves quiet, even when the echo is
nearly as loud overall; the level-only rule this replaces missed such a person):

- Bands: the power (dB) of 18 bands (``BAND_EDGES_HZ``, 125 Hz - 8 kHz; 14 at 8 kHz) of a
  Hann-windowed FFT of each frame, of the microphone and of the reference (the audio sent,
  resampled to the model's rate and placed on the input timeline by ``play``).
- Delay: the echo's delay (network, playback buffer, room: unknown to us, up to ``max_delay_ms``)
  is the lag, in frames, at which the reference's band envelopes correlate best with the
  microphone's, over the last ``CORRELATION_FRAMES`` frames that the guard took for echo; looked
  for every ``ESTIMATE_EVERY`` frames while the avatar plays, then checked every
  ``RE_ESTIMATE_EVERY``. Taken once it correlates (``MIN_CORRELATION``) over at least
  ``MIN_ECHO_FRAMES`` frames of echo; replaced only by a lag that wins clearly (``DELAY_SWITCH``)
  ``SWITCH_WINS`` times in a row (a person talking over the avatar moves the peak). The echo
  straddles two frames, so the delay is the earlier of the two lags that hold it.
- Gain: per band, how much quieter the echo is than what was sent (loudspeaker, room,
  microphone): set from the window when a delay is taken (the ``GAIN_QUANTILE`` quantile of the
  microphone's band less the delayed reference's), then followed by a running quantile (a step
  up when above it, a smaller one down) on frames that it explains in every band only (not on
  a person's: a frame with fewer bands above the echo than speech needs is often the quieter
  edge of a person talking over it). Until a delay is known, every lag of the window at once
  (the band-wise maximum), each lag at its own bound on the gain: ``echo_gain_db`` (0 dB:
  cautious) at first, down ``BOUND_DOWN_DB`` on each frame where the reference at that lag would
  be heard above the noise gate yet the microphone's band stayed within ``QUIET_DB`` of its floor
  (no echo came at that lag), up on frames above what the lag predicts (at once to the frame's
  gain where it is that lag's reference at one gain: an echo appearing mid-reply). A microphone
  that never hears the avatar (a headset, a browser's echo canceller, headless Chromium's fake
  microphone) finds no delay and learns no gain; this bound lets a person be heard over it once
  the reply has been loud for about 0.5 s. An echo keeps the microphone above its floor wherever
  the reference is loud at its lag, so its lag stays cautious. Forgotten when the avatar falls
  silent: each reply learns it anew (a headset may have come off in between).
- Echo: the reference's two frames at the delay plus the gain, held over the room's
  reverberation by a decay of ``TAIL_DECAY_DB`` a frame.
- Decision: a frame is the person's if at least ``SPEECH_BANDS`` of its bands exceed both the
  predicted echo by ``margin_db`` and the microphone's noise floor (a running minimum, from the
  first frame heard with a reference) by ``NOISE_MARGIN_DB``, a band ``STRONG_DB`` above that
  counting twice; otherwise its probability becomes 0.

With no reference audio with sound in the delay window (the avatar silent) a frame costs about a
microsecond; while the avatar plays, about 50 us, about 75 us while the bound is learnt (no
delay known; bench/vad.py's echo section). Pure and
single-threaded except ``play`` and ``stop``: the event loop tells it the audio it sends to the
Receivers (and when a reply is cut short), placed on the input stream's timeline (input audio
time, ``VadStream.pushed_ms``); the worker thread turns it into band powers when it gates the
frames that could hear it (``gate``, a stream's frames of one pass at a time).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import soxr

from handlers.vad.turns import FRAME_MS

FloatArray = npt.NDArray[np.float32]

SILENT_DB = -100.0
BAND_EDGES_HZ = (
    125, 250, 375, 500, 625, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000, 5000,
    6000, 7000, 8000,
)  # fmt: skip
"""Band edges: finer where speech's formants move, coarser above."""
SPEECH_BANDS = 0.25
"""The share of a frame's bands that must hold more than the echo for it to be speech."""
STRONG_DB = 6.0
"""A band this far above its floor (with ``margin_db`` 6: twice the margin above the echo) counts
twice towards ``SPEECH_BANDS``: a person's voice is often far above the echo in a few bands
(below a small loudspeaker's 250 Hz, in a formant) and under it in the rest, and 4 of 18 bands
above left such a person over a -6 dB room echo unheard. The echo alone seldom exceeds its
prediction by that much, and not in several bands at once (bench/vad.py's echo section)."""
NOISE_MARGIN_DB = 12.0
NOISE_RISE_DB = 0.2
"""6 dB a second: out of a loud first frame quickly, yet held down by the dips between words."""
TAIL_DECAY_DB = 4.0
"""How fast the predicted echo falls when the reference does: a room of RT60 up to ~0.5 s."""
ACTIVE_BAND_DB = -75.0
"""Reference bands quieter than this teach nothing about the echo's gain."""
CORRELATION_FRAMES = 64
"""About 2 s of frames: the window over which the echo's delay is estimated."""
ESTIMATE_EVERY = 4
RE_ESTIMATE_EVERY = 32
"""Once a delay is known it is checked about once a second only (the correlation is the guard's
dearest step)."""
MIN_CORRELATION = 0.4
DELAY_SWITCH = 0.2
SWITCH_WINS = 3
"""How much better another lag must correlate than the current delay to replace it."""
MIN_ACTIVE_FRAMES = 12
"""Reference frames with sound the delay window must hold before a delay is estimated."""
MIN_ECHO_FRAMES = 6
"""Frames whose echo the window holds at a delay before it is taken (and its gains learnt)."""
BATCH_FRAMES = 16
"""The most frames gated at once (the histories must reach back past a batch)."""
GAIN_QUANTILE = 0.8
GAIN_STEP_DB = 1.5
QUIET_DB = 9.0
"""A microphone band no more than this above its noise floor heard nothing else (a noise-only
band's 32 ms power stays within about this of the running minimum)."""
BOUND_DOWN_DB = 12.0
"""How far a lag's gain bound falls on a frame that proves it: the reference loud at that lag,
the microphone quiet. Three such frames take a -36 dB bound."""
BOUND_UP_DB = 6.0
"""How far it rises on a frame taken for echo that holds more than the lag's bound predicts (an
echo after all: it must soon be as careful as before)."""
BOUND_CREEP_DB = 0.5
"""How far it rises on a frame that passed with more than the bound predicts: a person talking
over the avatar (who must stay heard), or an echo that was not there when the bound was learnt
(a headset taken off mid-reply, an echo canceller losing track; too slow alone to keep such an
echo from starting a turn: see ``ECHO_LIKE_SPREAD_DB``)."""
ECHO_LIKE_BANDS = 6
ECHO_LIKE_SPREAD_DB = 2.5
"""A passed frame whose bands (at least ``ECHO_LIKE_BANDS`` heard) are a lag's reference at one
gain within this (standard deviation) is taken for an echo at that lag: an echo appearing
mid-reply after a quiet start started a turn in 38 of 48 trials without this, 16 with it (17
at the cautious start; all 16 when it begins mid-word, 1 s in); a person with no echo is
heard as often (bench/vad.py)."""


class _Bands:
    """Band powers (dB) of frames of one rate: a window, an FFT, a bins-to-bands matrix."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.frame = rate * FRAME_MS // 1000
        self.window = np.hanning(self.frame).astype(np.float32)
        freqs = np.fft.rfftfreq(self.frame, 1.0 / rate)
        edges = [edge for edge in BAND_EDGES_HZ if edge <= rate / 2]
        matrix = np.zeros((freqs.size, len(edges) - 1), dtype=np.float32)
        for band, (low, high) in enumerate(itertools.pairwise(edges)):
            matrix[(freqs >= low) & (freqs < high), band] = 1.0
        # Power per frame of full-scale-RMS audio spread evenly: 0 dB is a band at full scale.
        self.matrix = matrix.astype(np.float64) * (
            2.0 / (np.sum(np.square(self.window)) * self.frame)
        )
        self.count = matrix.shape[1]

    def of(self, frames: FloatArray) -> FloatArray:
        """Band powers in dB (>= SILENT_DB), one row per row of ``frames``."""
        spectrum = np.fft.rfft(frames * self.window, axis=1)
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        bands = power @ self.matrix
        np.maximum(bands, 1e-10, out=bands)
        decibels = np.log10(bands)
        decibels *= 10.0
        return np.asarray(decibels, dtype=np.float32)


class _History:
    """The last ``size`` rows of band powers, one per input frame, in one contiguous array."""

    def __init__(self, size: int, bands: int, fill: float = SILENT_DB) -> None:
        self.size = size
        self.fill = fill
        self._rows = np.full((2 * size, bands), fill, dtype=np.float32)
        self._end = size
        self.valid = 0
        """Rows appended since the last ``clear`` (at most ``size``)."""

    def append(self, rows: FloatArray) -> None:
        count = rows.shape[0]
        self.valid = min(self.valid + count, self.size)
        if count >= self.size:
            self._rows[: self.size] = rows[-self.size :]
            self._end = self.size
            return
        if self._end + count > self._rows.shape[0]:
            self._rows[: self.size - count] = self._rows[self._end - self.size + count : self._end]
            self._end = self.size - count
        self._rows[self._end : self._end + count] = rows
        self._end += count

    def clear(self) -> None:
        self._rows[self._end - self.size : self._end] = self.fill
        self.valid = 0

    def last(self, count: int, skip: int = 0) -> FloatArray:
        """The ``count`` rows that end ``skip`` rows before the newest (oldest first)."""
        end = self._end - skip
        return self._rows[end - count : end]


class EchoGuard:
    """Gates speech probabilities of frames that the avatar's known output can explain."""

    def __init__(
        self,
        *,
        echo_gain_db: float = 0.0,
        margin_db: float = 6.0,
        max_delay_ms: int = 400,
        rate: int = 16000,
    ) -> None:
        self.echo_gain_db = echo_gain_db
        """The gain assumed in every band until one is learnt: as loud as sent (cautious)."""
        self.margin_db = margin_db
        self.max_delay_frames = max(1, -(-max_delay_ms // FRAME_MS))
        self._incoming: deque[tuple[bytes, int, int]] = deque()
        """(PCM16, sample rate, input ms it starts at); empty PCM: the avatar stopped there."""
        self._queued_until_ms = 0
        self.gated_frames = 0
        """Frames whose speech probability the guard zeroed (for tests and metrics)."""
        self.delay_frames: int | None = None
        """The echo's estimated delay in frames (None: not known yet)."""
        self.set_rate(rate)

    def set_rate(self, rate: int) -> None:
        """The rate of the frames ``gate`` gets (the VAD model's); forgets what was learnt."""
        self._bands = _Bands(rate)
        bands = self._bands.count
        self._reference: dict[int, FloatArray] = {}
        """Band powers (dB) of reference frames not yet gated, by input frame."""
        self._partial: tuple[int, FloatArray] | None = None
        """The last reference frame while it may still be filled: (frame, its samples)."""
        keep = CORRELATION_FRAMES + self.max_delay_frames + 2
        self._mic = _History(CORRELATION_FRAMES, bands)
        self._echo_only = _History(CORRELATION_FRAMES, 1, fill=0.0)
        """1 for the microphone's frames that the guard took for echo (the ones to learn from)."""
        self._candidate: int | None = None
        self._candidate_wins = 0
        self._ref = _History(keep, bands)
        self._last_reference_frame = -(10**9)
        """The last input frame whose reference had sound (its echo may come a delay later)."""
        self._next_cleanup = 0
        self._gain_db = np.full(bands, self.echo_gain_db, dtype=np.float32)
        self._bound_db = np.full(
            (self.max_delay_frames + 2, bands), self.echo_gain_db, dtype=np.float32
        )
        """Until a delay is known: the most the echo's gain can be at each lag of the window (row
        ``i``: lag ``max_delay_frames + 1 - i``, as ``_History.last`` orders it), per band."""
        self._bound_learnt = False
        self._noise_db = np.zeros(bands, dtype=np.float32)  # the first frame sets it
        self._tail_db = np.full(bands, SILENT_DB, dtype=np.float32)
        self._active_frames = 0
        self._since_estimate = 0
        self._speech_bands = math.ceil(SPEECH_BANDS * bands)
        self._gain_up = np.float32(GAIN_QUANTILE * GAIN_STEP_DB)
        self._gain_down = np.float32((GAIN_QUANTILE - 1.0) * GAIN_STEP_DB)
        self.delay_frames = None
        self.correlation = 0.0
        """How well the reference's envelopes matched the microphone's at ``delay_frames``."""

    # -- event loop side -------------------------------------------------------------------------

    def play(self, pcm: bytes, sample_rate: int, now_ms: int) -> int:
        """The avatar was sent ``pcm`` (PCM16 mono) at input time ``now_ms`` (event loop side).

        A Receiver plays what it gets back to back, so the audio is placed right after what is
        still queued, or at ``now_ms`` when nothing is. Returns where it was placed (input ms).
        """
        at_ms = max(now_ms, self._queued_until_ms)
        if pcm:
            self._incoming.append((pcm, sample_rate, at_ms))
            self._queued_until_ms = at_ms + len(pcm) // 2 * 1000 // sample_rate
        return at_ms

    def stop(self, now_ms: int) -> None:
        """The avatar stopped at input time ``now_ms`` (reply cancelled): forget what is queued
        after it; the echo of what was already played stays expected for ``max_delay_ms``."""
        self._queued_until_ms = min(self._queued_until_ms, now_ms)
        self._incoming.append((b"", 0, now_ms))

    # -- worker side -----------------------------------------------------------------------------

    def _absorb(self) -> None:
        """Turn the audio ``play`` placed into band powers of whole reference frames."""
        frame_size = self._bands.frame
        rate = self._bands.rate
        while self._incoming:
            pcm, pcm_rate, at_ms = self._incoming.popleft()
            at = at_ms * rate // 1000
            if not pcm:
                self._cut(at)
                continue
            samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
            samples = samples.astype(np.float32) / 32768.0
            if pcm_rate != rate:
                samples = np.asarray(soxr.resample(samples, pcm_rate, rate), dtype=np.float32)
            first = at // frame_size
            if self._partial is not None and self._partial[0] == first:
                samples = np.concatenate((self._partial[1][: at - first * frame_size], samples))
            else:
                self._finish_partial()
                samples = np.concatenate((np.zeros(at - first * frame_size, np.float32), samples))
            whole = samples.size // frame_size
            if whole:
                rows = self._bands.of(samples[: whole * frame_size].reshape(whole, frame_size))
                for index in range(whole):
                    self._reference[first + index] = rows[index]
            self._partial = (first + whole, samples[whole * frame_size :])

    def _finish_partial(self) -> None:
        if self._partial is not None:
            frame, samples = self._partial
            self._partial = None
            if samples.size:
                padded = np.zeros((1, self._bands.frame), dtype=np.float32)
                padded[0, : samples.size] = samples
                self._reference[frame] = self._bands.of(padded)[0]

    def _cut(self, at: int) -> None:
        """Nothing plays after input sample ``at``."""
        frame_size = self._bands.frame
        if self._partial is not None and self._partial[0] * frame_size < at:
            frame, samples = self._partial
            self._partial = (frame, samples[: at - frame * frame_size])
        else:
            self._partial = None
        first_dropped = -(-at // frame_size)
        for frame in [index for index in self._reference if index >= first_dropped]:
            del self._reference[frame]

    def _reference_rows(self, first: int, count: int) -> FloatArray | None:
        """The reference's band powers for input frames ``first``.. (None: none has sound, so
        silence played is no reference)."""
        if self._partial is not None and self._partial[0] < first + count:
            self._finish_partial()
        if not self._reference:
            return None
        rows = np.full((count, self._bands.count), SILENT_DB, dtype=np.float32)
        found = False
        for index in range(count):
            row = self._reference.pop(first + index, None)
            if row is not None:
                rows[index] = row
                if float(np.max(row)) > ACTIVE_BAND_DB:
                    found = True
                    self._last_reference_frame = first + index
        if first >= self._next_cleanup:  # about once a second: a whole reply may be queued ahead
            self._next_cleanup = first + 32
            for stale in [frame for frame in self._reference if frame < first]:
                del self._reference[stale]
        return rows if found else None

    def gate(
        self, first_frame: int, frames: FloatArray, probabilities: Sequence[float]
    ) -> list[float]:
        """The probabilities to give the turn detector for input frames ``first_frame``.. whose
        samples (at the model's rate) are ``frames`` (worker side)."""
        if len(probabilities) > BATCH_FRAMES:  # audio sent faster than real time
            return [
                gated
                for start in range(0, len(probabilities), BATCH_FRAMES)
                for gated in self.gate(
                    first_frame + start,
                    frames[start : start + BATCH_FRAMES],
                    probabilities[start : start + BATCH_FRAMES],
                )
            ]
        count = len(probabilities)
        self._absorb()
        reference = self._reference_rows(first_frame, count)
        if first_frame - self._last_reference_frame > self.max_delay_frames + 1:
            # No echo can reach these frames: nothing to do. They are left out of the histories;
            # the reference's rows before them are silent (as it was during them), so a lag
            # across the gap still pairs the microphone with what was playing then.
            self._tail_db[:] = SILENT_DB
            if self._bound_learnt:  # each reply learns it anew: a headset may have come off
                self._bound_db.fill(self.echo_gain_db)
                self._bound_learnt = False
            return list(probabilities)
        if reference is None:
            reference = np.full((count, self._bands.count), SILENT_DB, dtype=np.float32)
        self._ref.append(reference)
        mic = self._bands.of(np.asarray(frames, dtype=np.float32))
        self._mic.append(mic)
        gated = list(probabilities)
        echo_only = np.zeros((count, 1), dtype=np.float32)
        for index in range(count):
            if not self._is_speech(mic[index], count - 1 - index):
                gated[index] = 0.0
                self.gated_frames += 1
                echo_only[index] = 1.0
        self._echo_only.append(echo_only)
        every = ESTIMATE_EVERY if self.delay_frames is None else RE_ESTIMATE_EVERY
        if self._since_estimate >= every and echo_only[-1, 0]:
            self._estimate_delay()
        return gated

    def _is_speech(self, mic: FloatArray, newer: int) -> bool:
        """Whether a microphone frame (``newer`` frames before the newest) holds more than the
        echo; learns the echo's gain from it. (Few numpy calls: this runs every frame.)"""
        delay = self.delay_frames
        if delay is None:
            window = self._ref.last(self.max_delay_frames + 2, newer)
            reference = np.maximum.reduce(window, axis=0)
            lag_echo = window + self._bound_db
            echo = np.maximum.reduce(lag_echo, axis=0)
        else:
            window = self._ref.last(2, newer + delay)
            reference = np.maximum.reduce(window, axis=0)
            echo = reference + self._gain_db
        np.maximum(echo, self._tail_db - TAIL_DECAY_DB, out=echo)
        self._tail_db = echo
        floor = np.maximum(echo + self.margin_db, self._noise_db + NOISE_MARGIN_DB)
        above_floor = mic > floor
        floor += STRONG_DB
        held = int(np.count_nonzero(above_floor)) + int(np.count_nonzero(mic > floor))
        speech = held >= self._speech_bands
        if delay is None:
            self._bound(mic, window, lag_echo, speech)
        # The noise floor: follows drops at once, rises by NOISE_RISE_DB a frame; from the first
        # frame heard with a reference (cautious: that frame may be loud, the echo, or a person).
        np.minimum(self._noise_db + NOISE_RISE_DB, mic, out=self._noise_db)
        if float(np.max(reference)) > ACTIVE_BAND_DB:
            self._active_frames += 1
            # Only from frames the prediction explains in every band: a frame with a band above
            # it may hold a person talking over the echo (a turn starting, or the quieter edges
            # of one), and learning from those raised the gain by 1.2 dB a frame until the person
            # was taken for echo.
            if delay is not None and not int(np.count_nonzero(above_floor)):
                above = mic - reference > self._gain_db
                step = np.where(above, self._gain_up, self._gain_down)
                step[reference <= ACTIVE_BAND_DB] = 0.0
                self._gain_db += step
        self._since_estimate += 1
        return speech

    def _bound(
        self, mic: FloatArray, window: FloatArray, lag_echo: FloatArray, speech: bool
    ) -> None:
        """Learn each lag's bound on the echo's gain from a microphone frame (``window``: the
        reference at each lag; ``lag_echo``: the echo each lag predicts; before the noise floor
        takes this frame in).

        Where the reference at a lag would be heard above the noise gate but the microphone's
        band stayed at its floor, no echo came at that lag: its bound falls. A microphone that
        never hears the avatar (a headset, a browser's echo canceller) teaches this within a few
        loud frames, where the gain itself is never learnt (no delay is found). An echo keeps the
        microphone above its floor wherever the reference is loud at its lag, so that lag's bound
        stays where it was; a frame above what a lag predicts raises it."""
        bound = self._bound_db
        gate = self._noise_db + NOISE_MARGIN_DB
        proven = (lag_echo > gate) & (mic <= self._noise_db + QUIET_DB)
        if proven.any():
            np.subtract(bound, BOUND_DOWN_DB, out=bound, where=proven)
            self._bound_learnt = True
        # Bands a lag could have brought an echo to (at the cautious gain) that hold more than
        # it predicts now: it may be the echo after all.
        possible = window + self.echo_gain_db > gate
        louder = possible & (mic > np.maximum(lag_echo, gate))
        if not louder.any():
            return
        if speech:
            np.add(bound, BOUND_CREEP_DB, out=bound, where=louder)
            self._raise_where_like_the_reference(mic, window, possible & (mic > gate))
        else:
            np.add(bound, BOUND_UP_DB, out=bound, where=louder)
        np.minimum(bound, self.echo_gain_db, out=bound)

    def _raise_where_like_the_reference(
        self, mic: FloatArray, window: FloatArray, heard: npt.NDArray[np.bool_]
    ) -> None:
        """A frame that passed but, in the bands heard at some lag, is that lag's reference at
        one gain (within ``ECHO_LIKE_SPREAD_DB``): an echo that came after the bound was learnt
        (a headset taken off mid-reply). That lag's bound rises to that gain at once; a person's
        voice differs in spectrum from the avatar's at every lag (bench/vad.py's no-echo trials)."""
        count = np.count_nonzero(heard, axis=1)
        gain = np.where(heard, mic - window, 0.0)
        mean = np.sum(gain, axis=1) / np.maximum(count, 1)
        spread = np.sum(np.where(heard, np.square(gain - mean[:, None]), 0.0), axis=1)
        like = (count >= ECHO_LIKE_BANDS) & (spread <= ECHO_LIKE_SPREAD_DB**2 * count)
        if like.any():
            raised = np.maximum(self._bound_db[like], (mean[like] + ECHO_LIKE_SPREAD_DB)[:, None])
            self._bound_db[like] = raised

    def _estimate_delay(self) -> None:
        """The lag at which the reference's band envelopes best match the microphone's, over the
        frames taken for echo; on a new delay, each band's gain from those frames."""
        self._since_estimate = 0
        frames = self._mic.valid
        if self._active_frames < MIN_ACTIVE_FRAMES or frames < MIN_ACTIVE_FRAMES:
            return
        weights = self._echo_only.last(frames)  # (frames, 1)
        used = float(np.sum(weights))
        if used < MIN_ACTIVE_FRAMES:
            return
        lags = self.max_delay_frames + 1
        mic = self._mic.last(frames)
        mic_centred = (mic - np.sum(mic * weights, axis=0) / used) * weights
        reference = self._ref.last(frames + lags - 1)
        windows = np.lib.stride_tricks.sliding_window_view(reference, frames, axis=0)[::-1]
        # windows[lag]: the reference (bands x frames) ``lag`` frames before the microphone's.
        mask = weights[:, 0]
        means = np.einsum("lbf,f->lb", windows, mask) / used
        centred = (windows - means[:, :, None]) * mask
        products = np.einsum("lbf,fb->l", centred, mic_centred)
        energy = np.einsum("lbf,lbf->l", centred, centred) * float(np.sum(np.square(mic_centred)))
        correlation = products / np.sqrt(np.maximum(energy, 1e-12))
        best = int(np.argmax(correlation))
        # The echo straddles two microphone frames: the delay is the earlier of the two lags
        # that hold it, the best one and whichever neighbour correlates better.
        if best > 0 and (best == lags - 1 or correlation[best - 1] > correlation[best + 1]):
            best -= 1
        current = self.delay_frames
        if current is not None:
            self.correlation = float(correlation[current])
            # A setup's delay seldom changes, and a person talking over the avatar moves the
            # peak: another lag must win clearly, several times in a row.
            if best == current or correlation[best] < correlation[current] + DELAY_SWITCH:
                self._candidate_wins = 0
                return
            if best != self._candidate:
                self._candidate, self._candidate_wins = best, 0
            self._candidate_wins += 1
            if self._candidate_wins < SWITCH_WINS:
                return
        elif correlation[best] < MIN_CORRELATION:
            return
        # Each band's gain: the echo's two frames around the delay, as ``_is_speech`` predicts,
        # once enough frames of the window had their echo heard at that delay.
        aligned = np.maximum(windows[best], windows[min(best + 1, lags - 1)]).T
        usable = (aligned > ACTIVE_BAND_DB) & (weights > 0)
        if np.count_nonzero(np.any(usable, axis=1)) < MIN_ECHO_FRAMES:
            return
        self.correlation = float(correlation[best])
        self.delay_frames = best
        self._candidate_wins = 0
        observed = np.where(usable, mic - aligned, np.nan)
        seen = np.count_nonzero(usable, axis=0) >= MIN_ECHO_FRAMES // 2
        if np.any(seen):
            self._gain_db[seen] = np.nanquantile(observed[:, seen], GAIN_QUANTILE, axis=0)
        self._tail_db[:] = SILENT_DB  # the cautious prediction's tail is not the echo's
