"""The SQLite store: insights, the request ledger and the NDJSON checkpoint, in one file.

One connection, one writer (:mod:`collector.storage.writer`), WAL journal with
``synchronous=NORMAL``. In WAL mode NORMAL writes every commit to the WAL
before COMMIT returns, so a commit survives the *process* dying (SIGKILL);
only an OS crash or power loss can lose the last commits, and then the
checkpoint goes back with them, so the NDJSON file is cut back to match on the
next open (it was fsync'ed before the commit, so it is never shorter than
the checkpoint says). Both sinks always agree; FULL would only cost speed.

Tables:

- ``insights``: one row per point identity (account_id, metric, period,
  end_time, dimensions). SQLite's UNIQUE treats NULLs as distinct, so the
  identity index is on ``ifnull(end_time, '')`` (end_time is never ``''``:
  it is RFC 3339 or NULL) and the upsert names the same expression as its
  conflict target. ``value`` has NUMERIC affinity: integers stay integers.
- ``ledger``: one row per planned request (the planner's key), its state
  ``pending | done | no_data | failed`` and attempt count.
- ``checkpoint``: a single row, the NDJSON path and its committed byte offset.
- ``ndjson_files``: every NDJSON file this store ever committed to (rotation
  starts new ones), its committed size and when it was first and last
  written; updated in the same transaction as the checkpoint.

A batch commit (:meth:`Store.begin_batch` then :meth:`Batch.commit`) stages
points set-wise, finds the new or changed ones with one join, upserts only
those and updates the ledger, all in one transaction that stays open until
the caller has durably appended the changed points elsewhere and hands over
the new checkpoint.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Final

import aiosqlite
import orjson

from collector.clock import Clock, SystemClock
from collector.errors import OutputError
from collector.model.outcome import (
    STATES,
    AccountLedger,
    Checkpoint,
    LedgerEntry,
    LedgerSummary,
    Outcome,
    PlannedLike,
    WindowLike,
)
from collector.model.records import Point, rfc3339

SCHEMA_VERSION: Final = 1
_CHUNK: Final = 5_000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS insights (
    account_id TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,
    end_time TEXT NULL, dimensions TEXT NOT NULL, value NUMERIC NOT NULL,
    api_version TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS insights_identity
    ON insights (account_id, metric, period, ifnull(end_time, ''), dimensions);
CREATE TABLE IF NOT EXISTS ledger (
    key TEXT PRIMARY KEY, account_id TEXT NOT NULL, app TEXT NOT NULL,
    metrics TEXT NOT NULL, period TEXT NOT NULL, since INTEGER NULL, until INTEGER NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'no_data', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, reason TEXT NULL, points INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account_id);
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), ndjson_path TEXT NULL,
    committed_offset INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ndjson_files (
    path TEXT PRIMARY KEY, committed_offset INTEGER NOT NULL,
    first_at TEXT NOT NULL, last_at TEXT NOT NULL);
"""

# Per-connection scratch tables for one batch; TEMP keeps them out of the file.
_TEMP: Final = """
CREATE TEMP TABLE stage (
    seq INTEGER PRIMARY KEY, account_id, metric, period, end_time, dimensions,
    value, api_version, fetched_at);
"""

# Rows per multi-row INSERT into the stage: 9 variables each, within SQLite's
# limit of variables per statement (999 before SQLite 3.32).
_STAGE_ROWS: Final = 512 if sqlite3.sqlite_version_info >= (3, 32) else 64


def _statement_rows(rows: int) -> int:
    """The statement size that stages ``rows`` rows: the next power of two, at least 8.

    The sqlite3 module keeps up to 128 prepared statements, and one of 512 rows
    holds about a megabyte: a statement per exact row count would pile up a new
    one with nearly every batch. A few fixed sizes are prepared once each.
    """
    return max(8, 1 << (rows - 1).bit_length())


@lru_cache(maxsize=16)
def _stage_insert(rows: int) -> str:
    """``INSERT OR IGNORE INTO stage VALUES (?, ...), ...`` for ``rows`` rows of 9 values."""
    return "INSERT OR IGNORE INTO stage VALUES " + ",".join(["(?,?,?,?,?,?,?,?,?)"] * rows)


_IDENTITY: Final = "account_id, metric, period, ifnull(end_time, ''), dimensions"

# Each identity is staged once (the batch's last copy of it: see ``_stage``); it is
# changed when no row has that identity yet or the stored value differs (numeric
# comparison: 5 equals 5.0).
_FIND_CHANGED: Final = """
SELECT s.seq FROM stage AS s
LEFT JOIN insights AS i
  ON i.account_id = s.account_id AND i.metric = s.metric AND i.period = s.period
 AND ifnull(i.end_time, '') = ifnull(s.end_time, '') AND i.dimensions = s.dimensions
WHERE i.rowid IS NULL OR i.value IS NOT s.value
ORDER BY s.seq
"""

