"""The work queue in SQLite: :class:`~collector.storage.queue.WorkQueue` for one host.

Processes on one host share the file: WAL lets readers run beside the one
writer, every write here is a ``BEGIN IMMEDIATE`` transaction (it takes the
file's write lock at once, so two claimers never read the same free rows), and
the connection's busy timeout makes a process wait its turn instead of failing.
Within one process, the store's asyncio lock serialises transactions on its
single connection.

Mixed into :class:`collector.storage.sqlite.Store`; it uses the store's
connection, write lock and clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from itertools import islice
from typing import Final

import aiosqlite
import orjson

from collector.clock import Clock
from collector.model.records import rfc3339
from collector.storage.queue import (
    Claim,
    JobInfo,
    JobSpec,
    QueuedRequest,
    WorkerInfo,
    job_info,
    worker_info,
)
from collector.storage.upsert import padded

__all__ = ["SqliteQueue"]

_CHUNK: Final = 2_000

# A row asked for by no live job is not claimable (its jobs were cancelled).
_LIVE: Final = (
    "EXISTS (SELECT 1 FROM job_requests AS jr JOIN jobs AS j ON j.id = jr.job_id"
    " WHERE jr.key = ledger.key AND j.cancelled_at IS NULL)"
)


def _reset(force: bool) -> str:
    """When an existing row becomes pending again on enqueue (see WorkQueue.enqueue)."""
    states = "('failed', 'done', 'no_data')" if force else "('failed')"
    return f"ledger.state IN {states}"


def _enqueue_sql(force: bool) -> str:
    reset = _reset(force)
    return (
        "INSERT INTO ledger (key, account_id, app, metrics, period, since, until, state,"
        " attempts, reason, points, updated_at, params, priority, rank)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, NULL, 0, ?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET"
        f" priority = CASE WHEN {reset} THEN excluded.priority"
        " ELSE min(ledger.priority, excluded.priority) END,"
        f" reason = CASE WHEN {reset} THEN NULL ELSE ledger.reason END,"
        f" updated_at = CASE WHEN {reset} THEN excluded.updated_at ELSE ledger.updated_at END,"
        f" state = CASE WHEN {reset} THEN 'pending' ELSE ledger.state END,"
        " params = excluded.params, rank = excluded.rank"
    )


_ENQUEUE: Final = {force: _enqueue_sql(force) for force in (False, True)}

_CLAIM_COLUMNS: Final = "key, account_id, app, metrics, period, since, until, params, lease_token"


class SqliteQueue:
    """The queue half of the SQLite store (see the module docstring)."""

    _db: aiosqlite.Connection
    _lock: asyncio.Lock
    _clock: Clock

    @contextlib.asynccontextmanager
    async def _immediate(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction under the store's lock; commit or roll back."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def enqueue(self, spec: JobSpec, requests: Iterable[QueuedRequest]) -> int:
        """Create a job for ``requests``, in one transaction (see :class:`WorkQueue`)."""
        stamp = rfc3339(self._clock.now())
        async with self._immediate() as db:
            cursor = await db.execute(
                "INSERT INTO jobs (kind, priority, description, created_at) VALUES (?, ?, ?, ?)",
                (spec.kind, spec.priority, orjson.dumps(dict(spec.description)).decode(), stamp),
            )
            job_id = int(cursor.lastrowid or 0)
            it = iter(requests)
            while chunk := list(islice(it, _CHUNK)):
                for force in (False, True):
                    rows = [_row(r, stamp, spec.priority) for r in chunk if r.force is force]
                    if rows:
                        await db.executemany(_ENQUEUE[force], rows)
                await db.executemany(
                    "INSERT OR IGNORE INTO job_requests (job_id, key) VALUES (?, ?)",
                    [(job_id, r.key) for r in chunk],
                )
        return job_id

    async def claim(
        self, owner: str, apps: Collection[str], limit: int, lease_s: float
    ) -> list[Claim]:
        """Lease up to ``limit`` claimable rows of ``apps`` to ``owner`` (see :class:`WorkQueue`)."""
        if not apps or limit <= 0:
            return []
        now = self._now()
        marks = ",".join("?" * len(apps))
        sql = (
            "UPDATE ledger SET lease_owner = ?, lease_until = ?, lease_token = lease_token + 1"
            " WHERE key IN (SELECT key FROM ledger WHERE state = 'pending'"
            f" AND app IN ({marks}) AND (lease_until IS NULL OR lease_until < ?) AND {_LIVE}"
            " ORDER BY priority, rank, rowid LIMIT ?)"
            f" RETURNING {_CLAIM_COLUMNS}"
        )
        async with self._immediate() as db:
            rows = await _fetch(db, sql, (owner, now + lease_s, *apps, now, limit))
        return [_claim(row) for row in rows]

    async def renew(self, owner: str, keys: Collection[str], lease_s: float) -> int:
        """Extend ``owner``'s leases on ``keys`` (see :class:`WorkQueue`)."""
        return await self._by_keys(
            "UPDATE ledger SET lease_until = ? WHERE lease_owner = ? AND state = 'pending'"
            " AND key IN ({})",
            (self._now() + lease_s, owner),
            keys,
        )

    async def release(self, owner: str, keys: Collection[str]) -> int:
        """Give back ``owner``'s unfinished claims on ``keys`` (see :class:`WorkQueue`)."""
        return await self._by_keys(
            "UPDATE ledger SET lease_owner = NULL, lease_until = NULL"
            " WHERE lease_owner = ? AND state = 'pending' AND key IN ({})",
            (owner,),
            keys,
        )

    async def lease_owners(self) -> list[str]:
        """Owners of the leases that have not run out yet (on ``pending`` rows)."""
        sql = (
            "SELECT DISTINCT lease_owner AS owner FROM ledger WHERE state = 'pending'"
            " AND lease_until >= ? AND lease_owner IS NOT NULL"
        )
        return [str(row["owner"]) for row in await _fetch(self._db, sql, (self._now(),))]

    async def release_all(self, owner: str) -> int:
        """Clear every lease ``owner`` holds on ``pending`` rows (a worker known dead)."""
        async with self._immediate() as db:
            cursor = await db.execute(
                "UPDATE ledger SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND state = 'pending'",
                (owner,),
            )
            return cursor.rowcount

    async def _by_keys(self, sql: str, head: tuple[object, ...], keys: Collection[str]) -> int:
        changed = 0
        it = iter(keys)
        async with self._immediate() as db:
            while chunk := padded(list(islice(it, 512))):  # a few statement sizes: padded()
                cursor = await db.execute(sql.format(",".join("?" * len(chunk))), (*head, *chunk))
                changed += cursor.rowcount
        return changed

    async def job(self, job_id: int) -> JobInfo | None:
        """One job with its progress (see :class:`WorkQueue`)."""
        sql = (
            "SELECT id, kind, priority, description, created_at, cancelled_at FROM jobs"
            " WHERE id = ?"
        )
        rows = await _fetch(self._db, sql, (job_id,))
        return await self._info(rows[0]) if rows else None

    async def jobs(self, limit: int = 50) -> list[JobInfo]:
        """The newest ``limit`` jobs, newest first."""
        sql = (
            "SELECT id, kind, priority, description, created_at, cancelled_at FROM jobs"
            " ORDER BY id DESC LIMIT ?"
        )
        rows = await _fetch(self._db, sql, (limit,))
        return [await self._info(row) for row in rows]

    async def _info(self, job: sqlite3.Row) -> JobInfo:
        sql = (
            "SELECT l.state AS state, count(*) AS n,"
            " sum(l.lease_until IS NOT NULL AND l.lease_until >= ?) AS leased"
            " FROM job_requests AS jr JOIN ledger AS l ON l.key = jr.key"
            " WHERE jr.job_id = ? GROUP BY l.state"
        )
        counts = dict.fromkeys(("pending", "done", "no_data", "failed"), 0)
        leased = 0
        for row in await _fetch(self._db, sql, (self._now(), job["id"])):
            counts[str(row["state"])] = int(row["n"])
            leased += int(row["leased"] or 0)
        return job_info(job, counts, leased)

    async def prune_jobs(self, before: str) -> int:
        """Forget finished or cancelled jobs created before ``before`` (see :class:`WorkQueue`)."""
        sql = (
            "SELECT j.id AS id FROM jobs AS j WHERE j.created_at < ? AND (j.cancelled_at IS NOT"
            " NULL OR NOT EXISTS (SELECT 1 FROM job_requests AS r JOIN ledger AS l ON l.key ="
            " r.key WHERE r.job_id = j.id AND l.state = 'pending'))"
        )
        async with self._immediate() as db:
            ids = [int(row["id"]) for row in await _fetch(db, sql, (before,))]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                await db.execute(f"DELETE FROM job_requests WHERE job_id IN ({marks})", chunk)
                await db.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
        return len(ids)

    async def cancel(self, job_id: int) -> bool:
        """Cancel a job (see :class:`WorkQueue`)."""
        async with self._immediate() as db:
            cursor = await db.execute(
                "UPDATE jobs SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                (rfc3339(self._clock.now()), job_id),
            )
            return cursor.rowcount == 1

    async def claimable(self, apps: Collection[str]) -> int:
        """How many rows :meth:`claim` could hand out now."""
        if not apps:
            return 0
        sql = (
            "SELECT count(*) AS n FROM ledger WHERE state = 'pending'"
            f" AND app IN ({','.join('?' * len(apps))})"
            f" AND (lease_until IS NULL OR lease_until < ?) AND {_LIVE}"
        )
        rows = await _fetch(self._db, sql, (*apps, self._now()))
        return int(rows[0]["n"])

    async def heartbeat(self, worker: WorkerInfo) -> None:
        """Record that ``worker`` is alive now."""
        async with self._immediate() as db:
            await db.execute(
                "INSERT INTO workers (id, host, pid, role, started_at, seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " seen_at = excluded.seen_at, role = excluded.role",
                (worker.id, worker.host, worker.pid, worker.role, worker.started_at, self._now()),
            )

    async def forget_worker(self, worker_id: str) -> None:
        """Remove a worker's row (a clean exit)."""
        async with self._immediate() as db:
            await db.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    async def live_workers(self, within_s: float) -> list[WorkerInfo]:
        """Workers whose last heartbeat is at most ``within_s`` seconds old."""
        sql = (
            "SELECT id, host, pid, role, started_at, seen_at FROM workers WHERE seen_at >= ?"
            " ORDER BY started_at, id"
        )
        rows = await _fetch(self._db, sql, (self._now() - within_s,))
        return [worker_info(row) for row in rows]

    async def lead(self, name: str, owner: str, lease_s: float) -> bool:
        """Take or keep the named leadership lease (see :class:`WorkQueue`)."""
        now = self._now()
        async with self._immediate() as db:
            rows = await _fetch(
                db,
                "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until"
                " WHERE leases.owner = excluded.owner OR leases.until < ? RETURNING owner",
                (name, owner, now + lease_s, now),
            )
        return bool(rows) and rows[0]["owner"] == owner

    async def take_slots(self, app: str, calls: int, interval_s: float) -> float:
        """Reserve ``calls`` send slots of ``app``'s shared schedule (see :class:`WorkQueue`)."""
        now = self._now()
        span = calls * interval_s
        async with self._immediate() as db:
            rows = await _fetch(
                db,
                "INSERT INTO budgets (app, tat) VALUES (?, ?) ON CONFLICT (app) DO UPDATE"
                " SET tat = max(budgets.tat, ?) + ? RETURNING tat",
                (app, now + span, now, span),
            )
        return float(rows[0]["tat"]) - span

    async def publish_usage(self, app: str, reading: Mapping[str, object]) -> None:
        """Store the latest usage reading seen for ``app``."""
        async with self._immediate() as db:
            await db.execute(
                "INSERT INTO budgets (app, tat, reading, read_at) VALUES (?, 0, ?, ?)"
                " ON CONFLICT (app) DO UPDATE SET reading = excluded.reading,"
                " read_at = excluded.read_at",
                (app, orjson.dumps(dict(reading)).decode(), self._now()),
            )

    async def usage(self, app: str) -> tuple[float, Mapping[str, object]] | None:
        """The latest published reading of ``app`` and when it was stored."""
        rows = await _fetch(
            self._db,
            "SELECT reading, read_at FROM budgets WHERE app = ? AND reading IS NOT NULL",
            (app,),
        )
        if not rows:
            return None
        return float(rows[0]["read_at"]), orjson.loads(rows[0]["reading"])


async def _fetch(
    db: aiosqlite.Connection, sql: str, params: Iterable[object] = ()
) -> list[sqlite3.Row]:
    """Every row of ``sql``, read by column name."""
    return list(await db.execute_fetchall(sql, tuple(params)))


def _row(request: QueuedRequest, stamp: str, priority: int) -> tuple[object, ...]:
    return (
        request.key, request.account_id, request.app, ",".join(request.metrics), request.period,
        request.since, request.until, stamp, request.params, priority, request.rank,
    )  # fmt: skip


def _claim(row: sqlite3.Row) -> Claim:
    return Claim(
        key=str(row["key"]), account_id=str(row["account_id"]), app=str(row["app"]),
        metrics=tuple(str(row["metrics"]).split(",")), period=str(row["period"]),
        since=_int_or_none(row["since"]), until=_int_or_none(row["until"]),
        params=str(row["params"]), token=int(str(row["lease_token"])),
    )  # fmt: skip


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(str(value))
