"""Coordination over the PostgreSQL store: heartbeats, the leader's lease, shared budgets.

A base of :class:`collector.storage.postgres_queue.PostgresQueue` (and so of the
store): the :class:`~collector.storage.queue.WorkQueue` methods that keep
processes in step rather than move requests. Each is one statement in a
transaction of its own; times are the injected clock's Unix seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from collector.storage.queue import WorkerInfo, worker_info

if TYPE_CHECKING:
    from psycopg.rows import DictRow

__all__ = ["PostgresCoordination"]

_HEARTBEAT: Final = """
INSERT INTO workers (id, host, pid, role, started_at, seen_at) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, role = excluded.role,
    started_at = excluded.started_at, seen_at = excluded.seen_at
"""

_LEAD: Final = """
INSERT INTO leases AS s (name, owner, until) VALUES (%(name)s, %(owner)s, %(until)s)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
WHERE s.owner = excluded.owner OR s.until < %(now)s
RETURNING s.owner
"""

# GCRA (https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm): the theoretical
# arrival time moves from max(tat, now) by the slots taken, in one atomic upsert.
_TAKE_SLOTS: Final = """
INSERT INTO budgets AS b (app, tat) VALUES (%(app)s, %(now)s + %(span)s)
ON CONFLICT (app) DO UPDATE SET tat = greatest(b.tat, %(now)s) + %(span)s
RETURNING b.tat
"""

_PUBLISH: Final = """
INSERT INTO budgets AS b (app, reading, read_at) VALUES (%s, %s, %s)
ON CONFLICT (app) DO UPDATE SET reading = excluded.reading, read_at = excluded.read_at
"""


class PostgresCoordination:
    """Heartbeats, leadership, shared GCRA schedules and usage readings (a mixin).

    The class it is mixed into provides ``_now``, ``_fetch`` and ``_execute``.
    """

    def _now(self) -> float:
        raise NotImplementedError

    async def _fetch(self, sql: str, params: Any = None) -> list[DictRow]:
        raise NotImplementedError

    async def _execute(self, sql: str, params: Any = None) -> int:
        raise NotImplementedError

    async def heartbeat(self, worker: WorkerInfo) -> None:
        """Record that ``worker`` is alive now (``seen_at`` from the store's clock)."""
        await self._execute(
            _HEARTBEAT,
            (worker.id, worker.host, worker.pid, worker.role, worker.started_at, self._now()),
        )

    async def forget_worker(self, worker_id: str) -> None:
        """Remove a worker's row (a clean exit)."""
        await self._execute("DELETE FROM workers WHERE id = %s", (worker_id,))

    async def live_workers(self, within_s: float) -> list[WorkerInfo]:
        """Workers whose last heartbeat is at most ``within_s`` seconds old, by id."""
        rows = await self._fetch(
            "SELECT id, host, pid, role, started_at, seen_at FROM workers"
            " WHERE seen_at >= %s ORDER BY id",
            (self._now() - within_s,),
        )
        return [worker_info(r) for r in rows]

    async def lead(self, name: str, owner: str, lease_s: float) -> bool:
        """Take or keep the named leadership lease; ``True`` while ``owner`` holds it."""
        now = self._now()
        params = {"name": name, "owner": owner, "until": now + lease_s, "now": now}
        return bool(await self._fetch(_LEAD, params))

    async def take_slots(self, app: str, calls: int, interval_s: float) -> float:
        """Reserve ``calls`` slots of ``app``'s shared schedule; the first's time (Unix s)."""
        span = calls * interval_s
        rows = await self._fetch(_TAKE_SLOTS, {"app": app, "now": self._now(), "span": span})
        return float(rows[0]["tat"]) - span

    async def publish_usage(self, app: str, reading: Mapping[str, object]) -> None:
        """Store the latest usage-header reading seen for ``app``."""
        await self._execute(_PUBLISH, (app, orjson.dumps(dict(reading)).decode(), self._now()))

    async def usage(self, app: str) -> tuple[float, Mapping[str, object]] | None:
        """The latest published reading of ``app`` and when it was stored; ``None``: none."""
        rows = await self._fetch(
            "SELECT reading, read_at FROM budgets WHERE app = %s AND reading IS NOT NULL", (app,)
        )
        if not rows:
            return None
        reading: dict[str, object] = orjson.loads(rows[0]["reading"])
        return float(rows[0]["read_at"]), reading