# Every staged row: the unchanged ones hit the DO UPDATE guard and stay as they are.
# ("WHERE true": SQLite's parser needs a WHERE before ON CONFLICT in INSERT ... SELECT.)
_UPSERT: Final = f"""
INSERT INTO insights (account_id, metric, period, end_time, dimensions, value, api_version,
                      fetched_at)
SELECT account_id, metric, period, end_time, dimensions, value, api_version, fetched_at
FROM stage WHERE true
ON CONFLICT ({_IDENTITY}) DO UPDATE SET
    value = excluded.value, api_version = excluded.api_version, fetched_at = excluded.fetched_at
WHERE insights.value IS NOT excluded.value
"""

# A failed outcome never demotes a finished row: the points it stored stay valid.
_KEEP: Final = "excluded.state = 'failed' AND ledger.state IN ('done', 'no_data')"
_LEDGER_UPSERT: Final = f"""
INSERT INTO ledger (key, account_id, app, metrics, period, since, until, state, attempts,
                    reason, points, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    attempts = ledger.attempts + excluded.attempts,
    updated_at = excluded.updated_at,
    state = CASE WHEN {_KEEP} THEN ledger.state ELSE excluded.state END,
    reason = CASE WHEN {_KEEP} THEN ledger.reason ELSE excluded.reason END,
    points = CASE WHEN {_KEEP} THEN ledger.points ELSE excluded.points END
"""


__all__ = [
    "REFRESH_SUFFIX",
    "STATES",
    "AccountFreshness",
    "AccountLedger",
    "Batch",
    "Checkpoint",
    "LedgerEntry",
    "LedgerSummary",
    "NdjsonFile",
    "PlannedLike",
    "SchemaError",
    "Store",
    "WindowLike",
]


# Ledger keys of the daemon's refresh requests end with this (collector.planning.refresh).
REFRESH_SUFFIX: Final = "|refresh"


@dataclass(frozen=True, slots=True)
class NdjsonFile:
    """One NDJSON file a store committed to: its committed size and first/last commit."""

    path: str
    committed_offset: int
    first_at: str
    last_at: str


@dataclass(frozen=True, slots=True)
class AccountFreshness:
    """How fresh one account's stored data is (RFC 3339 UTC times; ``None``: never)."""

    account_id: str
    last_refresh: str | None
    last_lifetime: str | None
    newest_end_time: str | None
    pending: int
    failed: int


class SchemaError(OutputError):
    """The SQLite file was written by a newer schema than this code knows."""


class Batch:
    """An open transaction holding one batch of outcomes; commit or roll back exactly once.

    ``changed`` are the batch's points that are new or whose value changed, in
    arrival order, one per identity (the last one staged); ``unchanged`` counts
    the other staged points. Until :meth:`commit`, nothing is visible to a
    reopened file: a crash rolls all of it back.
    """

    def __init__(self, store: Store, changed: tuple[Point, ...], unchanged: int) -> None:
        self._store = store
        self.changed = changed
        self.unchanged = unchanged
        self._open = True

    async def commit(self, checkpoint: Checkpoint | None = None) -> None:
        """Write ``checkpoint`` (if given) in the same transaction, then COMMIT."""
        self._finish()
        db = self._store._db
        try:
            if checkpoint is not None:
                await self._store._write_checkpoint(checkpoint)
            await db.execute("COMMIT")
        except BaseException:
            await _rollback(db)
            raise
        finally:
            self._store._lock.release()

    async def rollback(self) -> None:
        """Drop everything the batch staged; a no-op after :meth:`commit`."""
        if not self._open:
            return
        self._finish()
        try:
            await _rollback(self._store._db)
        finally:
            self._store._lock.release()

    def _finish(self) -> None:
        if not self._open:
            raise RuntimeError("batch already committed or rolled back")
        self._open = False


