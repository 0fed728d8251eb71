"""AppBudget on a manual clock: the exact rate, the usage controller, probing; the header reader."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable

import orjson
import pytest

from collector.clock import ManualClock
from collector.graph.transport import GraphResponse
from collector.graph.usage import AppUsage
from collector.pacing.budgets import AppBudget, HeaderReader, Ticket
from collector.pacing.settings import BudgetSettings

START = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)


def usage(pct: int) -> AppUsage:
    return AppUsage(call_count=pct, total_time=0, total_cputime=0)


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def run_until(clock: ManualClock, end: float) -> None:
    """Let the tasks run, jumping the clock from one sleeper's deadline to the next."""
    await settle()
    while (due := clock.next_deadline()) is not None and due <= end:
        clock.advance(max(0.0, due - clock.monotonic()))
        await settle()
    if clock.monotonic() < end:
        clock.advance(end - clock.monotonic())
        await settle()


class Workers:
    """``n`` tasks that acquire tickets from ``budget`` without end; ``answer`` settles each
    (``None``: the ticket is queued in ``held`` for the test to settle)."""

    def __init__(
        self,
        budget: AppBudget,
        clock: ManualClock,
        n: int,
        answer: Callable[[Ticket], AppUsage | None] | None = None,
    ) -> None:
        self.sent: list[Ticket] = []
        self.held: deque[Ticket] = deque()

        async def work() -> None:
            while True:
                ticket = await budget.acquire()
                self.sent.append(ticket)
                if answer is None:
                    self.held.append(ticket)
                else:
                    budget.settle(ticket, usage=answer(ticket))

        self.tasks = [asyncio.create_task(work()) for _ in range(n)]

    def between(self, start: float, end: float) -> list[Ticket]:
        return [t for t in self.sent if start <= t.at < end]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_4800_an_hour_runs_at_4800_with_32_waiters() -> None:
    clock = ManualClock(START)
    budget = AppBudget("app", BudgetSettings(calls_per_hour=4800), clock)
    workers = Workers(budget, clock, 32, answer=lambda _t: None)
    await run_until(clock, 3600.0)
    await workers.stop()
    sent = len(workers.between(0.0, 3600.0))
    assert 0.98 * 4800 <= sent <= 4800


async def test_a_full_reading_then_an_empty_one_costs_seconds_not_minutes() -> None:
    """At concurrency 32: a 100 % answer holds the app, the next answer's 0 % frees it."""
    clock = ManualClock(START)
    budget = AppBudget("app", BudgetSettings(calls_per_hour=36_000), clock)
    first, second = await budget.acquire(), await budget.acquire()
    workers = Workers(budget, clock, 32, answer=lambda _t: usage(0))
    await settle()
    before = len(workers.sent)
    budget.settle(first, usage=usage(100))
    await run_until(clock, 2.0)
    held = len(workers.sent)
    budget.settle(second, usage=usage(0))
    await run_until(clock, 6.0)
    await workers.stop()
    assert held == before  # the full reading held every waiter
    assert len(workers.between(2.0, 6.0)) >= 32  # and the empty one let them all go at once
    assert all(not t.probe for t in workers.sent)


async def test_after_a_throttle_one_probe_goes_and_failures_double_the_wait() -> None:
    clock = ManualClock(START)
    budget = AppBudget(
        "app", BudgetSettings(calls_per_hour=36_000, probe_after_s=5.0, max_wait_s=20.0), clock
    )
    workers = Workers(budget, clock, 8)
    await settle()
    first = workers.held.popleft()
    workers.held.clear()
    budget.settle(first, throttled=True)
    probe_times = []
    for wait in (5.0, 10.0, 20.0, 20.0):
        start = clock.monotonic()
        count = len(workers.sent)
        await run_until(clock, start + wait - 0.01)
        assert len(workers.sent) == count  # nothing goes before the wait is over
        await run_until(clock, start + wait)
        await run_until(clock, start + wait + 3.0)
        probes = workers.sent[count:]
        assert [t.probe for t in probes] == [True]  # exactly one call: the probe
        probe_times.append(probes[0].at - start)
        budget.settle(workers.held.popleft(), throttled=True)
    assert probe_times == [5.0, 10.0, 20.0, 20.0]
    # A probe that succeeds below the target resumes pacing for every waiter.
    count = len(workers.sent)
    await run_until(clock, clock.monotonic() + 20.0)
    budget.settle(workers.held.popleft(), usage=usage(10))
    await run_until(clock, clock.monotonic() + 5.0)
    await workers.stop()
    assert len(workers.sent) - count >= 8


