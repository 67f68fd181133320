"""Frame energies: computed in pieces as a stream arrives, the same as of the whole audio."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from handlers.animation.energy import (
    FrameEnergy,
    frame_rms,
    silent_runs,
    silent_runs_of,
    voiced_frames,
)

RATE = 24_000


def tone_with_gaps(seed: int) -> bytes:
    """0.8 s: bursts of noise at several levels with silences of 0-120 ms between them."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    while sum(part.size for part in parts) < RATE * 8 // 10:
        parts.append(rng.normal(0, rng.choice([300.0, 3000.0]), int(rng.integers(240, 4800))))
        parts.append(np.zeros(int(rng.integers(0, RATE * 12 // 100))))
    return np.concatenate(parts).clip(-32768, 32767).astype("<i2").tobytes()


@given(seed=st.integers(0, 2**16), cuts=st.lists(st.integers(1, 9_000), min_size=1, max_size=12))
def test_energy_in_pieces_is_the_energy_of_the_whole(seed: int, cuts: list[int]) -> None:
    pcm = tone_with_gaps(seed)
    energy = FrameEnergy(RATE)
    position = 0
    for size in cuts:  # odd sizes too: a sample split across two pieces
        energy.extend(pcm[position : position + size])
        position += size
    energy.extend(pcm[position:])

    np.testing.assert_allclose(energy.rms, frame_rms(pcm, RATE), rtol=1e-6, atol=1e-9)
    assert energy.samples == len(pcm) // 2


def test_frame_rms_of_a_full_scale_square_wave_and_of_silence() -> None:
    square = np.tile(np.array([32767, -32767], dtype="<i2"), RATE // 10).tobytes()
    quiet = bytes(2 * RATE // 10)

    np.testing.assert_allclose(frame_rms(square, RATE), 32767 / 32768, rtol=1e-6)
    assert not frame_rms(quiet, RATE).any()
    assert frame_rms(square + quiet, RATE).size == 30  # 0.2 s + 0.1 s


def test_silent_runs_are_the_long_enough_runs_of_unvoiced_frames() -> None:
    voiced = np.array([1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0], dtype=np.bool_)

    assert silent_runs_of(voiced, min_ms=30, frame_ms=10) == [(10.0, 40.0), (80.0, 120.0)]
    assert silent_runs_of(voiced, min_ms=10, frame_ms=10) == [
        (10.0, 40.0),
        (50.0, 60.0),
        (80.0, 120.0),
    ]
    assert silent_runs_of(np.ones(5, dtype=np.bool_)) == []
    assert silent_runs_of(np.zeros(4, dtype=np.bool_), min_ms=40) == [(0.0, 40.0)]


def test_silent_runs_of_audio_find_its_gaps() -> None:
    pcm = tone_with_gaps(7)

    runs = silent_runs(pcm, RATE)

    voiced = voiced_frames(frame_rms(pcm, RATE))
    for start, end in runs:
        assert end - start >= 30
        assert not voiced[int(start) // 10 : int(end) // 10].any()
        assert start == 0 or voiced[int(start) // 10 - 1]
