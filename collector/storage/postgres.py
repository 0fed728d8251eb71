"""The PostgreSQL store: the :class:`~collector.storage.protocol.InsightStore` and the
:class:`~collector.storage.queue.WorkQueue` that any number of processes share.

Driver: psycopg 3 (``pip install 'ig-collector[postgres]'``), imported only
when a store is opened, so the default install runs without it. Chosen over
asyncpg because it ships type hints (the package is checked with ``mypy
--strict``), has COPY from Python rows and pipeline mode (``executemany``
sends a batch's ledger rows in one round trip), a maintained pool
(``psycopg_pool``), and speaks libpq's connection strings and URLs as users
write them.

Connections come from a small pool in autocommit mode: every read and every
queue method is a statement (or a short transaction) of its own;
:meth:`PostgresStore.transaction` takes one connection for its block and holds
the store's write lock, like the SQLite store, so one process writes one batch
at a time. Other processes write concurrently: PostgreSQL's row locks, taken
in key order (:mod:`collector.storage.postgres_write`), keep them apart.

Tables and migration: :mod:`collector.storage.postgres_schema`; the write
transaction: :mod:`collector.storage.postgres_write`; the queue:
:mod:`collector.storage.postgres_queue`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import orjson

from collector.clock import Clock, SystemClock
from collector.model.outcome import (
    STATES,
    AccountLedger,
    Checkpoint,
    LedgerEntry,
    LedgerSummary,
)
from collector.model.records import Point
from collector.model.rows import end_time_text
from collector.storage.postgres_connect import (
    CONNECT_TIMEOUT_S,
    connect,
    connect_kwargs,
    driver,
    location_of,
    redact_url,
)
from collector.storage.postgres_queue import PostgresQueue
from collector.storage.postgres_schema import SCHEMA_VERSION, migrate
from collector.storage.postgres_write import (
    DEFAULT_WRITE_METHOD,
    STAGE,
    PostgresTransaction,
    SeriesIds,
    WriteMethod,
)
from collector.storage.protocol import REFRESH_SUFFIX, AccountFreshness, NdjsonFile

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    from collector.storage.protocol import InsightStore
    from collector.storage.queue import WorkQueue

__all__ = ["SCHEMA_VERSION", "PostgresStore", "redact_url"]

_POOL_MAX: Final = 6  # the write transaction, claims, heartbeats and pacers of one process

_LEDGER_COLUMNS: Final = (
    "key, account_id, app, metrics, period, since, until, state, attempts, reason, points,"
    " updated_at"
)
# The points with their series, from the base tables (not the insights view: its
# end_time is text made per row); read by _stored_point.
_POINTS_SELECT: Final = (
    "SELECT s.account_id, s.metric, s.period, p.end_ts, s.dimensions, p.value,"
    " p.api_version, p.fetched_at, p.seq FROM points AS p JOIN series AS s ON s.id = p.series_id"
)
# The newest end_ts per account: the last entry of each series in the points key,
# (series_id, end_ts), instead of a scan of every point. NO_END_TIME (0) is below any
# other end_ts and stands for "none", as max(end_time) over NULLs did.
_NEWEST: Final = """
SELECT s.account_id, max(last.end_ts) AS newest
FROM series AS s CROSS JOIN LATERAL (
    SELECT p.end_ts FROM points AS p WHERE p.series_id = s.id ORDER BY p.end_ts DESC LIMIT 1
) AS last
GROUP BY s.account_id
"""
_FINISHED: Final = "state IN ('done', 'no_data')"
_FRESHNESS: Final = f"""
SELECT account_id,
       max(updated_at) FILTER (WHERE key LIKE %s AND {_FINISHED}) AS refresh,
       max(updated_at) FILTER (WHERE since IS NULL AND {_FINISHED}) AS lifetime,
       count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'failed') AS failed