class Store:
    """The SQLite file. Open with :meth:`open`; one instance per file and process."""

    def __init__(self, db: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        self._db = db
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()  # one write transaction at a time

    @classmethod
    async def open(cls, path: Path, *, clock: Clock | None = None) -> Store:
        """Open or create the store at ``path`` (WAL, schema created if missing).

        Raises :class:`SchemaError` for a file of a newer schema version.
        """
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA temp_store = MEMORY")
            await db.execute("PRAGMA busy_timeout = 5000")
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"{path} has schema {version}; this version knows {SCHEMA_VERSION}"
                )
            await db.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
            await db.executescript(_TEMP)
        except BaseException:
            await db.close()
            raise
        return cls(db, path, clock or SystemClock())

    @property
    def path(self) -> Path:
        return self._path

    async def close(self) -> None:
        """Close the connection (an open batch is rolled back by SQLite)."""
        await self._db.close()

    async def register_pending(self, requests: Iterable[PlannedLike]) -> int:
        """Insert a ``pending`` row for each request not yet in the ledger; return how many.

        One transaction; ``requests`` is consumed lazily in chunks. Existing rows
        (whatever their state) are left as they are.
        """
        now = rfc3339(self._clock.now())
        it = iter(requests)
        async with self._lock:
            before = self._db.total_changes
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                while chunk := list(islice(it, _CHUNK)):
                    rows = [_pending_row(r, now) for r in chunk]
                    await self._db.executemany(
                        "INSERT OR IGNORE INTO ledger (key, account_id, app, metrics, period,"
                        " since, until, state, attempts, reason, points, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, NULL, 0, ?)",
                        rows,
                    )
                await self._db.execute("COMMIT")
            except BaseException:
                await _rollback(self._db)
                raise
            return self._db.total_changes - before

    async def finished_keys(self, account_id: str) -> set[str]:
        """Keys of the account's ``done`` or ``no_data`` requests: not to be sent again."""
        sql = "SELECT key FROM ledger WHERE account_id = ? AND state IN ('done', 'no_data')"
        async with self._db.execute(sql, (account_id,)) as cur:
            return {str(row[0]) async for row in cur}

    async def ledger_entry(self, key: str) -> LedgerEntry | None:
        """The ledger row of ``key``, or ``None`` if the key was never registered or reported."""
        async with self._db.execute("SELECT * FROM ledger WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return LedgerEntry(
            key=row[0], account_id=row[1], app=row[2], metrics=tuple(row[3].split(",")),
            period=row[4], since=row[5], until=row[6], state=row[7], attempts=row[8],
            reason=row[9], points=row[10], updated_at=row[11],
        )  # fmt: skip

    async def ledger_summary(self) -> LedgerSummary:
        """Per-account request counts by state and failures by reason."""
        counts: dict[str, dict[str, int]] = {}
        failures: dict[str, dict[str, int]] = {}
        sql = "SELECT account_id, state, count(*) FROM ledger GROUP BY account_id, state"
        async with self._db.execute(sql) as cur:
            async for account, state, n in cur:
                counts.setdefault(account, dict.fromkeys(STATES, 0))[state] = n
        sql = (
            "SELECT account_id, ifnull(reason, 'unknown'), count(*) FROM ledger"
            " WHERE state = 'failed' GROUP BY account_id, reason"
        )
        async with self._db.execute(sql) as cur:
            async for account, reason, n in cur:
                failures.setdefault(account, {})[reason] = n
        return LedgerSummary(
            tuple(AccountLedger(a, counts[a], failures.get(a, {})) for a in sorted(counts))
        )

    async def checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint, or ``None`` if no writer ever started on this file."""
        sql = "SELECT ndjson_path, committed_offset FROM checkpoint WHERE id = 1"
        async with self._db.execute(sql) as cur:
            row = await cur.fetchone()
        return None if row is None else Checkpoint(row[0], int(row[1]))

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` in a transaction of its own (a writer's start)."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._write_checkpoint(checkpoint)
                await self._db.execute("COMMIT")
            except BaseException:
                await _rollback(self._db)
                raise

    async def points(self, account_id: str | None = None) -> list[Point]:
        """Every stored point (of one account if given), in insertion order."""
        sql = (
            "SELECT account_id, metric, period, end_time, dimensions, value, api_version,"
            " fetched_at FROM insights"
        )
        params: tuple[str, ...] = ()
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params = (account_id,)
        async with self._db.execute(sql + " ORDER BY rowid", params) as cur:
            return [
                Point(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5], r[6], r[7])
                async for r in cur
            ]

    async def begin_batch(self, outcomes: Sequence[Outcome]) -> Batch:
        """Open a transaction, store the outcomes' new/changed points and ledger rows.

        The returned :class:`Batch` holds the transaction (and the store's write
        lock) until its ``commit`` or ``rollback``: the caller appends
        ``batch.changed`` to its other sink in between.
        """
        await self._lock.acquire()
        try:
            await self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        try:
            changed, unchanged = await self._stage(outcomes)
        except BaseException:
            try:
                await _rollback(self._db)
            finally:
                self._lock.release()
            raise
        return Batch(self, changed, unchanged)

    async def _stage(self, outcomes: Sequence[Outcome]) -> tuple[tuple[Point, ...], int]:
        db = self._db
        # The last copy of each identity wins, in the order the last copies arrived:
        # deduplicated here with a dict (cheaper than a GROUP BY over the stage).
        latest: dict[tuple[str, str, str, str | None, str], Point] = {}
        staged = 0
        for outcome in outcomes:
            for point in outcome.points:
                key = point.key()
                latest.pop(key, None)
                latest[key] = point
                staged += 1
        unique = list(latest.values())
        await db.execute("DELETE FROM stage")
        # Multi-row INSERTs: one statement step per chunk instead of one per point
        # (executemany steps row by row, and each step hands the GIL back and forth
        # with the event loop's thread).
        items = list(latest.items())
        for start in range(0, len(items), _STAGE_ROWS):
            chunk = items[start : start + _STAGE_ROWS]
            values: list[object] = []
            for seq, (key, point) in enumerate(chunk, start):
                values += (seq, *key, point.value, point.api_version, point.fetched_at)
            # Padded to the statement's size with copies of the last row, which
            # OR IGNORE drops (their seq is taken).
            size = _statement_rows(len(chunk))
            values += values[-9:] * (size - len(chunk))
            await db.execute(_stage_insert(size), values)
        # One round trip to the connection's thread for the whole answer.
        rows = await db.execute_fetchall(_FIND_CHANGED)
        changed = tuple([unique[row[0]] for row in rows])
        await db.execute(_UPSERT)
        now = rfc3339(self._clock.now())
        await db.executemany(
            _LEDGER_UPSERT,
            [
                (o.key, o.account_id, o.app, ",".join(o.metrics), o.period, o.since, o.until,
                 o.state, o.attempts, o.reason, len(o.points), now)
                for o in outcomes
            ],
        )  # fmt: skip
        return changed, staged - len(changed)

    async def _write_checkpoint(self, checkpoint: Checkpoint) -> None:
        now = rfc3339(self._clock.now())
        await self._db.execute(
            "INSERT INTO checkpoint (id, ndjson_path, committed_offset, updated_at)"
            " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " ndjson_path = excluded.ndjson_path, committed_offset = excluded.committed_offset,"
            " updated_at = excluded.updated_at",
            (checkpoint.path, checkpoint.offset, now),
        )
        if checkpoint.path is not None:
            await self._db.execute(
                "INSERT INTO ndjson_files (path, committed_offset, first_at, last_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
                " committed_offset = excluded.committed_offset, last_at = excluded.last_at",
                (checkpoint.path, checkpoint.offset, now, now),
            )

    async def ndjson_files(self) -> list[NdjsonFile]:
        """Every NDJSON file committed to, oldest first: which file holds what."""
        sql = "SELECT path, committed_offset, first_at, last_at FROM ndjson_files"
        async with self._db.execute(sql + " ORDER BY first_at, path") as cur:
            return [NdjsonFile(r[0], int(r[1]), r[2], r[3]) async for r in cur]

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
            f" max(CASE WHEN key LIKE '%{REFRESH_SUFFIX}' AND {finished} THEN updated_at END),"
            f" max(CASE WHEN since IS NULL AND {finished} THEN updated_at END),"
            " sum(state = 'pending'), sum(state = 'failed')"
            " FROM ledger GROUP BY account_id"
        )
        async with self._db.execute(sql) as cur:
            async for account, refresh, lifetime, pending, failed in cur:
                ledger[account] = (refresh, lifetime, int(pending or 0), int(failed or 0))
        newest: dict[str, str | None] = {}
        sql = "SELECT account_id, max(end_time) FROM insights GROUP BY account_id"
        async with self._db.execute(sql) as cur:
            async for account, end_time in cur:
                newest[account] = end_time
        result = []
        for account in sorted(ledger.keys() | newest.keys()):
            refresh, lifetime, pending, failed = ledger.get(account, (None, None, 0, 0))
            result.append(
                AccountFreshness(account, refresh, lifetime, newest.get(account), pending, failed)
            )
        return result


def _pending_row(request: PlannedLike, now: str) -> tuple[object, ...]:
    window = request.window
    return (
        request.key, request.account_id, request.app, ",".join(request.metrics), request.period,
        None if window is None else window.since, None if window is None else window.until, now,
    )  # fmt: skip


async def _rollback(db: aiosqlite.Connection) -> None:
    """Roll back if a transaction is open (SQLite may already have rolled back on error)."""
    if db.in_transaction:
        await db.execute("ROLLBACK")
