"""The :class:`~collector.storage.reader.PointReader` on the SQLite file, read-only.

Opened by :func:`collector.storage.inspect.open_point_reader` (``mode=ro``:
nothing is ever created or changed in the file, and a run may write on while an
export reads: WAL gives the reader one consistent snapshot per statement).
The SQL is :mod:`collector.storage.reader`'s; this module only runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence

import aiosqlite

from collector.model.records import Point
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
from collector.storage.sqlite import point_from_row

__all__ = ["SqlitePointReader"]


class SqlitePointReader:
    """A :class:`~collector.storage.reader.PointReader` on an open (read-only) connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        db.row_factory = sqlite3.Row
        self._db = db

    async def chunks(self, query: PointQuery, size: int = CHUNK) -> AsyncIterator[Sequence[Point]]:
        """The selected points in sorted lists of at most ``size`` (see the Protocol)."""
        where, params = point_filter(query)
        async with self._db.execute(SELECT_POINTS.format(where=where), params) as cur:
            while rows := await cur.fetchmany(size):
                yield [point_from_row(row) for row in rows]

    async def series(self, query: PointQuery) -> list[Series]:
        """Every selected series with its point count (see the Protocol)."""
        where, params = point_filter(query)
        async with self._db.execute(SELECT_SERIES.format(where=where), params) as cur:
            return [
                Series(
                    r["metric"], r["period"], r["dimensions"], int(r["points"]), not r["fractional"]
                )
                async for r in cur
            ]

    async def accounts(self) -> list[str]:
        """Every account with a stored point, sorted."""
        async with self._db.execute(SELECT_ACCOUNTS) as cur:
            return [str(row["account_id"]) async for row in cur]

    async def answered(self, account_id: str) -> list[Answer]:
        """The account's answered requests (see the Protocol)."""
        async with self._db.execute(SELECT_ANSWERED.format(p="?"), (account_id,)) as cur:
            return [
                Answer(tuple(str(row["metrics"]).split(",")), row["since"], row["until"])
                async for row in cur
            ]
