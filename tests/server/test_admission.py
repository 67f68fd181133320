"""TurnSlots: the server-wide bound on turns in flight, fair across sessions, and never silent."""

from __future__ import annotations

import asyncio

import pytest

from handlers.admission import ServerBusy, TurnSlots


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
