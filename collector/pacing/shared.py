"""One allowance per app, whoever spends it: a GCRA schedule kept in the shared store.

Every process working an app draws its send times from one schedule, the
app's *theoretical arrival time* (TAT) kept in the store (GCRA, the generic
cell rate algorithm: https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm).
A process takes a few *slots* at a time (one atomic update moves the TAT by
``k`` intervals, :meth:`SlotSource.take_slots`) and sends each call no earlier
than its slot. Slots are ``interval_s`` apart over all processes, so three
workers at ``calls_per_hour = N`` send at most N an hour between them.

A slot not used within one interval of its time is dropped, never used late:
a late use would move a call into a later hour than its slot. With that rule
any hour holds the calls of at most N + 1 consecutive slots (the one slot of
slack is the price of not synchronising clocks finer than an interval); the
lease size keeps the slots a process holds unused to a fraction of a second.

Usage readings travel the same way: every process publishes the last
``X-App-Usage`` it read, and adopts a newer one another process published, so
one worker's 100 % reading holds them all.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Final, Protocol

from collector.clock import Clock
from collector.graph.usage import AppUsage

__all__ = ["SharedSchedule", "SlotSource", "lease_size"]

# A lease covers about this long of the app's rate: few round trips, little hoarding.
_LEASE_SPAN_S: Final = 0.25
_MAX_LEASE: Final = 16
# How often (seconds) a process looks for another process's newer usage reading.
READING_EVERY_S: Final = 2.0


class SlotSource(Protocol):
    """The store's side (:class:`~collector.storage.queue.WorkQueue` has these methods)."""

    async def take_slots(self, app: str, calls: int, interval_s: float) -> float:
        """Reserve ``calls`` slots ``interval_s`` apart; the first's Unix time."""
        ...

    async def publish_usage(self, app: str, reading: Mapping[str, object]) -> None:
        """Store the latest usage reading of ``app``."""
        ...

    async def usage(self, app: str) -> tuple[float, Mapping[str, object]] | None:
        """The latest published reading of ``app`` and its Unix time; ``None``: none."""
        ...


def lease_size(interval_s: float) -> int:
    """How many slots to take at once: about a quarter second's worth, 1 to 16."""
    return max(1, min(_MAX_LEASE, math.floor(_LEASE_SPAN_S / interval_s)))


class SharedSchedule:
    """One app's slots leased from a :class:`SlotSource`, in monotonic time.

    :meth:`next_slot` is the earliest usable slot (leasing more when none is
    left); :meth:`spend` uses it when the call goes. Slots more than one
    interval old are dropped (see the module docstring).
    """

    def __init__(self, source: SlotSource, app: str, interval_s: float, clock: Clock) -> None:
        self._source = source
        self._app = app
        self._interval = interval_s
        self._clock = clock
        self._lease = lease_size(interval_s)
        self._slots: deque[float] = deque()
        self._seen_reading = 0.0
        self._looked_at = -math.inf

    async def next_slot(self) -> float:
        """The monotonic time of the next slot this process may send in."""
        now = self._clock.monotonic()
        while self._slots and self._slots[0] < now - self._interval:
            self._slots.popleft()  # too late to use without crowding a later hour
        if not self._slots:
            first = await self._source.take_slots(self._app, self._lease, self._interval)
            offset = self._clock.monotonic() - self._clock.now().timestamp()
            self._slots.extend(first + offset + i * self._interval for i in range(self._lease))
        return self._slots[0]

    def spend(self) -> None:
        """The call in the first slot went."""
        if self._slots:
            self._slots.popleft()

    async def publish(self, usage: AppUsage) -> None:
        """Tell the other processes what this one's last answer said."""
        reading = {
            "call_count": usage.call_count,
            "total_time": usage.total_time,
            "total_cputime": usage.total_cputime,
        }
        self._seen_reading = self._clock.now().timestamp()
        await self._source.publish_usage(self._app, reading)

    async def newer_reading(self) -> AppUsage | None:
        """Another process's reading newer than any this one saw (looked up every 2 s)."""
        now = self._clock.monotonic()
        if now - self._looked_at < READING_EVERY_S:
            return None
        self._looked_at = now
        found = await self._source.usage(self._app)
        if found is None or found[0] <= self._seen_reading:
            return None
        self._seen_reading = found[0]
        raw = found[1]
        try:
            return AppUsage(
                int(str(raw["call_count"])),
                int(str(raw["total_time"])),
                int(str(raw["total_cputime"])),
            )
        except (KeyError, ValueError):
            return None
