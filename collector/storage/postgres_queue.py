"""The :class:`~collector.storage.queue.WorkQueue` half of the PostgreSQL store.

:class:`PostgresQueue` is a base of :class:`collector.storage.postgres.PostgresStore`:
the queue's contracts (``collector/storage/queue.py``) in SQL. Every method is
one transaction of its own on a connection of the store's pool, never the
open write transaction's, so a claim or a heartbeat neither waits for a batch
nor rolls back with it.

- Claims: ``FOR UPDATE SKIP LOCKED`` in a CTE and ``UPDATE ... RETURNING``, one
  round trip; concurrent claimers skip each other's rows instead of waiting.
  Rows are locked in (priority, rank, seq) order, the claim index's. A job
  library (procrastinate, pgqueuer) would keep jobs in tables of its own; here
  the queue *is* the ledger, whose rows commit with the points, so the claim
  is written directly.
- Rows that are locked to be changed (renew, release, a new job) are locked in
  key order, as the writer locks a batch's: they wait for each other, they do
  not deadlock.
- Times are the injected clock's Unix seconds, passed as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

import orjson

from collector.clock import Clock
from collector.model.records import rfc3339
from collector.storage.postgres_coord import PostgresCoordination
from collector.storage.queue import Claim, JobInfo, JobSpec, QueuedRequest, job_info

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresQueue"]

_CHUNK: Final = 5_000
_ANALYZE_AFTER: Final = 1_000  # rows a job named: enough to refresh the planner's statistics

# Claimable: pending, not under a live lease, asked for by a job that is not cancelled.
_CLAIMABLE: Final = """
l.state = 'pending' AND l.app = ANY(%(apps)s::text[])
AND (l.lease_until IS NULL OR l.lease_until < %(now)s)
AND EXISTS (SELECT 1 FROM job_requests AS r JOIN jobs AS j ON j.id = r.job_id
            WHERE r.key = l.key AND j.cancelled_at IS NULL)
"""

_CLAIM: Final = f"""
WITH picked AS (
    SELECT l.key FROM ledger AS l WHERE {_CLAIMABLE}
    ORDER BY l.priority, l.rank, l.seq LIMIT %(limit)s
    FOR UPDATE OF l SKIP LOCKED)
UPDATE ledger AS l
SET lease_owner = %(owner)s, lease_until = %(until)s, lease_token = l.lease_token + 1
FROM picked WHERE l.key = picked.key
RETURNING l.key, l.account_id, l.app, l.metrics, l.period, l.since, l.until, l.params,
          l.lease_token, l.priority, l.rank, l.seq
"""

# Rows a job names, in a per-transaction scratch table (one COPY per chunk).
_ENQUEUE_STAGE: Final = """
CREATE TEMP TABLE enqueue_stage (
    ord BIGINT, key TEXT, account_id TEXT, app TEXT, metrics TEXT, period TEXT,
    since BIGINT, until BIGINT, params TEXT, rank INTEGER, force BOOLEAN) ON COMMIT DROP
"""
_ENQUEUE_COLUMNS: Final = (
    "ord, key, account_id, app, metrics, period, since, until, params, rank, force"
)

# New keys: a pending row each (the first copy of a key named twice). Registration
# order (seq) is the job's order; the rows are inserted in key order all the same, so
# two jobs adding the same new keys at once wait for each other rather than deadlock.
# (A volatile function in a select list is evaluated after its query's ORDER BY.)
_ENQUEUE_NEW: Final = """
INSERT INTO ledger (key, account_id, app, metrics, period, since, until, params, rank,
                    priority, state, updated_at, seq)
SELECT key, account_id, app, metrics, period, since, until, params, rank,
       %(priority)s, 'pending', %(now)s, seq
FROM (SELECT *, nextval(pg_get_serial_sequence('ledger', 'seq')) AS seq
      FROM (SELECT DISTINCT ON (key) * FROM enqueue_stage ORDER BY key, ord) AS first
      WHERE NOT EXISTS (SELECT 1 FROM ledger AS l WHERE l.key = first.key)
      ORDER BY ord) AS numbered
ORDER BY key
ON CONFLICT (key) DO NOTHING
"""

# Every named row, locked in key order, takes the job's params and rank (its last copy's).
# A failed row, or a finished one the job forces, is pending again at the job's priority
# (attempts kept, reason cleared); any other keeps the lower priority, and a pending row
# its lease.
_RESET: Final = "(l.state = 'failed' OR (locked.force AND l.state IN ('done', 'no_data')))"
_ENQUEUE_EXISTING: Final = f"""
WITH named AS (
    SELECT DISTINCT ON (key) key, params, rank, bool_or(force) OVER (PARTITION BY key) AS force
    FROM enqueue_stage ORDER BY key, ord DESC),
locked AS (
    SELECT l.key, named.params, named.rank, named.force FROM ledger AS l JOIN named USING (key)
    ORDER BY l.key FOR UPDATE OF l)
