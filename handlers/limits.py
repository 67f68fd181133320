"""Rate limits: a token bucket, used for audio per Sender and events per connection.

A bucket holds at most ``burst`` units and refills at ``rate`` units a second; a request for more
than it holds is refused and takes nothing, unless the bucket lends (``lends``): then a request
is admitted while the bucket holds anything at all, and the rest is owed (the level goes below
zero, by less than one request) and refilled before the next. Audio is metered in seconds of
audio (a burst of a few seconds, then a multiple of real time; lending), events in events.

What a bucket refuses is answered through a ``ReportThrottle``: at once, then at most every
``every_s`` while refusals go on, never once per refused request (a client could otherwise make
the server send as much as it receives).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

EPSILON = 1e-9
"""Slack for float sums: 150 takes of 0.02 must fit a burst of 3.0."""


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Units added per second."""
    burst: float
    """Most units held at once (and held at the start)."""
    clock: Callable[[], float] = time.monotonic
    lends: bool = False
    """Admit a request while anything is left, owing the rest. The rate over time is the same;
    what changes is a stream slower than ``rate`` that arrives just after the bucket ran dry (a
    Sender speaking in real time right after a flood): it is never refused a chunk for arriving
    before the bucket holds a whole one again."""
    level: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.level = self.burst
        self.updated = self.clock()

    def take(self, units: float) -> bool:
        """Take ``units`` if the bucket holds them; False (taking nothing) if it does not."""
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now
        if self.lends:
            if self.level <= EPSILON:
                return False
            self.level -= units
            return True
        if units > self.level + EPSILON:
            return False
        self.level = max(0.0, self.level - units)
        return True


@dataclass(slots=True)
class ReportThrottle:
    """Says when a refusal is to be answered: the first, then one every ``every_s`` at most."""

    every_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    last: float = field(default=-math.inf, init=False)
    """When a refusal was last answered."""

    def due(self) -> bool:
        """True (and counted as answered now) when ``every_s`` passed since the last answer."""
        now = self.clock()
        if now - self.last < self.every_s:
            return False
        self.last = now
        return True
