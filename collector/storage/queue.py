"""The work-queue seam: the ledger as a queue that many processes share.

Planned requests are ledger rows. A job (``run``, ``pull``, a daemon's
``refresh``) enqueues its requests; workers *claim* a few at a time under a
lease; a worker that dies leaves its claims to be taken again once their lease
runs out; a worker whose lease was taken cannot commit (*fencing*): its
outcomes are dropped, in the same transaction that would have stored them.

Implemented by :mod:`collector.storage.sqlite` (processes on one host: WAL,
``BEGIN IMMEDIATE``, a busy timeout) and :mod:`collector.storage.postgres`
(any number of hosts: ``FOR UPDATE SKIP LOCKED``). Both follow the contracts
below to the letter; ``tests/storage/test_queue_contract.py`` runs the same
tests on both.

Times are Unix seconds from the store's injected clock, never the database's,
so a test moves them by hand.

The ledger gains, per row (schema version 2): ``params`` (the request's extra
query parameters, ``name=value`` joined by ``&``), ``priority`` (lower goes
first), ``rank`` (the request's place in its account's plan, so claims
interleave accounts), ``lease_owner``, ``lease_until`` and ``lease_token``
(incremented by every claim: the fence). Jobs are rows of ``jobs``; which
requests a job asked for is ``job_requests`` (job id, ledger key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import orjson

from collector.model.records import rfc3339

__all__ = [
    "ON_DEMAND_PRIORITY",
    "ROUTINE_PRIORITY",
    "RUN_PRIORITY",
    "Claim",
    "Fence",
    "JobInfo",
    "JobSpec",
    "JobState",
    "QueuedRequest",
    "WorkQueue",
    "WorkerInfo",
    "job_info",
    "worker_info",
]

# Lower goes first: an on-demand pull before a foreground run before the daemon's routine.
ON_DEMAND_PRIORITY: Final = 10
RUN_PRIORITY: Final = 50
ROUTINE_PRIORITY: Final = 100

JobState = Literal["queued", "running", "done", "cancelled"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job is, as ``ig-collector jobs`` shows it.

    ``kind``: ``run``, ``pull``, ``refresh``, ``history``. ``description``:
    JSON-encodable facts for people (range, accounts, metrics); never a secret.
    """

    kind: str
    priority: int
    description: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """One planned request as the queue keeps it.

    ``params`` is the request's extra query parameters as ``a=b&c=d`` (empty:
    none); ``rank`` its position in its account's plan. ``force``: send it
    even if its row is ``done`` or ``no_data`` (a daemon refresh).
    """

    key: str
    account_id: str
    app: str
    metrics: tuple[str, ...]
    period: str
    since: int | None
    until: int | None
    params: str
    rank: int
    force: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """A request a worker holds under lease ``token`` until it commits or the lease ends."""

    key: str
    account_id: str
    app: str
    metrics: tuple[str, ...]
    period: str
    since: int | None
    until: int | None
    params: str
    token: int


@dataclass(frozen=True, slots=True)
class Fence:
    """Who may commit which claims: ``owner`` and, per ledger key, its lease token."""

    owner: str
    tokens: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job and its progress, counted over the ledger rows it asked for.

    ``state``: ``cancelled`` once cancelled; else ``done`` when none of its
    rows is ``pending``; else ``running`` when some row is finished or
    leased; else ``queued``. Times are RFC 3339 UTC.
    """

    id: int
    kind: str
    priority: int
    state: JobState
    created_at: str
    description: Mapping[str, object]
    total: int
    pending: int
    done: int
    no_data: int
    failed: int

    @property
    def finished(self) -> int:
        """Rows no longer pending (done, no data or failed)."""
        return self.done + self.no_data + self.failed


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A process working the queue, as its last heartbeat described it."""

    id: str
    host: str
    pid: int
    role: str  # worker | daemon | run | pull
    started_at: str
    seen_at: str


class RowLike(Protocol):
    """A row read by column name (:class:`sqlite3.Row`, a dict row of psycopg)."""

    def __getitem__(self, key: str, /) -> Any: ...


def job_info(job: RowLike, counts: Mapping[str, int], leased: int) -> JobInfo:
    """A :class:`JobInfo` from a ``jobs`` row and its rows' counts by ledger state.

    ``leased``: how many of its pending rows are under a live lease. The state
    rule of :class:`JobInfo`, in one place for both stores.
    """
    state: JobState
    if job["cancelled_at"] is not None:
        state = "cancelled"
    elif counts["pending"] == 0:
        state = "done"
    elif leased or counts["done"] or counts["no_data"] or counts["failed"]:
        state = "running"
    else:
        state = "queued"
    raw = job["description"]
    return JobInfo(
        id=int(job["id"]), kind=str(job["kind"]), priority=int(job["priority"]),
        state=state, created_at=str(job["created_at"]),
        description=orjson.loads(raw) if isinstance(raw, str | bytes) else {},
        total=sum(counts.values()), pending=counts["pending"], done=counts["done"],
        no_data=counts["no_data"], failed=counts["failed"],
    )  # fmt: skip


