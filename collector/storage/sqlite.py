"""The SQLite store: the :class:`~collector.storage.protocol.InsightStore` in one file.

One connection, one writer (:mod:`collector.storage.writer`), WAL journal with
``synchronous=NORMAL``. In WAL mode NORMAL writes every commit to the WAL
before COMMIT returns, so a commit survives the *process* dying (SIGKILL);
only an OS crash or power loss can lose the last commits, and then the
checkpoint goes back with them, so the NDJSON file is cut back to match on the
next open (it was fsync'ed before the commit, so it is never shorter than
the checkpoint says). Both sinks always agree; FULL would only cost speed.

The tables and their migration are in :mod:`collector.storage.schema`; the
set-wise upsert of a batch in :mod:`collector.storage.upsert`.

Writes go through :meth:`Store.transaction` alone: it owns the store's write
lock and the transaction, from ``BEGIN IMMEDIATE`` to ``COMMIT`` or
``ROLLBACK``. A batch commit (see :mod:`collector.storage.writer`) records its
outcomes, keeps the transaction open while the caller durably appends the
changed points elsewhere, then writes the new checkpoint and commits.

Rows are :class:`sqlite3.Row` and read by column name: every SELECT names
(or aliases) the columns it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite
import orjson

from collector.clock import Clock, SystemClock
from collector.model.outcome import (
    STATES,
    AccountLedger,
    Checkpoint,
    LedgerEntry,
    LedgerSummary,
    Outcome,
)
from collector.model.records import Point, rfc3339
from collector.model.rows import end_time_text
from collector.storage.protocol import (
    REFRESH_SUFFIX,
    AccountFreshness,
    NdjsonFile,
    PointChanges,
)
from collector.storage.queue import Fence
from collector.storage.schema import LEDGER_COLUMNS, SCHEMA_VERSION, SchemaError, migrate
from collector.storage.sqlite_queue import SqliteQueue
from collector.storage.upsert import SeriesIds, upsert_outcomes

__all__ = [
    "REFRESH_SUFFIX",
    "SCHEMA_VERSION",
    "STATES",
    "AccountFreshness",
    "AccountLedger",
    "Checkpoint",
    "LedgerEntry",
    "LedgerSummary",
    "NdjsonFile",
    "PointChanges",
    "SchemaError",
    "SqliteTransaction",
    "Store",
]


class SqliteTransaction:
    """A :class:`~collector.storage.protocol.StoreTransaction` on the store's connection.

    Made only by :meth:`Store.transaction`, which begins, commits or rolls
    back and holds the write lock; this object only writes inside it. Once
    the transaction has ended every method raises :class:`RuntimeError`.
    """

    def __init__(self, db: aiosqlite.Connection, clock: Clock, series: SeriesIds) -> None:
        self._db = db
        self._clock = clock
        self._series = series
        self._open = True

    async def record_outcomes(
        self, outcomes: Sequence[Outcome], fence: Fence | None = None
    ) -> PointChanges:
        """Upsert the outcomes' points and ledger rows; return what changed (see the Protocol)."""
        db = self._usable()
        return await upsert_outcomes(db, self._series, outcomes, rfc3339(self._clock.now()), fence)

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint row and note its file's committed size (see the Protocol)."""
        db = self._usable()
        now = rfc3339(self._clock.now())
        await db.execute(
            "INSERT INTO checkpoint (id, ndjson_path, committed_offset, updated_at)"
            " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " ndjson_path = excluded.ndjson_path, committed_offset = excluded.committed_offset,"
            " updated_at = excluded.updated_at",
            (checkpoint.path, checkpoint.offset, now),
        )
        if checkpoint.path is not None:
            await db.execute(
                "INSERT INTO ndjson_files (path, committed_offset, first_at, last_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
                " committed_offset = excluded.committed_offset, last_at = excluded.last_at",
                (checkpoint.path, checkpoint.offset, now, now),
            )

    def end(self) -> None:
        """Mark the transaction ended (by :meth:`Store.transaction`): later calls raise."""
        self._open = False

    def _usable(self) -> aiosqlite.Connection:
        if not self._open:
            raise RuntimeError("the transaction has already ended")
        return self._db