FROM ledger GROUP BY account_id
"""


class PostgresStore(PostgresQueue):
    """A PostgreSQL database (or one schema of it). Open with :meth:`open`.

    An :class:`~collector.storage.protocol.InsightStore` and a
    :class:`~collector.storage.queue.WorkQueue`; it also reads single ledger
    rows and stored points back (:meth:`ledger_entry`, :meth:`points`).
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[DictRow]],
        location: str,
        clock: Clock,
        method: WriteMethod,
    ) -> None:
        self._pool = pool
        self._location = location
        self._clock = clock
        self._method = method
        self._lock = asyncio.Lock()  # one write transaction at a time: see transaction()
        self._series = SeriesIds()  # the ids of the series met so far (schema version 3)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        schema: str | None = None,
        write_method: WriteMethod = DEFAULT_WRITE_METHOD,
    ) -> PostgresStore:
        """Connect to ``url``, create or migrate the tables, and return the store.

        ``schema``: the PostgreSQL schema to keep the tables in (created if
        missing; ``None``: the first of the role's search path). Raises
        :class:`~collector.errors.OutputError` when psycopg is not installed
        or the database cannot be reached, and
        :class:`~collector.storage.schema.SchemaError` for a newer schema.
        """
        location = location_of(url, schema)
        _psycopg, dict_row, pool_class = driver()
        kwargs = connect_kwargs(schema, dict_row)
        # A first connection of its own: a wrong URL or password fails here, with
        # libpq's reason (the pool would only time out).
        async with await connect(url, location, kwargs) as conn:
            await migrate(conn, location, schema)

        async def configure(conn: AsyncConnection[DictRow]) -> None:
            await conn.execute(STAGE)

        pool = pool_class(
            url,
            min_size=1,
            max_size=_POOL_MAX,
            kwargs=kwargs,
            configure=configure,
            open=False,
            name="ig-collector",
        )
        await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        return cls(pool, location, clock or SystemClock(), write_method)

    @staticmethod
    async def upgrade(url: str, *, schema: str | None = None) -> tuple[str, int]:
        """Create or migrate the store at ``url``; its location and the version it had.

        ``ig-collector db upgrade``: what :meth:`open` does first, without the pool.
        Raises as :meth:`open` does.
        """
        location = location_of(url, schema)
        _psycopg, dict_row, _pool_class = driver()
        async with await connect(url, location, connect_kwargs(schema, dict_row)) as conn:
            return location, await migrate(conn, location, schema)

    @property
    def location(self) -> str:
        """The database's URL without its password (and the schema, if one was named)."""
        return self._location

    async def close(self) -> None:
        """Close the pool's connections (an open transaction is rolled back by the server)."""
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        """Hold the write lock and one transaction for the ``async with`` block.

        ``BEGIN`` on entry (after any other write transaction of this store
        ended); the commit sequence and ``COMMIT`` when the block ends
        normally; ``ROLLBACK`` when it raises, is cancelled or the COMMIT
        fails, and the exception propagates. The lock is released in every case.
        Series ids the transaction inserted are remembered only if it commits.
        """
        async with self._lock:
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    tx = PostgresTransaction(conn, self._clock, self._method, self._series)
                    try:
                        yield tx
                    finally:
                        tx.end()
                    await tx.finish()
            except BaseException:
                self._series.rolled_back()
                raise
            self._series.committed()

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` in a transaction of its own (a writer's start)."""
        async with self.transaction() as tx:
            await tx.set_checkpoint(checkpoint)

    async def ledger_entry(self, key: str) -> LedgerEntry | None:
        """The ledger row of ``key``, or ``None`` if the key was never enqueued or recorded."""
        rows = await self._fetch(f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE key = %s", (key,))
        if not rows:
            return None
        r = rows[0]
        return LedgerEntry(
            key=r["key"], account_id=r["account_id"], app=r["app"],
            metrics=tuple(r["metrics"].split(",")), period=r["period"], since=r["since"],
            until=r["until"], state=r["state"], attempts=r["attempts"], reason=r["reason"],
            points=r["points"], updated_at=r["updated_at"],
        )  # fmt: skip

    async def ledger_summary(self) -> LedgerSummary:
        """Per-account request counts by state and failures by reason."""
        counts: dict[str, dict[str, int]] = {}
        failures: dict[str, dict[str, int]] = {}
        sql = "SELECT account_id, state, count(*) AS n FROM ledger GROUP BY account_id, state"
        for r in await self._fetch(sql):
            counts.setdefault(r["account_id"], dict.fromkeys(STATES, 0))[r["state"]] = int(r["n"])
        sql = (
            "SELECT account_id, coalesce(reason, 'unknown') AS why, count(*) AS n FROM ledger"
            " WHERE state = 'failed' GROUP BY account_id, why"
        )
        for r in await self._fetch(sql):
            failures.setdefault(r["account_id"], {})[r["why"]] = int(r["n"])
        return LedgerSummary(
            tuple(AccountLedger(a, counts[a], failures.get(a, {})) for a in sorted(counts))
        )

    async def checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint, or ``None`` if no writer ever started on this store."""
        rows = await self._fetch("SELECT ndjson_path, committed_offset FROM checkpoint")
        return (
            Checkpoint(rows[0]["ndjson_path"], int(rows[0]["committed_offset"])) if rows else None
        )

    async def points(self, account_id: str | None = None) -> list[Point]:
        """Every stored point (of one account if given), in commit order (by ``seq``)."""
        if account_id is None:
            rows = await self._fetch(f"{_POINTS_SELECT} ORDER BY p.seq")
        else:
            sql = f"{_POINTS_SELECT} WHERE s.account_id = %s ORDER BY p.seq"
            rows = await self._fetch(sql, (account_id,))
        return [_stored_point(r) for r in rows]

    async def committed_after(self, seq: int, limit: int) -> list[tuple[int, Point]]:
        """Up to ``limit`` committed points whose sequence is past ``seq``, in sequence order."""
        sql = f"{_POINTS_SELECT} WHERE p.seq > %s ORDER BY p.seq LIMIT %s"
        return [(int(r["seq"]), _stored_point(r)) for r in await self._fetch(sql, (seq, limit))]

    async def ndjson_files(self) -> list[NdjsonFile]:
        """Every NDJSON file committed to, oldest first: which file holds what."""
        sql = "SELECT path, committed_offset, first_at, last_at FROM ndjson_files"
        return [
            NdjsonFile(r["path"], int(r["committed_offset"]), r["first_at"], r["last_at"])
            for r in await self._fetch(sql + " ORDER BY first_at, path")
        ]

    async def freshness(self) -> list[AccountFreshness]:
        """Per account (sorted by id): when its data was last fetched (see the Protocol)."""
        ledger: dict[str, tuple[str | None, str | None, int, int]] = {
            r["account_id"]: (r["refresh"], r["lifetime"], int(r["pending"]), int(r["failed"]))
            for r in await self._fetch(_FRESHNESS, (f"%{REFRESH_SUFFIX}",))
        }
        newest: dict[str, str | None] = {
            r["account_id"]: end_time_text(int(r["newest"])) for r in await self._fetch(_NEWEST)
        }
        result = []
        for account in sorted(ledger.keys() | newest.keys()):
            refresh, lifetime, pending, failed = ledger.get(account, (None, None, 0, 0))
            result.append(
                AccountFreshness(account, refresh, lifetime, newest.get(account), pending, failed)
            )
        return result


def _number(value: Decimal) -> int | float:
    """A stored NUMERIC as the point's value: integral values as ``int``, others ``float``."""
    integral = value.to_integral_value()
    return int(integral) if value == integral else float(value)


def point_of(row: DictRow) -> Point:
    """A stored point from a row of the ``insights`` view read by column name."""
    return Point(
        account_id=row["account_id"], metric=row["metric"], period=row["period"],
        end_time=row["end_time"], dimensions=orjson.loads(row["dimensions"]),
        value=_number(row["value"]), api_version=row["api_version"],
        fetched_at=row["fetched_at"],
    )  # fmt: skip


def _stored_point(row: DictRow) -> Point:
    """A stored point from a row of :data:`_POINTS_SELECT` (``end_ts``, not ``end_time``)."""
    return Point(
        account_id=row["account_id"], metric=row["metric"], period=row["period"],
        end_time=end_time_text(int(row["end_ts"])), dimensions=orjson.loads(row["dimensions"]),
        value=_number(row["value"]), api_version=row["api_version"],
        fetched_at=row["fetched_at"],
    )  # fmt: skip


if TYPE_CHECKING:

    def _conforms(store: PostgresStore) -> tuple[InsightStore, WorkQueue]:
        """mypy checks that the store serves both seams."""
        return store, store