UPDATE ledger AS l SET
    priority = CASE WHEN {_RESET} THEN %(priority)s ELSE least(l.priority, %(priority)s) END,
    reason = CASE WHEN {_RESET} THEN NULL ELSE l.reason END,
    updated_at = CASE WHEN {_RESET} THEN %(now)s ELSE l.updated_at END,
    state = CASE WHEN {_RESET} THEN 'pending' ELSE l.state END,
    params = locked.params, rank = locked.rank
FROM locked WHERE l.key = locked.key
"""

_ENQUEUE_LINK: Final = """
INSERT INTO job_requests (job_id, key) SELECT DISTINCT %s, key FROM enqueue_stage
ON CONFLICT DO NOTHING
"""

_JOB: Final = """
SELECT j.id, j.kind, j.priority, j.description, j.created_at, j.cancelled_at,
       count(l.key) AS total,
       count(*) FILTER (WHERE l.state = 'pending') AS pending,
       count(*) FILTER (WHERE l.state = 'done') AS done,
       count(*) FILTER (WHERE l.state = 'no_data') AS no_data,
       count(*) FILTER (WHERE l.state = 'failed') AS failed,
       count(*) FILTER (WHERE l.state = 'pending' AND l.lease_until > %(now)s) AS leased
FROM jobs AS j
LEFT JOIN job_requests AS r ON r.job_id = j.id
LEFT JOIN ledger AS l ON l.key = r.key
WHERE j.id IN ({ids})
GROUP BY j.id ORDER BY j.id DESC
"""


# Row locks in key order before the change (see the module docstring).
# A lease that ran out but was not taken is still the owner's (its token still commits).
def _mine(keys: str) -> str:
    """The CTE ``mine``: the owner's leased pending rows (of ``keys``), locked in key order."""
    return f"""
WITH mine AS (
    SELECT key FROM ledger
    WHERE {keys} lease_owner = %(owner)s AND state = 'pending'
    ORDER BY key FOR UPDATE)
"""


_RENEW: Final = (
    _mine("key = ANY(%(keys)s::text[]) AND")
    + """
UPDATE ledger AS l SET lease_until = %(until)s FROM mine
WHERE l.key = mine.key AND l.lease_owner = %(owner)s
"""
)
_RELEASE: Final = (
    _mine("key = ANY(%(keys)s::text[]) AND")
    + """
UPDATE ledger AS l SET lease_owner = NULL, lease_until = NULL FROM mine
WHERE l.key = mine.key AND l.lease_owner = %(owner)s
"""
)
_RELEASE_ALL: Final = (
    _mine("")
    + """
UPDATE ledger AS l SET lease_owner = NULL, lease_until = NULL FROM mine
WHERE l.key = mine.key AND l.lease_owner = %(owner)s
"""
)

# Jobs that may be forgotten: old, and cancelled or with no row pending.
_PRUNABLE: Final = """
SELECT j.id FROM jobs AS j WHERE j.created_at < %s AND (j.cancelled_at IS NOT NULL OR NOT EXISTS (
    SELECT 1 FROM job_requests AS r JOIN ledger AS l ON l.key = r.key
    WHERE r.job_id = j.id AND l.state = 'pending'))
"""


