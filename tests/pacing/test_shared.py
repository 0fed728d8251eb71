"""Budgets sharing one schedule through a store: together they keep one app's rate."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.clock import ManualClock
from collector.graph.usage import AppUsage
from collector.pacing.budgets import AppBudget
from collector.pacing.settings import BudgetSettings
from collector.pacing.shared import lease_size
from tests.pacing.test_budgets import run_until, settle

START = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)


class MemorySlots:
    """The store's side in memory: one TAT per app, moved atomically, and readings."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self.tat: dict[str, float] = {}
        self.readings: dict[str, tuple[float, Mapping[str, object]]] = {}

    async def take_slots(self, app: str, calls: int, interval_s: float) -> float:
        now = self._clock.now().timestamp()
        first = max(self.tat.get(app, now), now)
        self.tat[app] = first + calls * interval_s
        return first

    async def publish_usage(self, app: str, reading: Mapping[str, object]) -> None:
        self.readings[app] = (self._clock.now().timestamp(), dict(reading))

    async def usage(self, app: str) -> tuple[float, Mapping[str, object]] | None:
        return self.readings.get(app)


async def _greedy(budget: AppBudget, sent: list[float], clock: ManualClock) -> None:
    while True:
        ticket = await budget.acquire()
        sent.append(clock.monotonic())
        budget.settle(ticket)


@settings(max_examples=15, deadline=None)
@given(processes=st.integers(1, 4), per_hour=st.sampled_from([360, 3_600, 14_400, 90_000]))
def test_greedy_processes_on_one_schedule_never_pass_the_rate(
    processes: int, per_hour: int
) -> None:
    """However many greedy budgets share an app, any span of their sends fits the rate
    (plus one slot), and together they get nearly all of it."""

    async def scenario() -> None:
        clock = ManualClock(START)
        source = MemorySlots(clock)
        sent: list[float] = []
        tasks = []
        for _ in range(processes):
            budget = AppBudget("app", BudgetSettings(calls_per_hour=per_hour), clock)
            budget.share(source)
            tasks.append(asyncio.create_task(_greedy(budget, sent, clock)))
        span = 200 * 3600 / per_hour  # two hundred intervals
        await run_until(clock, clock.monotonic() + span)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        interval = 3600 / per_hour
        sent.sort()
        for i in range(len(sent)):
            j = next(
                (k for k in range(i, len(sent)) if sent[k] - sent[i] > interval * 50), len(sent)
            )
            # the calls i..j-1 lie within 50 intervals of call i
            assert j - i <= 50 + 2
        assert len(sent) >= 200 * 0.95

    asyncio.run(scenario())


async def test_a_full_reading_seen_by_one_process_holds_another() -> None:
    """A 100 % usage reading one process publishes holds a second process of the app."""
    clock = ManualClock(START)
    source = MemorySlots(clock)
    first = AppBudget("app", BudgetSettings(calls_per_hour=3_600), clock)
    second = AppBudget("app", BudgetSettings(calls_per_hour=3_600), clock)
    first.share(source)
    second.share(source)
    ticket = await first.acquire()
    first.settle(ticket, usage=AppUsage(100, 0, 0))
    clock.advance(5.0)
    waiter = asyncio.create_task(first.acquire())  # publishes the reading, then holds
    await settle()
    assert source.readings["app"][1]["call_count"] == 100
    waiter.cancel()
    clock.advance(5.0)
    held = asyncio.create_task(second.acquire())
    await settle()
    assert not held.done()  # second adopted the full reading and holds
    assert second.snapshot().held_for_s > 0
    held.cancel()


def test_a_lease_is_about_a_quarter_second_of_calls() -> None:
    """The lease covers ~0.25 s of the rate, at least one slot and at most sixteen."""
    assert [lease_size(i) for i in (10.0, 0.25, 0.1, 0.01, 0.0001)] == [1, 1, 2, 16, 16]