def worker_info(row: RowLike) -> WorkerInfo:
    """A :class:`WorkerInfo` from a ``workers`` row (``seen_at`` in Unix seconds)."""
    seen = dt.datetime.fromtimestamp(float(row["seen_at"]), dt.UTC)
    return WorkerInfo(
        id=str(row["id"]), host=str(row["host"]), pid=int(row["pid"]), role=str(row["role"]),
        started_at=str(row["started_at"]), seen_at=rfc3339(seen),
    )  # fmt: skip


class WorkQueue(Protocol):
    """The ledger as a shared queue (see the module docstring)."""

    async def enqueue(self, spec: JobSpec, requests: Iterable[QueuedRequest]) -> int:
        """Create a job for ``requests`` (consumed lazily, in chunks); return its id.

        Each request's ledger row is created ``pending`` when its key is new.
        An existing row becomes ``pending`` again when it is ``failed``, or
        ``done``/``no_data`` and the request is ``force``d (attempts kept);
        a ``pending`` row keeps its lease. Every row the job names takes the
        lower of its priority and the job's. The job is linked to every key,
        finished ones included (they count as finished for its progress).
        """
        ...

    async def claim(
        self, owner: str, apps: Collection[str], limit: int, lease_s: float
    ) -> list[Claim]:
        """Lease up to ``limit`` claimable rows of ``apps`` to ``owner`` for ``lease_s`` s.

        Claimable: ``pending``, no lease or an expired one, and asked for by
        at least one job that is not cancelled. Taken in (priority, rank,
        registration) order; each claimed row's ``lease_token`` is
        incremented and returned in its :class:`Claim`. Concurrent claims
        never return the same row (SKIP LOCKED / the write lock). Empty: none.
        """
        ...

    async def renew(self, owner: str, keys: Collection[str], lease_s: float) -> int:
        """Extend ``owner``'s live leases on ``keys`` to now + ``lease_s``; return how many.

        A key whose lease another worker has taken meanwhile is not touched.
        """
        ...

    async def release(self, owner: str, keys: Collection[str]) -> int:
        """Give back ``owner``'s unfinished claims on ``keys`` at once (a clean stop)."""
        ...

    async def lease_owners(self) -> list[str]:
        """Owners of the leases that have not run out yet (on ``pending`` rows)."""
        ...

    async def release_all(self, owner: str) -> int:
        """Clear every lease ``owner`` holds on ``pending`` rows (a worker known dead)."""
        ...

    async def job(self, job_id: int) -> JobInfo | None:
        """One job with its progress, or ``None`` for an id never issued."""
        ...

    async def jobs(self, limit: int = 50) -> list[JobInfo]:
        """The newest ``limit`` jobs, newest first."""
        ...

    async def prune_jobs(self, before: str) -> int:
        """Forget the jobs created before ``before`` (RFC 3339) that are cancelled or
        have no row pending; return how many. Their ledger rows stay (they hold what
        was fetched); only the job and its links go. A job with work left is kept.
        """
        ...

    async def cancel(self, job_id: int) -> bool:
        """Cancel a job: its rows are no longer claimable unless another live job asks.

        Claims already out finish and commit. ``False`` when no such job or it
        was already cancelled.
        """
        ...

    async def claimable(self, apps: Collection[str]) -> int:
        """How many rows :meth:`claim` could hand out now (a worker's idle check)."""
        ...

    async def heartbeat(self, worker: WorkerInfo) -> None:
        """Record that ``worker`` is alive now (its ``seen_at`` is set by the store)."""
        ...

    async def forget_worker(self, worker_id: str) -> None:
        """Remove a worker's row (a clean exit)."""
        ...

    async def live_workers(self, within_s: float) -> list[WorkerInfo]:
        """Workers whose last heartbeat is at most ``within_s`` seconds old."""
        ...

    async def lead(self, name: str, owner: str, lease_s: float) -> bool:
        """Take or keep the named leadership lease; ``True`` while ``owner`` holds it.

        Granted when no one holds ``name``, its lease expired, or ``owner``
        holds it already (then it is extended to now + ``lease_s``).
        """
        ...

    async def take_slots(self, app: str, calls: int, interval_s: float) -> float:
        """Reserve ``calls`` send slots of ``app``'s shared allowance; return the first's time.

        The app's schedule (a GCRA theoretical arrival time kept in the store)
        moves atomically from ``max(tat, now)`` by ``calls * interval_s``; the
        caller may send call ``i`` at ``first + i * interval_s`` (Unix s).
        Whoever takes, every process of the app draws from one schedule.
        """
        ...

    async def publish_usage(self, app: str, reading: Mapping[str, object]) -> None:
        """Store the latest usage-header reading seen for ``app`` (JSON-encodable)."""
        ...

    async def usage(self, app: str) -> tuple[float, Mapping[str, object]] | None:
        """The latest published reading of ``app`` and when it was stored; ``None``: none."""
        ...
