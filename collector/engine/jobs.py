"""Runs as queue jobs: enqueue a run's plan, and what a process needs to work the queue.

:func:`enqueue_run` turns what a bounded run collects (``[collect]``'s range,
or a daemon's :class:`~collector.engine.run.RunWork`) into one job of the
shared queue; :func:`feed_accounts` and :func:`feed_settings` give a
:class:`~collector.engine.feed.ClaimFeed` the registry and the claim sizes of
a config; :func:`worker_id` names this process in leases and heartbeats.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from collector.config.load import AccountConfig, Config
from collector.engine.feed import FeedAccount, FeedSettings
from collector.errors import OutputError
from collector.planning.planner import AccountRef, PlanSpec, plan_account
from collector.planning.queued import queued, ranked
from collector.storage.opening import StoreAddress
from collector.storage.queue import (
    ROUTINE_PRIORITY,
    RUN_PRIORITY,
    JobInfo,
    JobSpec,
    QueuedRequest,
    WorkQueue,
)

if TYPE_CHECKING:
    from collector.engine.run import RunWork

__all__ = [
    "OpenedWork", "QueueMode", "enqueue_run", "feed_accounts", "feed_settings", "open_work",
    "store_address", "worker_id",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class QueueMode:
    """What a process works when it does not enqueue a run of its own.

    ``job``: that job until it is done (``pull --wait`` with no worker alive);
    ``drain``: whatever is claimable until nothing is (a daemon between its
    runs); ``forever``: the queue until stopped (``worker``). ``store_only``:
    write no NDJSON (another process may be writing the same store).
    """

    mode: Literal["job", "drain", "forever"]
    job: int | None = None
    store_only: bool = True

    def describe(self) -> str:
        """How ``run_started`` names the work."""
        return f"job {self.job}" if self.mode == "job" else f"queue ({self.mode})"


@dataclass(frozen=True, slots=True)
class OpenedWork:
    """What a run works: when it is finished (``None``: until stopped), its size if known,
    the requests already finished when it began, and the keys its own job asked for."""

    finished: Callable[[], Awaitable[bool]] | None
    planned: int | None
    skipped: int
    keys: Container[str]
    role: str


async def open_work(
    queue: WorkQueue,
    config: Config,
    specs: Mapping[str, PlanSpec],
    work: RunWork | None,
    mode: QueueMode | None,
) -> OpenedWork:
    """Enqueue the run's job (no ``mode``), or look up what ``mode`` works."""
    apps = [app.name for app in config.apps]
    if mode is None:
        # Only the daemon's work looks at which keys are its own (RunWork.observe): a
        # plain run does not keep them (780,000 keys of a 2-year 10,000-account pull
        # held ~100 MiB).
        keys: set[str] | None = set() if work is not None else None
        job = await enqueue_run(queue, config, specs, work, keys=keys)
        info = await job_info(queue, job)
        return OpenedWork(_job_done(queue, job), None, info.finished, keys or (), "run")
    if mode.mode == "job" and mode.job is not None:
        info = await job_info(queue, mode.job)
        return OpenedWork(_job_done(queue, mode.job), info.total, info.finished, (), "run")
    if mode.mode == "drain":
        return OpenedWork(_drained(queue, apps), None, 0, (), "run")
    return OpenedWork(None, None, 0, (), "worker")


async def job_info(queue: WorkQueue, job: int) -> JobInfo:
    """The job's progress; :class:`OutputError` when the store has no such job."""
    info = await queue.job(job)
    if info is None:
        raise OutputError(f"the store has no job {job}; fix: see `ig-collector jobs`")
    return info


def _job_done(queue: WorkQueue, job: int) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        info = await job_info(queue, job)
        return info.pending == 0 or info.state == "cancelled"

    return done


def _drained(queue: WorkQueue, apps: list[str]) -> Callable[[], Awaitable[bool]]:
    async def drained() -> bool:
        left: int = await queue.claimable(apps)
        return left == 0

    return drained


def worker_id() -> str:
    """A new name for one run's claims and heartbeats: host, pid and a random tag.

    Each run of a process has its own, so a run that ends can give back every
    claim still in its name without touching another run's.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def enqueue_run(
    queue: WorkQueue,
    config: Config,
    specs: Mapping[str, PlanSpec],
    work: RunWork | None = None,
    *,
    priority: int | None = None,
    kind: str | None = None,
    keys: set[str] | None = None,
) -> int:
    """Enqueue everything a run of ``config`` collects as one job; return the job's id.

    Without ``work``: ``[collect]``'s range for every account (a foreground
    ``run``, priority :data:`RUN_PRIORITY`). With it: the daemon's requests
    (priority :data:`ROUTINE_PRIORITY`), the ones it always sends forced.
    ``keys``, when given, receives every key the job asks for.
    """
    if work is None:
        spec = JobSpec(
            kind or "run", RUN_PRIORITY if priority is None else priority, _describe(config, specs)
        )
    else:
        spec = JobSpec(
            kind or work.kind,
            ROUTINE_PRIORITY if priority is None else priority,
            {"accounts": len(config.accounts), "planned": work.planned},
        )
    requests = _requests(config, specs, work)
    if keys is not None:
        requests = _noting(requests, keys)
    return await queue.enqueue(spec, requests)


def _noting(requests: Iterator[QueuedRequest], keys: set[str]) -> Iterator[QueuedRequest]:
    for request in requests:
        keys.add(request.key)
        yield request


def _requests(
    config: Config, specs: Mapping[str, PlanSpec], work: RunWork | None
) -> Iterator[QueuedRequest]:
    for account in config.accounts:
        ref = AccountRef(account.id, account.app)
        if work is None:
            yield from ranked(plan_account(ref, specs[account.app]))
            continue
        for rank, request in enumerate(work.requests(ref)):
            yield queued(request, rank, force=work.always_send(request))


def _describe(config: Config, specs: Mapping[str, PlanSpec]) -> dict[str, object]:
    spec = next(iter(specs.values()), None)
    described: dict[str, object] = {"accounts": len(config.accounts)}
    if spec is not None:
        described["first"] = spec.first.isoformat()
        described["last"] = spec.last.isoformat()
    return described


def store_address(config: Config) -> StoreAddress:
    """Where ``config``'s store is: ``[store].url`` (PostgreSQL) or ``[output].sqlite``."""
    return StoreAddress(config.output.sqlite, config.store.url, config.store.schema)


def feed_accounts(
    config: Config, registry: Sequence[AccountConfig] | None = None
) -> dict[str, FeedAccount]:
    """The accounts a claim feed may send for, by id (tokens included): ``registry``,
    default the config's."""
    accounts = config.accounts if registry is None else registry
    return {a.id: FeedAccount(a.id, a.app, a.token, a.label) for a in accounts}


def feed_settings(config: Config) -> FeedSettings:
    """Claim sizes per app (claim when under twice its concurrency, up to four times) and
    ``[store]``'s lease and poll times."""
    low = {app.name: max(4, 2 * app.concurrency) for app in config.apps}
    high = {app.name: max(8, 4 * app.concurrency) for app in config.apps}
    return FeedSettings(low, high, config.store.lease_s, config.store.poll_s)
