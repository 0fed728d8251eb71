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
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from collector.config.load import Config
from collector.engine.feed import FeedAccount, FeedSettings
from collector.planning.planner import AccountRef, PlanSpec, plan_account
from collector.planning.queued import queued, ranked
from collector.storage.queue import (
    ROUTINE_PRIORITY,
    RUN_PRIORITY,
    JobSpec,
    QueuedRequest,
    WorkQueue,
)

if TYPE_CHECKING:
    from collector.engine.run import RunWork

__all__ = ["enqueue_run", "feed_accounts", "feed_settings", "worker_id"]

_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def worker_id() -> str:
    """This process's name in leases and heartbeats: host, pid and a random tag."""
    return _ID


async def enqueue_run(
    queue: WorkQueue,
    config: Config,
    specs: Mapping[str, PlanSpec],
    work: RunWork | None = None,
    *,
    priority: int | None = None,
    kind: str | None = None,
) -> int:
    """Enqueue everything a run of ``config`` collects as one job; return the job's id.

    Without ``work``: ``[collect]``'s range for every account (a foreground
    ``run``, priority :data:`RUN_PRIORITY`). With it: the daemon's requests
    (priority :data:`ROUTINE_PRIORITY`), the ones it always sends forced.
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
    return await queue.enqueue(spec, _requests(config, specs, work))


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


def feed_accounts(config: Config) -> dict[str, FeedAccount]:
    """The registry's accounts by id, as a claim feed needs them (tokens included)."""
    return {a.id: FeedAccount(a.id, a.app, a.token, a.label) for a in config.accounts}


def feed_settings(config: Config) -> FeedSettings:
    """Claim sizes per app (claim when under twice its concurrency, up to four times) and
    ``[store]``'s lease and poll times."""
    low = {app.name: max(4, 2 * app.concurrency) for app in config.apps}
    high = {app.name: max(8, 4 * app.concurrency) for app in config.apps}
    return FeedSettings(low, high, config.store.lease_s, config.store.poll_s)
