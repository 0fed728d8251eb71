"""What the store says of a collector's health: queue depth and each account's lag.

Read by the daemon's and the worker's ``/metrics`` (:mod:`collector.daemon.metrics`)
and by ``ig-collector status``, so both show the same figures. :func:`read_vitals`
asks the store; the rest is pure.

- **Queue depth**: ``claimable`` is what a worker could claim now
  (:meth:`WorkQueue.claimable`: pending, unleased, of a live job); ``pending``
  is every unanswered request of the jobs not done or cancelled, leased or not.
- **Lag** of an account is the age of its newest *complete* day: the seconds
  since the ``end_time`` of the newest stored day whose ``end_time`` has passed
  (today's partial day, whose ``end_time`` is tomorrow, does not count). An
  account with no stored day has no lag (``None``): nothing to be late on yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from collector.storage.protocol import AccountFreshness
from collector.storage.queue import WorkQueue

DAY_S = 86_400.0
JOBS_LOOKED_AT = 500  # the scheduler prunes finished jobs daily: far fewer live ones


@dataclass(frozen=True, slots=True)
class StoreVitals:
    """One reading of the store: queue depth by kind, lag per account (seconds)."""

    queue: Mapping[str, int]
    lags: Mapping[str, float | None]

    def most_lagging(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` accounts with the largest lag, largest first (ties by id)."""
        known = [(a, lag) for a, lag in self.lags.items() if lag is not None]
        return sorted(known, key=lambda item: (-item[1], item[0]))[:n]


class VitalStore(WorkQueue, Protocol):
    """What :func:`read_vitals` needs: the queue, and the freshness of the insight store."""

    async def freshness(self) -> list[AccountFreshness]: ...


def unix(text: str) -> float:
    """An RFC 3339 time (``Z`` or an offset) as unix seconds."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def complete_lag(newest_end_time: str | None, now: float) -> float | None:
    """Seconds since the newest complete day ended (see the module docstring)."""
    if newest_end_time is None:
        return None
    end = unix(newest_end_time)
    while end > now:  # a partial day: the one before it is the newest complete day
        end -= DAY_S
    return now - end


def account_lags(
    rows: Sequence[AccountFreshness], accounts: Collection[str], now: float
) -> dict[str, float | None]:
    """The lag of each of ``accounts`` (``None``: no stored day), from the store's rows."""
    newest = {row.account_id: row.newest_end_time for row in rows}
    return {a: complete_lag(newest.get(a), now) for a in accounts}


async def read_vitals(
    store: VitalStore, apps: Collection[str], accounts: Collection[str], now: float
) -> StoreVitals:
    """The queue depth and lags of ``accounts`` now; raises what the store raises."""
    claimable = await store.claimable(apps)
    jobs = await store.jobs(JOBS_LOOKED_AT)
    pending = sum(j.pending for j in jobs if j.state not in ("done", "cancelled"))
    lags = account_lags(await store.freshness(), accounts, now)
    return StoreVitals({"claimable": claimable, "pending": pending}, lags)