class Store(SqliteQueue):
    """The SQLite file. Open with :meth:`open`; one instance per file and process.

    An :class:`~collector.storage.protocol.InsightStore` and a
    :class:`~collector.storage.queue.WorkQueue` (:mod:`collector.storage.sqlite_queue`);
    it also reads single ledger rows and stored points back
    (:meth:`ledger_entry`, :meth:`points`).
    """

    def __init__(self, db: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        db.row_factory = sqlite3.Row  # rows are read by column name
        self._db = db
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()  # one write transaction at a time: see transaction()
        self._series = SeriesIds()  # the ids of the series met so far (schema version 3)

    @classmethod
    async def open(cls, path: Path, *, clock: Clock | None = None) -> Store:
        """Open or create the store at ``path`` (WAL, schema created or migrated).

        Raises :class:`SchemaError` for a file of a newer schema version.
        """
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA temp_store = MEMORY")
            await db.execute("PRAGMA busy_timeout = 30000")
            await migrate(db, str(path))
        except BaseException:
            await db.close()
            raise
        return cls(db, path, clock or SystemClock())

    @property
    def path(self) -> Path:
        """The SQLite file (tests and inspection read it with their own connection)."""
        return self._path

    @property
    def location(self) -> str:
        """The file's path, for messages."""
        return str(self._path)

    async def close(self) -> None:
        """Close the connection (an open transaction is rolled back by SQLite)."""
        await self._db.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """Hold the write lock and one transaction for the ``async with`` block.

        ``BEGIN IMMEDIATE`` on entry (after any other write transaction of this
        store ended); ``COMMIT`` when the block ends normally; ``ROLLBACK``
        when it raises, is cancelled or the COMMIT fails, and the exception
        propagates. The lock is released in every case.
        """
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            tx = SqliteTransaction(self._db, self._clock, self._series)
            try:
                yield tx
                tx.end()
                await self._db.execute("COMMIT")
                self._series.committed()
            except BaseException:
                self._series.rolled_back()
                await _rollback(self._db)
                raise
            finally:
                tx.end()

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` in a transaction of its own (a writer's start)."""
        async with self.transaction() as tx:
            await tx.set_checkpoint(checkpoint)

    async def ledger_entry(self, key: str) -> LedgerEntry | None:
        """The ledger row of ``key``, or ``None`` if the key was never enqueued or recorded."""
        sql = f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger WHERE key = ?"
        async with self._db.execute(sql, (key,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return LedgerEntry(
            key=row["key"], account_id=row["account_id"], app=row["app"],
            metrics=tuple(row["metrics"].split(",")), period=row["period"], since=row["since"],
            until=row["until"], state=row["state"], attempts=row["attempts"],
            reason=row["reason"], points=row["points"], updated_at=row["updated_at"],
        )  # fmt: skip

    async def ledger_summary(self) -> LedgerSummary:
        """Per-account request counts by state and failures by reason."""
        counts: dict[str, dict[str, int]] = {}
        failures: dict[str, dict[str, int]] = {}
        sql = "SELECT account_id, state, count(*) AS n FROM ledger GROUP BY account_id, state"
        async with self._db.execute(sql) as cur:
            async for row in cur:
                counts.setdefault(row["account_id"], dict.fromkeys(STATES, 0))[row["state"]] = row[
                    "n"
                ]
        # "why", not "reason": GROUP BY would take an alias "reason" for the column.
        sql = (
            "SELECT account_id, ifnull(reason, 'unknown') AS why, count(*) AS n FROM ledger"
            " WHERE state = 'failed' GROUP BY account_id, reason"
        )
        async with self._db.execute(sql) as cur:
            async for row in cur:
                failures.setdefault(row["account_id"], {})[row["why"]] = row["n"]
        return LedgerSummary(
            tuple(AccountLedger(a, counts[a], failures.get(a, {})) for a in sorted(counts))
        )

    async def checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint, or ``None`` if no writer ever started on this file."""
        sql = "SELECT ndjson_path, committed_offset FROM checkpoint WHERE id = 1"
        async with self._db.execute(sql) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Checkpoint(row["ndjson_path"], int(row["committed_offset"]))

    async def points(self, account_id: str | None = None) -> list[Point]:
        """Every stored point (of one account if given), in commit order."""
        sql = (
            "SELECT account_id, metric, period, end_time, dimensions, value, api_version,"
            " fetched_at FROM insights"
        )
        params: tuple[str, ...] = ()
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params = (account_id,)
        async with self._db.execute(sql + " ORDER BY seq", params) as cur:
            return [point_from_row(row) async for row in cur]

    async def committed_after(self, seq: int, limit: int) -> list[tuple[int, Point]]:
        """Up to ``limit`` points whose commit sequence is past ``seq``, in sequence order."""
        sql = (
            "SELECT seq, account_id, metric, period, end_time, dimensions, value, api_version,"
            " fetched_at FROM insights WHERE seq > ? ORDER BY seq LIMIT ?"
        )
        rows = await self._db.execute_fetchall(sql, (seq, limit))
        return [(int(row["seq"]), point_from_row(row)) for row in rows]

    async def ndjson_files(self) -> list[NdjsonFile]:
        """Every NDJSON file committed to, oldest first: which file holds what."""
        sql = "SELECT path, committed_offset, first_at, last_at FROM ndjson_files"
        async with self._db.execute(sql + " ORDER BY first_at, path") as cur:
            return [
                NdjsonFile(r["path"], int(r["committed_offset"]), r["first_at"], r["last_at"])
                async for r in cur
            ]

    async def freshness(self) -> list[AccountFreshness]:
        """Per account (sorted by id): when its data was last fetched, from ledger and data.

        ``last_refresh`` is the newest commit of a finished daemon refresh
        request (keys ending in :data:`REFRESH_SUFFIX`), ``last_lifetime`` that
        of a finished request without a date range; ``newest_end_time`` the
        latest end_time stored. Each is ``None`` when there is none.
        """
        finished = "state IN ('done', 'no_data')"
        ledger: dict[str, tuple[str | None, str | None, int, int]] = {}
        sql = (
            "SELECT account_id,"
            f" max(CASE WHEN key LIKE '%{REFRESH_SUFFIX}' AND {finished} THEN updated_at END)"
            " AS refresh,"
            f" max(CASE WHEN since IS NULL AND {finished} THEN updated_at END) AS lifetime,"
            " sum(state = 'pending') AS pending, sum(state = 'failed') AS failed"
            " FROM ledger GROUP BY account_id"
        )
        async with self._db.execute(sql) as cur:
            async for r in cur:
                ledger[r["account_id"]] = (
                    r["refresh"], r["lifetime"], int(r["pending"] or 0), int(r["failed"] or 0),
                )  # fmt: skip
        newest: dict[str, str | None] = {}
        sql = (
            "SELECT s.account_id AS account_id, max(p.end_ts) AS newest"
            " FROM points AS p JOIN series AS s ON s.id = p.series_id GROUP BY s.account_id"
        )
        async with self._db.execute(sql) as cur:
            async for r in cur:
                newest[r["account_id"]] = end_time_text(int(r["newest"]))
        result = []
        for account in sorted(ledger.keys() | newest.keys()):
            refresh, lifetime, pending, failed = ledger.get(account, (None, None, 0, 0))
            result.append(
                AccountFreshness(account, refresh, lifetime, newest.get(account), pending, failed)
            )
        return result


def point_from_row(row: sqlite3.Row) -> Point:
    """A stored row (selected with every insights column by name) as a :class:`Point`."""
    return Point(
        account_id=row["account_id"], metric=row["metric"], period=row["period"],
        end_time=row["end_time"], dimensions=orjson.loads(row["dimensions"]), value=row["value"],
        api_version=row["api_version"], fetched_at=row["fetched_at"],
    )  # fmt: skip


async def _rollback(db: aiosqlite.Connection) -> None:
    """Roll back if a transaction is open (SQLite may already have rolled back on error)."""
    if db.in_transaction:
        await db.execute("ROLLBACK")
