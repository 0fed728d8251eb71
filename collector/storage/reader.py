"""The read seam: stored points out, in chunks, for exports and reports.

:class:`PointReader` is what ``ig-collector export`` and ``ig-collector report``
ask of a store; :mod:`collector.storage.sqlite_reader` implements it on the
SQLite file and :mod:`collector.storage.postgres_reader` on PostgreSQL, the same
tables (:func:`collector.storage.opening.opened_point_reader` picks one). The SQL
both need is built here (:func:`point_filter`, :data:`SELECT_POINTS`, ...) in
plain standard SQL with a placeholder of the driver's choice, so a second
implementation differs only in how it connects and converts values.

Ordering is part of the contract: :meth:`PointReader.chunks` yields points
sorted by account, then end_time, so one account-day's points arrive together
(a wide export pivots them without holding the file in memory). Where points
without an end_time sort (first in SQLite, last in PostgreSQL) is not: they are
contiguous either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from collector.model.records import Point

__all__ = [
    "CHUNK",
    "SELECT_ACCOUNTS",
    "SELECT_ANSWERED",
    "SELECT_POINTS",
    "SELECT_SERIES",
    "Answer",
    "PointQuery",
    "PointReader",
    "Series",
    "point_filter",
]

CHUNK: Final = 5_000  # points per chunk unless the caller asks otherwise

_COLUMNS: Final = "account_id, metric, period, end_time, dimensions, value, api_version, fetched_at"

# {where} is point_filter's clause (or empty); the order is PointReader.chunks' contract.
SELECT_POINTS: Final = (
    f"SELECT {_COLUMNS} FROM insights{{where}} "
    "ORDER BY account_id, end_time, metric, period, dimensions"
)

# One row per series (metric, period, dimensions): its points and how many are not whole
# numbers. CAST(... AS BIGINT) truncates in SQLite and rounds in PostgreSQL: a fraction
# differs from it either way.
SELECT_SERIES: Final = (
    "SELECT metric, period, dimensions, count(*) AS points,"
    " sum(CASE WHEN value = CAST(value AS BIGINT) THEN 0 ELSE 1 END) AS fractional"
    " FROM insights{where} GROUP BY metric, period, dimensions"
    " ORDER BY metric, period, dimensions"
)

# Every account with a stored point, from the base tables (schema 3): one row per series
# rather than the view's join of every point. A series commits with its first point, so
# every series has one; the EXISTS (an index probe per series) keeps the answer exact.
SELECT_ACCOUNTS: Final = (
    "SELECT DISTINCT s.account_id AS account_id FROM series AS s"
    " WHERE EXISTS (SELECT 1 FROM points AS p WHERE p.series_id = s.id) ORDER BY s.account_id"
)

# The account's answered requests: their metrics (comma-joined) and window edges.
SELECT_ANSWERED: Final = (
    "SELECT metrics, since, until FROM ledger"
    " WHERE account_id = {p} AND state IN ('done', 'no_data')"
)


@dataclass(frozen=True, slots=True)
class PointQuery:
    """Which stored points to read. Every field narrows; the defaults read everything.

    ``accounts`` and ``metrics``: only these (empty: all). ``end_from`` (inclusive)
    and ``end_before`` (exclusive) bound ``end_time`` (RFC 3339 UTC text, as
    stored); ``undated`` keeps the points without an end_time (lifetime
    snapshots: audience maps, demographics) whatever the bounds.
    """

    accounts: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    end_from: str | None = None
    end_before: str | None = None
    undated: bool = True


@dataclass(frozen=True, slots=True)
class Series:
    """One stored series, (metric, period, dimensions), over the points a query selects.

    ``dimensions`` is the stored canonical JSON text; ``points`` how many points
    it has; ``whole`` whether every value is a whole number.
    """

    metric: str
    period: str
    dimensions: str
    points: int
    whole: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """A request the API answered (ledger state ``done`` or ``no_data``): its metrics and
    window edges in Unix seconds (``None``: a request without a range, a lifetime snapshot).

    A metric asked and answered that has no stored point for those days is one the
    API answered with empty data (SPEC section 4: "missing or unavailable data is an
    empty data list, never 0"), e.g. ``follower_count`` under 100 followers.
    """

    metrics: tuple[str, ...]
    since: int | None
    until: int | None


def point_filter(query: PointQuery, placeholder: str = "?") -> tuple[str, list[str]]:
    """The `` WHERE ...`` clause (or ``""``) selecting ``query``'s points, and its parameters."""
    clauses: list[str] = []
    params: list[str] = []
    for column, values in (("account_id", query.accounts), ("metric", query.metrics)):
        if values:
            clauses.append(f"{column} IN ({', '.join(placeholder for _ in values)})")
            params.extend(values)
    bounds: list[str] = []
    if query.end_from is not None:
        bounds.append(f"end_time >= {placeholder}")
        params.append(query.end_from)
    if query.end_before is not None:
        bounds.append(f"end_time < {placeholder}")
        params.append(query.end_before)
    if bounds:
        dated = " AND ".join(bounds)
        clauses.append(f"(end_time IS NULL OR ({dated}))" if query.undated else f"({dated})")
    elif not query.undated:
        clauses.append("end_time IS NOT NULL")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class PointReader(Protocol):
    """Read access to the stored points and the ledger's answered requests; never writes.

    Values come back as ``int`` when whole (a store that keeps NUMERIC converts),
    else ``float``; dimensions as a mapping, end_time as stored (RFC 3339 UTC or
    ``None``). A store that cannot be read raises
    :class:`~collector.errors.OutputError`.
    """

    def chunks(self, query: PointQuery, size: int = CHUNK) -> AsyncIterator[Sequence[Point]]:
        """The points ``query`` selects, in lists of at most ``size`` (never an empty one).

        Sorted by account_id, then end_time (then metric, period, dimensions);
        each point exactly once. Nothing selected: nothing yielded.
        """
        ...

    async def series(self, query: PointQuery) -> list[Series]:
        """Every series among the points ``query`` selects, sorted by metric, period,
        dimensions text; their ``points`` add up to the number :meth:`chunks` yields."""
        ...

    async def accounts(self) -> list[str]:
        """Every account with at least one stored point, sorted by id."""
        ...

    async def answered(self, account_id: str) -> list[Answer]:
        """Every request for ``account_id`` the API answered, with or without data (in no
        particular order; empty when there is none)."""
        ...
