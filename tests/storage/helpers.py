"""Small builders for the store tests: points, outcomes and queued requests."""

from __future__ import annotations

from typing import Any

from collector.model.outcome import Outcome, OutcomeState
from collector.model.records import Point
from collector.model.rows import point_of, row_of
from collector.storage.queue import QueuedRequest


def point(
    value: int | float,
    *,
    account: str = "111",
    metric: str = "reach",
    end_time: str | None = "2024-02-20T08:00:00Z",
    dimensions: dict[str, str] | None = None,
    fetched_at: str = "2024-03-01T10:00:00Z",
    api_version: str = "v17.0",
) -> Point:
    """A ``day`` point of ``metric`` with ``value``; the rest as given or defaulted."""
    return Point(account, metric, "day", end_time, dimensions or {}, value, api_version, fetched_at)


def outcome(
    key: str,
    points: tuple[Point, ...] = (),
    *,
    state: OutcomeState = "done",
    account: str = "111",
    app: str = "app-a",
    attempts: int = 1,
    reason: str | None = None,
) -> Outcome:
    """The outcome of request ``key`` with ``points``."""
    rows = tuple(row_of(p) for p in points)
    return Outcome(key, account, app, ("reach",), "day", 100, 200, state, rows, attempts, reason)


async def commit(store: Any, *outcomes: Outcome) -> tuple[Point, ...]:
    """Record ``outcomes`` in one transaction of ``store``; the changed points."""
    async with store.transaction() as tx:
        changes = await tx.record_outcomes(list(outcomes))
    return tuple(point_of(row) for row in changes.changed)


class Abandon(Exception):
    """Raised inside a transaction's block to roll it back."""


def queued(
    key: str, *, account: str = "111", app: str = "app-a", rank: int = 0, force: bool = False
) -> QueuedRequest:
    """A queued ``day`` request for ``reach`` over a fixed window."""
    return QueuedRequest(
        key, account, app, ("reach",), "day", 1_700_000_000, 1_702_000_000, "", rank, force
    )
