"""The token bucket behind the audio and event rate limits."""

from __future__ import annotations

import pytest

from handlers.limits import ReportThrottle, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = Clock()
    # 3 s of audio as a burst, then 1.5x real time.
    bucket = TokenBucket(rate=1.5, burst=3.0, clock=clock)
    assert all(bucket.take(0.02) for _ in range(150))  # 3.0 s sent at once
    assert not bucket.take(0.02)
    clock.now += 1.0  # 1.5 s of audio allowed per second of wall time
    assert sum(bucket.take(0.02) for _ in range(100)) == 75
    clock.now += 100.0  # never more than the burst
    assert sum(bucket.take(0.02) for _ in range(1000)) == 150


def test_refused_request_takes_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1.0, clock=Clock())
    assert not bucket.take(1.5)
    assert bucket.take(1.0)


def test_a_lending_bucket_serves_a_stream_below_its_rate_right_after_running_dry() -> None:
    clock = Clock()
    strict = TokenBucket(rate=1.5, burst=3.0, clock=clock)
    lending = TokenBucket(rate=1.5, burst=3.0, clock=clock, lends=True)
    for bucket in (strict, lending):
        while bucket.take(0.02):  # a flood empties it
            pass
    # 8 ms later a Sender starts speaking in real time: 20 ms chunks, 20 ms apart.
    clock.now += 0.008
    admitted = {"strict": 0, "lending": 0}
    for _ in range(200):
        admitted["strict"] += strict.take(0.02)
        admitted["lending"] += lending.take(0.02)
        clock.now += 0.02
    assert admitted == {"strict": 199, "lending": 200}  # strict refuses the first chunk


def test_a_lending_bucket_keeps_its_rate_over_time() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1.5, burst=3.0, clock=clock, lends=True)
    assert sum(bucket.take(0.02) for _ in range(1000)) == 150  # the burst
    admitted = 0
    for _ in range(1000):  # a flood at 3x real time for 10 s
        clock.now += 0.01
        admitted += bucket.take(0.03)
    assert 10 * 1.5 - 0.03 <= admitted * 0.03 <= 10 * 1.5 + 0.03 + 0.03


def test_refusals_are_answered_at_once_then_at_most_once_a_second() -> None:
    clock = Clock()
    reports = ReportThrottle(clock=clock)
    answered = []
    for _ in range(250):  # refusals every 10 ms for 2.5 s
        answered.append(reports.due())
        clock.now += 0.01
    assert [i for i, due in enumerate(answered) if due] == [0, 100, 200]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0), (-1, 1)])
def test_bad_parameters(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)