async def test_metas_regain_time_sets_the_wait() -> None:
    clock = ManualClock(START)
    budget = AppBudget("app", BudgetSettings(calls_per_hour=36_000, probe_after_s=5.0), clock)
    workers = Workers(budget, clock, 4)
    await settle()
    budget.settle(workers.held.popleft(), throttled=True, regain_s=300.0)
    await run_until(clock, 299.0)
    count = len(workers.sent)
    await run_until(clock, 301.0)
    await workers.stop()
    assert {t.at for t in workers.sent[:count]} == {0.0}  # nothing went during the wait
    assert [t.at for t in workers.sent[count:]] == [pytest.approx(300.0, abs=0.01)]


async def test_a_probe_without_an_answer_passes_the_probe_on() -> None:
    clock = ManualClock(START)
    budget = AppBudget("app", BudgetSettings(calls_per_hour=36_000, probe_after_s=5.0), clock)
    workers = Workers(budget, clock, 4)
    await settle()
    budget.settle(workers.held.popleft(), throttled=True)
    await run_until(clock, 6.0)
    probe = workers.held.pop()
    assert probe.probe
    budget.release(probe)  # say the connection dropped
    released = clock.monotonic()
    await run_until(clock, released + 0.5)
    await workers.stop()
    again = workers.held.pop()
    assert again.probe and again.at == released  # the next waiter probes at once


async def test_the_controller_uses_the_allowance_without_touching_100() -> None:
    """An app allowed 600 calls a minute, a budget three times that: usage holds near 95 %."""
    clock = ManualClock(START)
    window, allowance = 60.0, 600
    settings = BudgetSettings(calls_per_hour=3 * 36_000, usage_window_s=window)
    budget = AppBudget("app", settings, clock)
    seen: deque[float] = deque()
    readings: list[tuple[float, int]] = []

    def meta(ticket: Ticket) -> AppUsage:
        # The emulated app: usage is the share of its allowance the last minute's calls used.
        seen.append(ticket.at)
        while seen and seen[0] <= ticket.at - window:
            seen.popleft()
        pct = 100 * len(seen) // allowance
        readings.append((ticket.at, pct))
        return usage(pct)

    workers = Workers(budget, clock, 32, answer=meta)
    await run_until(clock, 10 * window)
    await workers.stop()
    steady = [pct for at, pct in readings if at >= 2 * window]
    assert max(steady) < 100
    used = len(workers.between(2 * window, 10 * window)) / (8 * allowance)
    assert 0.9 <= used <= 0.97


def buc(entries: dict[str, int]) -> str:
    return orjson.dumps(
        {
            key: [{"type": "instagram", "call_count": pct, "estimated_time_to_regain_access": 0}]
            for key, pct in entries.items()
        }
    ).decode()


def test_a_business_pause_holds_every_account_seen_under_that_business() -> None:
    clock = ManualClock(START)
    reader = HeaderReader({"app": BudgetSettings(probe_after_s=60.0)}, clock)
    reader.observe("app", "111", GraphResponse(200, {}, buc_usage=buc({"biz": 10, "111": 10})))
    reader.observe("app", "333", GraphResponse(200, {}, buc_usage=buc({"333": 10})))
    lesson = reader.observe(
        "app", "222", GraphResponse(200, {}, buc_usage=buc({"biz": 100, "222": 100}))
    )
    assert lesson.account_wait_s == 60.0
    assert reader.siblings("222") == {"111", "222"}
    assert reader.account_paused_until("111") == 60.0  # the sibling waits too
    assert reader.account_paused_until("222") == 60.0
    assert reader.account_paused_until("333") == 0.0  # another business does not


def test_a_malformed_header_is_ignored_and_logged_once() -> None:
    from structlog.testing import capture_logs

    clock = ManualClock(START)
    reader = HeaderReader({}, clock)
    with capture_logs() as events:
        for _ in range(3):
            lesson = reader.observe("app", "1", GraphResponse(200, {}, app_usage="{nope"))
    assert lesson.app_usage is None
    assert [e["event"] for e in events] == ["usage_header_malformed"]
