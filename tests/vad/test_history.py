"""AudioHistory: cutting an utterance's audio by stream time."""

from __future__ import annotations

from handlers.vad.history import AudioHistory


def ramp(start_sample: int, samples: int) -> bytes:
    """PCM16 whose n-th sample is ``n`` (mod 2**15), so a slice shows where it was cut."""
    return b"".join(((start_sample + n) % 32768).to_bytes(2, "little") for n in range(samples))


def test_since_returns_the_audio_from_that_time_on() -> None:
    history = AudioHistory(16000, keep_ms=3000)
    for chunk in range(100):  # 2 s of 20 ms appends
        history.append(ramp(chunk * 320, 320))
    assert history.now_ms == 2000
    audio = history.since(1500)
    assert audio == ramp(24000, 8000)
    assert history.since(2000) == b""
    assert history.since(-300) == ramp(0, 32000)


def test_old_audio_is_dropped_and_since_clamps_to_what_is_kept() -> None:
    history = AudioHistory(8000, keep_ms=500)
    for chunk in range(100):  # 2 s at 8 kHz
        history.append(ramp(chunk * 160, 160))
    kept = history.since(0)
    # At least 500 ms kept, at most one 20 ms chunk more, and it ends with the latest audio.
    assert 4000 * 2 <= len(kept) <= 4160 * 2
    assert kept.endswith(ramp(99 * 160, 160))
    assert history.since(1900) == ramp(15200, 800)


def test_between_cuts_a_span_across_chunks() -> None:
    history = AudioHistory(16000, keep_ms=3000)
    for chunk in range(100):  # 2 s of 20 ms appends
        history.append(ramp(chunk * 320, 320))
    assert history.between(1510, 1990) == ramp(24160, 480 * 16)
    assert history.between(0, 20) == ramp(0, 320)
    assert history.between(1990, 5000) == ramp(31840, 160)
    assert history.between(500, 500) == b"" and history.between(700, 600) == b""
    assert history.between(-100, 2000) == history.since(0)