class PostgresQueue(PostgresCoordination):
    """The queue's methods over the store's pool (a base of ``PostgresStore``)."""

    _pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    _clock: Clock

    def _now(self) -> float:
        """The injected clock's time, Unix seconds."""
        return self._clock.now().timestamp()

    async def _fetch(self, sql: str, params: Any = None) -> list[DictRow]:
        """The rows of one statement, run in a transaction of its own."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall() if cur.description is not None else []

    async def _execute(self, sql: str, params: Any = None) -> int:
        """Run one statement in a transaction of its own; the rows it changed."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def enqueue(self, spec: JobSpec, requests: Iterable[QueuedRequest]) -> int:
        """Create a job for ``requests`` in one transaction; its id (see the Protocol)."""
        now = self._now()
        stamp = rfc3339(dt.datetime.fromtimestamp(now, dt.UTC))
        params = {"priority": spec.priority, "now": stamp}
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO jobs (kind, priority, description, created_at)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (spec.kind, spec.priority, orjson.dumps(dict(spec.description)).decode(), stamp),
            )
            row = await cur.fetchone()
            assert row is not None
            job_id = int(row["id"])
            # Streamed into the stage first, so the ledger rows are then locked at once,
            # in key order, and the job appears whole at commit.
            await cur.execute(_ENQUEUE_STAGE)
            it = enumerate(requests)
            while chunk := list(islice(it, _CHUNK)):
                async with cur.copy(f"COPY enqueue_stage ({_ENQUEUE_COLUMNS}) FROM STDIN") as copy:
                    for i, r in chunk:
                        await copy.write_row(
                            (i, r.key, r.account_id, r.app, ",".join(r.metrics), r.period,
                             r.since, r.until, r.params, r.rank, r.force)
                        )  # fmt: skip
            await cur.execute(_ENQUEUE_NEW, params)
            named = cur.rowcount
            await cur.execute(_ENQUEUE_EXISTING, params)
            named += cur.rowcount
            await cur.execute(_ENQUEUE_LINK, (job_id,))
        if named >= _ANALYZE_AFTER:
            # Without statistics (a new ledger) the planner sorts every pending row for
            # each claim instead of walking the claim index: 30 ms per claim of 16 in a
            # queue of 10,000, 1 ms with them. Autovacuum would get there within a minute.
            await self._execute("ANALYZE ledger, job_requests, jobs")
        return job_id

    async def claim(
        self, owner: str, apps: Collection[str], limit: int, lease_s: float
    ) -> list[Claim]:
        """Lease up to ``limit`` claimable rows to ``owner``, in one statement (see the Protocol)."""
        if limit <= 0 or not apps:
            return []
        now = self._now()
        rows = await self._fetch(
            _CLAIM,
            {"apps": list(apps), "now": now, "limit": limit, "owner": owner,
             "until": now + lease_s},
        )  # fmt: skip
        rows.sort(key=lambda r: (r["priority"], r["rank"], r["seq"]))
        return [
            Claim(
                key=r["key"],
                account_id=r["account_id"],
                app=r["app"],
                metrics=tuple(r["metrics"].split(",")),
                period=r["period"],
                since=r["since"],
                until=r["until"],
                params=r["params"],
                token=int(r["lease_token"]),
            )
            for r in rows
        ]

    async def renew(self, owner: str, keys: Collection[str], lease_s: float) -> int:
        """Extend ``owner``'s leases on ``keys``; how many (see the Protocol).

        A lease that ran out but was not taken by another is renewed too, as the
        SQLite store does: its token would still commit.
        """
        params = {"keys": list(keys), "owner": owner, "until": self._now() + lease_s}
        return await self._execute(_RENEW, params)

    async def release(self, owner: str, keys: Collection[str]) -> int:
        """Give back ``owner``'s unfinished claims on ``keys``; how many (see the Protocol)."""
        return await self._execute(_RELEASE, {"keys": list(keys), "owner": owner})

    async def lease_owners(self) -> list[str]:
        """Owners of the leases that have not run out yet (on ``pending`` rows)."""
        rows = await self._fetch(
            "SELECT DISTINCT lease_owner FROM ledger WHERE state = 'pending'"
            " AND lease_until >= %s AND lease_owner IS NOT NULL ORDER BY lease_owner",
            (self._now(),),
        )
        return [str(r["lease_owner"]) for r in rows]

    async def release_all(self, owner: str) -> int:
        """Clear every lease ``owner`` holds on ``pending`` rows (a worker known dead)."""
        return await self._execute(_RELEASE_ALL, {"owner": owner})

    async def job(self, job_id: int) -> JobInfo | None:
        """One job with its progress, or ``None`` for an id never issued."""
        rows = await self._fetch(_JOB.format(ids="%(id)s"), {"id": job_id, "now": self._now()})
        return _job(rows[0]) if rows else None

    async def jobs(self, limit: int = 50) -> list[JobInfo]:
        """The newest ``limit`` jobs, newest first."""
        newest = "SELECT id FROM jobs ORDER BY id DESC LIMIT %(limit)s"
        rows = await self._fetch(_JOB.format(ids=newest), {"limit": limit, "now": self._now()})
        return [_job(r) for r in rows]

    async def cancel(self, job_id: int) -> bool:
        """Cancel a job; ``False`` when there is no such job or it was cancelled already."""
        stamp = rfc3339(self._clock.now())
        sql = "UPDATE jobs SET cancelled_at = %s WHERE id = %s AND cancelled_at IS NULL"
        return await self._execute(sql, (stamp, job_id)) > 0

    async def claimable(self, apps: Collection[str]) -> int:
        """How many rows :meth:`claim` could hand out now."""
        sql = f"SELECT count(*) AS n FROM ledger AS l WHERE {_CLAIMABLE}"
        rows = await self._fetch(sql, {"apps": list(apps), "now": self._now()})
        return int(rows[0]["n"])

    async def prune_jobs(self, before: str) -> int:
        """Forget finished or cancelled jobs created before ``before`` (see :class:`WorkQueue`)."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(_PRUNABLE, (before,))
            ids = [row["id"] for row in await cur.fetchall()]
            if ids:
                await conn.execute("DELETE FROM job_requests WHERE job_id = ANY(%s)", (ids,))
                await conn.execute("DELETE FROM jobs WHERE id = ANY(%s)", (ids,))
        return len(ids)


def _job(row: DictRow) -> JobInfo:
    """A :class:`JobInfo` from a row of :data:`_JOB`."""
    counts = {state: int(row[state]) for state in ("pending", "done", "no_data", "failed")}
    return job_info(row, counts, int(row["leased"] or 0))
