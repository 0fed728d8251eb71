"""Unit tests for collector.clock: the manual clock tests drive, and the real ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from collector.clock import TIMED_OUT, FixedWallClock, ManualClock, SystemClock, wait_event, within

START = dt.datetime(2024, 3, 10, 9, 0, tzinfo=dt.UTC)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_manual_clock_starts_where_told() -> None:
    """A new ManualClock reads the given wall time and monotonic 0."""
    clock = ManualClock(START)
    assert (clock.now(), clock.monotonic()) == (START, 0.0)


def test_advance_moves_wall_and_monotonic_time_together() -> None:
    """advance(s) adds s seconds to both readings."""
    clock = ManualClock(START)
    clock.advance(90.5)
    assert clock.now() == START + dt.timedelta(seconds=90.5)
    assert clock.monotonic() == 90.5


async def test_sleep_waits_for_the_clock_not_for_real_time() -> None:
    """A sleeper stays asleep until the clock is advanced by its full duration."""
    clock = ManualClock(START)
    sleeper = asyncio.ensure_future(clock.sleep(5))
    await settle()
    clock.advance(4.9)
    await settle()
    assert not sleeper.done()
    clock.advance(0.1)
    await settle()
    assert sleeper.done()


async def test_advance_wakes_only_the_due_sleepers() -> None:
    """Advancing past one deadline wakes that sleeper and leaves later ones asleep."""
    clock = ManualClock(START)
    early = asyncio.ensure_future(clock.sleep(1))
    late = asyncio.ensure_future(clock.sleep(3))
    await settle()
    clock.advance(2)
    await settle()
    assert early.done() and not late.done()
    late.cancel()


async def test_sleep_counts_from_when_it_started() -> None:
    """A sleep begun after an advance ends relative to the time it began."""
    clock = ManualClock(START)
    clock.advance(10)
    sleeper = asyncio.ensure_future(clock.sleep(2))
    await settle()
    clock.advance(1)
    await settle()
    assert not sleeper.done()
    clock.advance(1)
    await settle()
    assert sleeper.done()


async def test_sleep_of_zero_or_less_returns_without_advancing() -> None:
    """sleep(0) and negative sleeps return at once."""
    clock = ManualClock(START)
    await asyncio.wait_for(clock.sleep(0), timeout=1)
    await asyncio.wait_for(clock.sleep(-3), timeout=1)
    assert clock.monotonic() == 0.0


async def test_a_cancelled_sleeper_does_not_break_advance() -> None:
    """advance skips sleepers whose task was cancelled."""
    clock = ManualClock(START)
    cancelled = asyncio.ensure_future(clock.sleep(1))
    alive = asyncio.ensure_future(clock.sleep(1))
    await settle()
    cancelled.cancel()
    await settle()
    clock.advance(1)
    await settle()
    assert alive.done() and cancelled.cancelled()


def test_system_clock_now_is_aware_utc() -> None:
    """SystemClock.now is timezone-aware and in UTC."""
    now = SystemClock().now()
    assert now.utcoffset() == dt.timedelta(0)


async def test_system_clock_negative_sleep_returns() -> None:
    """SystemClock.sleep with a negative duration returns at once."""
    await asyncio.wait_for(SystemClock().sleep(-1), timeout=1)


def test_system_clock_monotonic_never_goes_back() -> None:
    """Two successive monotonic readings do not decrease."""
    clock = SystemClock()
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_fixed_wall_clock_starts_at_its_pin_and_moves_with_real_time() -> None:
    """FixedWallClock reads the pinned time plus the real time elapsed since creation."""
    clock = FixedWallClock(START)
    time.sleep(0.02)
    elapsed = (clock.now() - START).total_seconds()
    assert 0.02 <= elapsed < 5


async def test_within_returns_the_result_when_it_comes_first() -> None:
    """within() gives the awaitable's result when it finishes before the clock runs out."""
    clock = ManualClock(START)
    event = asyncio.Event()

    async def value() -> int:
        await event.wait()
        return 7

    waiter = asyncio.ensure_future(within(clock, value(), 10.0))
    await settle()
    event.set()
    assert await waiter == 7


async def test_within_times_out_on_the_clock_and_cancels_the_awaitable() -> None:
    """within() returns TIMED_OUT when the clock passes the limit, and the awaitable is cancelled."""
    clock = ManualClock(START)
    started = asyncio.Event()
    cancelled = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    waiter = asyncio.ensure_future(within(clock, forever(), 5.0))
    await started.wait()
    clock.advance(4.9)
    await settle()
    assert not waiter.done()
    clock.advance(0.1)
    assert await waiter is TIMED_OUT
    assert cancelled == [True]


async def test_within_cancelled_leaves_nothing_running() -> None:
    """Cancelling the caller of within() cancels the awaitable and forgets the clock's sleeper."""
    clock = ManualClock(START)
    inner = asyncio.ensure_future(asyncio.Event().wait())
    waiter = asyncio.ensure_future(within(clock, inner, 30.0))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert inner.cancelled()
    assert clock._sleepers == []


async def test_within_cancelled_twice_still_ends_its_tasks() -> None:
    """A caller cancelled again while within() unwinds leaves no within task running."""
    clock = ManualClock(START)
    waiter = asyncio.ensure_future(within(clock, asyncio.Event().wait(), 30.0))
    await settle()
    assert {t.get_name() for t in asyncio.all_tasks()} >= {"within", "within-timer"}
    waiter.cancel()
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not {t.get_name() for t in asyncio.all_tasks()} & {"within", "within-timer"}


async def test_within_propagates_the_awaitables_error() -> None:
    """An exception raised by the awaitable reaches the caller of within() as itself."""

    async def broken() -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await within(ManualClock(START), broken(), 1.0)


async def test_wait_event_says_whether_the_event_was_set() -> None:
    """wait_event() is True when the event is set in time and False when the clock runs out."""
    clock = ManualClock(START)
    event = asyncio.Event()
    late = asyncio.ensure_future(wait_event(clock, event, 2.0))
    await settle()
    clock.advance(2.0)
    assert await late is False
    soon = asyncio.ensure_future(wait_event(clock, event, 2.0))
    await settle()
    event.set()
    assert await soon is True


async def test_cancelled_sleeper_is_forgotten_at_once() -> None:
    """A ManualClock sleep that is cancelled leaves no sleeper behind until its deadline."""
    clock = ManualClock(START)
    sleeper = asyncio.ensure_future(clock.sleep(100.0))
    await settle()
    sleeper.cancel()
    await asyncio.gather(sleeper, return_exceptions=True)
    assert clock._sleepers == []
