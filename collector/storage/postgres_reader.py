"""The :class:`~collector.storage.reader.PointReader` on a PostgreSQL store.

Opened by :func:`collector.storage.opening.opened_point_reader` on one
connection of its own (autocommit, rows by column name, the store's schema on
the search path). The SQL is :mod:`collector.storage.reader`'s with psycopg's
``%s`` placeholder, on the ``insights`` view (schema version 3); a server-side
cursor streams the points in chunks, so an export of the whole store never holds
it in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from collector.model.records import Point
from collector.storage.postgres import point_of
from collector.storage.reader import (
    CHUNK,
    SELECT_ACCOUNTS,
    SELECT_ANSWERED,
    SELECT_POINTS,
    SELECT_SERIES,
    Answer,
    PointQuery,
    Series,
    point_filter,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

__all__ = ["PostgresPointReader"]


class PostgresPointReader:
    """A :class:`~collector.storage.reader.PointReader` on an open psycopg connection."""

    def __init__(self, conn: AsyncConnection[DictRow]) -> None:
        self._conn = conn

    async def chunks(self, query: PointQuery, size: int = CHUNK) -> AsyncIterator[Sequence[Point]]:
        """The selected points in sorted lists of at most ``size`` (see the Protocol)."""
        where, params = point_filter(query, "%s")
        # A named (server-side) cursor needs a transaction: the points stream from it.
        async with self._conn.transaction(), self._conn.cursor(name="points") as cur:
            await cur.execute(SELECT_POINTS.format(where=where), params)
            while rows := await cur.fetchmany(size):
                yield [point_of(row) for row in rows]

    async def series(self, query: PointQuery) -> list[Series]:
        """Every selected series with its point count (see the Protocol)."""
        where, params = point_filter(query, "%s")
        cur = await self._conn.execute(SELECT_SERIES.format(where=where), params)
        return [
            Series(r["metric"], r["period"], r["dimensions"], int(r["points"]), not r["fractional"])
            for r in await cur.fetchall()
        ]

    async def accounts(self) -> list[str]:
        """Every account with a stored point, sorted."""
        cur = await self._conn.execute(SELECT_ACCOUNTS)
        return [str(row["account_id"]) for row in await cur.fetchall()]

    async def answered(self, account_id: str) -> list[Answer]:
        """The account's answered requests (see the Protocol)."""
        cur = await self._conn.execute(SELECT_ANSWERED.format(p="%s"), (account_id,))
        return [
            Answer(tuple(str(row["metrics"]).split(",")), row["since"], row["until"])
            for row in await cur.fetchall()
        ]
