"""The one clock: every "now" and every wait in the collector goes through it.

Production uses :class:`SystemClock`; tests inject :class:`ManualClock` and move
time by hand, so no test sleeps to see a pause end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable
from typing import Final, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Wall time for records and dates, monotonic time and sleeping for waits."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences matter."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time (at once for <= 0)."""
        ...


class SystemClock:
    """Real time: ``time.time`` for wall time, the loop's clock for waits."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FixedWallClock(SystemClock):
    """Real waits, but a wall time pinned to ``at`` plus the time since creation.

    Used by tests and the demo so the collector and the emulator agree on "today".
    """

    def __init__(self, at: dt.datetime) -> None:
        self._at = at
        self._start = time.monotonic()

    def now(self) -> dt.datetime:
        return self._at + dt.timedelta(seconds=time.monotonic() - self._start)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` waits until it is advanced."""

    def __init__(self, at: dt.datetime) -> None:
        self._wall = at
        self._mono = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> dt.datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + seconds, future))
        try:
            await future
        finally:
            if not future.done():  # cancelled: forget it now, not at its deadline
                future.cancel()
            self._sleepers = [(t, f) for t, f in self._sleepers if f is not future]

    def next_deadline(self) -> float | None:
        """The monotonic time the earliest sleeper wakes at; ``None``: nobody sleeps."""
        return min((t for t, f in self._sleepers if not f.done()), default=None)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._mono += seconds
        self._wall += dt.timedelta(seconds=seconds)
        due = [(t, f) for t, f in self._sleepers if t <= self._mono]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self._mono]
        for _, future in due:
            if not future.done():
                future.set_result(None)


class TimedOut:
    """The value :func:`within` returns when the clock ran out first (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TIMED_OUT"


TIMED_OUT: Final = TimedOut()


async def within(clock: Clock, awaitable: Awaitable[T], timeout_s: float | None) -> T | TimedOut:
    """``awaitable``'s result, or :data:`TIMED_OUT` once ``timeout_s`` of ``clock`` pass first.

    The one "wait for this or until the clock says so" of the collector: every
    wait reads the injected clock, so tests move time by hand. ``None`` waits
    without a limit; ``<= 0`` still lets a ready awaitable finish. On a timeout,
    or when the caller is cancelled, the awaitable is cancelled and awaited
    before this returns or re-raises, so nothing is left running (the awaitable
    and the clock's timer are the tasks ``within`` and ``within-timer`` of a
    TaskGroup). A result that is ready when the time runs out wins over the
    timeout. An exception of the awaitable propagates as itself.
    """
    if timeout_s is None:
        return await awaitable
    async with asyncio.TaskGroup() as group:
        task = group.create_task(_caught(awaitable), name="within")
        timer = group.create_task(clock.sleep(timeout_s), name="within-timer")
        task.add_done_callback(lambda _: timer.cancel())
        timer.add_done_callback(lambda _: task.cancel())  # no-op once a result is in
    if task.cancelled():
        return TIMED_OUT
    result = task.result()
    if isinstance(result, _Failed):
        raise result.error
    return result


class _Failed:
    """The exception an awaitable raised, carried out of its TaskGroup as a value."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


async def _caught(awaitable: Awaitable[T]) -> T | _Failed:
    """``awaitable``'s result, or its exception as a :class:`_Failed`.

    So that :func:`within` raises the exception itself, not the ExceptionGroup
    a TaskGroup would wrap it in.
    """
    try:
        return await awaitable
    except Exception as error:
        return _Failed(error)


async def wait_event(clock: Clock, event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` of ``clock`` pass; ``True`` if it was set."""
    if event.is_set():
        return True
    return not isinstance(await within(clock, event.wait(), timeout_s), TimedOut)


async def wait_until(clock: Clock, at: float, event: asyncio.Event, tick_s: float) -> None:
    """Wait until ``clock``'s wall time (unix seconds) reaches ``at`` or ``event`` is set.

    Looks at the clock again at least every ``tick_s`` seconds, so a clock moved by
    hand (tests) or a wall clock that jumps is followed.
    """
    while not event.is_set() and (remaining := at - clock.now().timestamp()) > 0:
        await wait_event(clock, event, min(tick_s, remaining))
