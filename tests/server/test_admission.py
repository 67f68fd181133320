"""TurnSlots: the server-wide bound on turns in flight, fair across sessions, and never silent."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from handlers.admission import AudioBudget, ServerBusy, TurnSlots, Verdict
from handlers.limits import ReportThrottle, TokenBucket


async def test_waiting_sessions_are_served_in_turn_one_turn_each() -> None:
    slots = TurnSlots(1)
    served: list[str] = []

    async def session(name: str, turns: int) -> None:
        # A session asks for a slot per turn, as its turn worker does.
        for _ in range(turns):
            async with slots.slot(5.0):
                served.append(name)
                await asyncio.sleep(0.01)

    await asyncio.gather(session("greedy", 4), session("a", 2), session("b", 2))
    # The greedy session's four turns do not run back to back ahead of the others.
    assert served == ["greedy", "a", "b", "greedy", "a", "b", "greedy", "greedy"]
    assert slots.busy == 0


async def test_a_turn_that_waits_too_long_is_refused_and_the_slots_stay_counted() -> None:
    slots = TurnSlots(2)
    release = asyncio.Event()

    async def hold() -> None:
        async with slots.slot(1.0):
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert slots.busy == 2
    with pytest.raises(ServerBusy, match=r"0\.1 s"):
        async with slots.slot(0.1):
            raise AssertionError("no slot was free")
    # A waiter cancelled while waiting takes nothing with it.
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release.set()
    await asyncio.gather(*holders)
    assert slots.busy == 0 and slots.waiting == 0
    async with slots.slot(0.1):
        assert slots.busy == 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flooded_budget(clock: Clock) -> AudioBudget:
    """3 s of burst, then 1.5x real time, emptied by a flood (told once)."""
    bucket = TokenBucket(rate=1.5, burst=3.0, clock=clock, lends=True)
    budget = AudioBudget(bucket, ReportThrottle(clock=clock))
    verdicts = [budget.admit(0.02) for _ in range(200)]
    assert verdicts.count(Verdict.ADMITTED) == 150
    assert verdicts.count(Verdict.REFUSED_TELL) == 1 and verdicts[150] is Verdict.REFUSED_TELL
    return budget


def test_a_long_flood_is_told_about_once_a_second_not_once_a_chunk() -> None:
    clock = Clock()
    budget = flooded_budget(clock)
    told_at = [clock.now]
    for _ in range(1000):  # 10 s more at 3x real time: about half the chunks are admitted
        clock.now += 0.01
        if budget.admit(0.03) is Verdict.REFUSED_TELL:
            told_at.append(clock.now)
    gaps = [later - earlier for earlier, later in itertools.pairwise(told_at)]
    assert len(told_at) == 11, told_at
    assert all(1.0 - 1e-9 <= gap <= 1.0 + 0.02 for gap in gaps), gaps


def test_a_refusal_after_audio_was_admitted_again_is_told() -> None:
    clock = Clock()
    budget = flooded_budget(clock)
    # The flood goes on at a little over the rate for 1.2 s, then the reply plays; the
    # next utterance's first chunk arrives while the flood's debt is not yet refilled.
    for _ in range(60):
        clock.now += 0.02
        budget.admit(0.031)
    assert budget.bucket.level <= 0
    assert budget.admit(0.02) is Verdict.REFUSED_TELL  # not dropped untold
    # Refusals right after it are part of the run just told.
    assert budget.admit(0.02) is Verdict.REFUSED
