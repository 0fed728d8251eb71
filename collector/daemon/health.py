"""``/readyz``: is this process able to do its job now?

Ready when, all at once:

- **the store is writable**: a write transaction of the store (the queue's
  ``forget_worker`` of an id no process has, which takes the write lock and
  changes nothing) commits within ``probe_timeout_s``;
- **scheduling keeps up**: the last scheduling cycle ended less than twice the
  refresh interval ago (a process that schedules nothing, a ``worker``, skips this);
- **not every token is dead** (a process with no token skips this).

:func:`readiness` is the pure verdict; :class:`StoreProbe` runs the write. A
probe is never cut short: one that takes too long answers "not writable" and
goes on in the background (a SQLite write waits out its busy timeout), owned by
the probe and awaited by :meth:`StoreProbe.close`; the next check joins it
rather than piling up another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from collector.clock import Clock, TimedOut, within
from collector.tasks import wait_out

PROBE_WORKER_ID = "readyz-probe"  # no process heartbeats under this id


@dataclass(frozen=True, slots=True)
class Verdict:
    """Ready or not, and why (one line)."""

    ready: bool
    reason: str


def readiness(
    *,
    store_error: str | None,
    now: float,
    last_cycle: float | None,
    started: float,
    interval_s: float | None,
    tokens_dead: tuple[int, int],
) -> Verdict:
    """The verdict from the figures (see the module docstring); the first failing check wins.

    ``last_cycle`` ``None`` with an ``interval_s``: no cycle has ended yet, so the
    age counts from ``started``; ``interval_s`` ``None``: no scheduling to judge.
    """
    if store_error is not None:
        return Verdict(False, f"store not writable: {store_error}")
    if interval_s is not None:
        age = now - (last_cycle if last_cycle is not None else started)
        if age > 2 * interval_s:
            return Verdict(
                False,
                f"last scheduling cycle {age:.0f}s ago (limit {2 * interval_s:.0f}s)",
            )
    dead, total = tokens_dead
    if total and dead >= total:
        return Verdict(False, f"every token is dead ({dead} of {total})")
    return Verdict(True, "ok")


class StoreProbe:
    """Checks that the store takes a write; ``write`` opens it, writes and closes it."""

    def __init__(
        self, write: Callable[[], Awaitable[None]], clock: Clock, timeout_s: float = 5.0
    ) -> None:
        self._write = write
        self._clock = clock
        self._timeout_s = timeout_s
        self._task: asyncio.Task[str | None] | None = None

    async def check(self) -> str | None:
        """``None`` when the store took the write; else why not, in a few words."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._attempt(), name="readyz-probe")
        result = await within(self._clock, asyncio.shield(self._task), self._timeout_s)
        if isinstance(result, TimedOut):
            return f"a write has not committed within {self._timeout_s:g}s"
        return result

    async def _attempt(self) -> str | None:
        try:
            await self._write()
        except Exception as error:  # the store's own error, as the reason
            return f"{type(error).__name__}: {error}".splitlines()[0][:200]
        return None

    async def close(self) -> None:
        """Wait for a probe still under way (it ends by the store's own timeout)."""
        task, self._task = self._task, None
        if task is not None:
            await wait_out([task], on_cancel=task.cancel)
