"""One bounded run: config -> plan -> pool -> sinks -> summary.

:func:`run_once` is the whole bulk pull; the CLI's ``run`` and ``demo`` call it,
and a daemon calls it on a schedule. It plans lazily, one account at a time:
when an account becomes active its requests are registered ``pending`` in the
ledger and the ones already ``done`` or ``no_data`` are dropped, so re-running
the same command sends only what is unfinished.

The daemon drives it with three extra seams: ``work`` (a :class:`RunWork`: its
own requests instead of ``[collect]``'s range, some sent whatever the ledger
says), ``stop`` (an event: stop taking work, let requests in flight finish for
``grace_s`` seconds, then cancel; what was answered is committed either way)
and ``watch`` (sees the :class:`LiveRun` for its periodic stats).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from collector.clock import Clock, SystemClock
from collector.config.load import AccountConfig, Config, resolve_range
from collector.engine import speed
from collector.engine.feed import ClaimFeed
from collector.engine.jobs import (
    QueueMode,
    feed_accounts,
    feed_settings,
    open_work,
    store_address,
    worker_id,
)
from collector.engine.plans import (
    plan_minimum_seconds,
    plan_spec,
    plan_specs,
    planned_requests,
)
from collector.engine.pool import AppSettings, Pool, RunStats
from collector.engine.runtime import Runtime, Tune
from collector.engine.summary import ProgressFactory, ProgressReporter, RunSummary
from collector.graph.pacific import pacific_date
from collector.graph.transport import Transport
from collector.model.outcome import Outcome
from collector.pacing.retry import RetryPolicy
from collector.planning.planner import (
    AccountRef,
    PlannedRequest,
)
from collector.storage.lock import output_locks
from collector.storage.opening import open_store
from collector.storage.queue import WorkQueue
from collector.storage.writer import SinkWriter, WriterStats
from collector.tasks import first_failure

log = structlog.get_logger("collector.engine.run")

__all__ = [
    "LiveRun", "RunWork", "plan_minimum_seconds", "plan_spec", "plan_specs", "planned_requests",
    "run_once",
]  # fmt: skip


class RunWork(Protocol):
    """What a bounded run collects instead of ``[collect]``'s range (the daemon's runs).

    ``kind`` names the run in its log events; ``planned`` is how many requests
    :meth:`requests` yields over the run's accounts.
    """

    @property
    def kind(self) -> str: ...

    @property
    def planned(self) -> int: ...

    def requests(self, account: AccountRef) -> Iterable[PlannedRequest]:
        """The account's requests, in the order they should be sent."""
        ...

    def always_send(self, request: PlannedRequest) -> bool:
        """Whether ``request`` goes even when the ledger has it ``done`` or ``no_data``."""
        ...

    def observe(self, outcome: Outcome) -> None:
        """Sees every outcome just before the writer takes it."""
        ...


@dataclass
class LiveRun:
    """A run in progress, as a watcher sees it (the daemon's ``stats`` event)."""

    planned: int
    pool: Pool
    writer: SinkWriter
    skipped: int = 0

    @property
    def remaining(self) -> int:
        """Requests of the run not yet answered (nor skipped as finished)."""
        finished = sum(self.pool.stats.outcomes.values()) + self.skipped
        return max(0, self.planned - finished)


async def run_once(
    config: Config,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    transport: Transport | None = None,
    progress: ProgressFactory | None = None,
    writer_hook: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    deadline_s: float | None = None,
    tune_budgets: Tune | None = None,
    work: RunWork | None = None,
    queue: QueueMode | None = None,
    registry: Sequence[AccountConfig] | None = None,
    stop: asyncio.Event | None = None,
    grace_s: float = 30.0,
    watch: Callable[[LiveRun], None] | None = None,
) -> RunSummary:
    """Collect everything ``config`` asks for; returns the run's summary.

    ``runtime`` is the process's wire and pacing (a daemon passes its own, so
    budgets and pauses carry over); without one the run builds it from
    ``config`` (``transport``, ``policy`` and ``tune_budgets`` go to
    :meth:`Runtime.for_config`: tests replace the HTTP client, the retry policy,
    and scale the budgets to the emulator's shortened windows). ``writer_hook``
    is the sink writer's crash-test seam; past ``deadline_s`` seconds no retry
    is scheduled (the request fails instead). ``work``, ``stop``, ``grace_s`` and
    ``watch`` are the daemon's seams (see the module docstring).

    The run enqueues what it collects as a job of the store's queue and works
    the queue (higher-priority jobs first) until its job is done; ``queue``
    makes it work an existing job, drain the queue, or work it until
    ``stop`` instead (:class:`~collector.engine.jobs.QueueMode`).
    ``registry`` is every account this process may send for (default: the
    config's); claims of other accounts are left to other workers.

    Cancelled, or ended by an error, the run still commits every answer the
    pool handed to the writer before the store is closed; what was cut short
    stays ``pending`` for the next run.
    """
    clock = clock or SystemClock()
    owned = None
    if runtime is None:
        owned = runtime = Runtime.for_config(
            config, clock, transport=transport, policy=policy, tune=tune_budgets
        )
    started = time.monotonic()
    today = pacific_date(clock.now())
    specs = plan_specs(config, today)
    minimum = plan_minimum_seconds(config, specs)
    planned = sum(planned_requests(config, specs).values())
    first, last = resolve_range(config.collect, today)
    span = {"first": first.isoformat(), "last": last.isoformat()}
    if work is not None:
        planned, span = work.planned, {"work": work.kind}
    if queue is not None:
        planned, span = 0, {"work": queue.describe()}
    log.info(
        "run_started",
        accounts=len(config.accounts),
        planned=planned,
        **span,
        api_version=",".join(config.versions()),
    )
    sqlite = Path(config.output.sqlite)
    ndjson = Path(config.output.ndjson) if config.output.ndjson else None
    for path in (sqlite, ndjson):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    async with contextlib.AsyncExitStack() as stack:
        if owned is not None:
            await stack.enter_async_context(owned)
        address = store_address(config)
        if address.shared or (queue is not None and queue.store_only):
            ndjson = None  # a queue worker writes the store only: NDJSON is export's
        # One process that streams NDJSON holds its outputs alone; queue workers share.
        # A PostgreSQL store has no file to lock: its queue and fencing keep writers apart.
        # (a queue worker, or `pull --wait` working a job here: neither writes NDJSON)
        shared = address.shared or (queue is not None and ndjson is None)
        if not address.shared:
            stack.enter_context(output_locks((sqlite, ndjson), shared=shared))
        store = await open_store(address, clock=clock)
        stack.push_async_callback(store.close)
        owner = worker_id()
        # Runs after the writer has closed (the stack unwinds in reverse): what is
        # still claimed in this run's name was never answered, so it is given back
        # at once instead of waiting out its lease (a cancelled run's rerun).
        stack.push_async_callback(_release_all, store, owner)
        if shared:  # other processes spend the same apps' allowances: one schedule each
            runtime.pacing.share(store)
            stack.callback(runtime.pacing.share, None)
        opened = await open_work(store, config, specs, work, queue)
        planned = opened.planned if opened.planned is not None else planned
        skipped = opened.skipped
        feed = ClaimFeed(
            store,
            owner,
            feed_accounts(config, registry),
            feed_settings(config),
            clock,
            finished=opened.finished,
            stop=stop,
            role=opened.role,
        )
        writer = SinkWriter(
            store, ndjson, clock, stage_hook=writer_hook, fence=feed.fence, on_commit=feed.committed
        )
        await writer.start()
        stack.push_async_exit(_WriterCloser(writer))
        reporter = progress(planned) if progress is not None else None
        if reporter is not None:
            stack.callback(reporter.close)
        pool = Pool(
            caller=runtime.caller,
            emit=_emitter(writer, feed, work, opened.keys),
            source=feed,
            apps={app.name: _app_settings(config, app.name) for app in config.apps},
            accounts={app.name: feed.lane_accounts(app.name) for app in config.apps},
            clock=clock,
            version=config.graph.api_version,
            deadline_s=deadline_s,
            progress=_progress_hook(reporter, skipped) if reporter else None,
            feed_open=feed.is_open,
        )
        feed.attach(pool.wake)
        feed.on_idle(writer.flush)
        if watch is not None:
            watch(LiveRun(planned, pool, writer, skipped))
        stats = await _work(pool, feed, stop, grace_s)
        connections = runtime.connections_opened
    summary = _summary(
        stats, planned, skipped, minimum, writer.stats, time.monotonic() - started, config,
        connections,
    )  # fmt: skip
    log.info("run_summary", **summary.event_fields())
    return summary


class _WriterCloser:
    """Closes the writer on the way out of a run, whatever ends it.

    On a clean end a writer failure is the run's error. When the run is already
    ending by an error or a cancel, the writer still commits what it holds; a
    failure of its own is then logged and the first error goes on.
    """

    def __init__(self, writer: SinkWriter) -> None:
        self._writer = writer

    async def __call__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: object
    ) -> bool:
        if error is None:
            await self._writer.close()
            return False
        try:
            await self._writer.close()
        except Exception as close_error:
            log.error("writer_close_failed", error=type(close_error).__name__)
        return False


def _app_settings(config: Config, name: str) -> AppSettings:
    app = config.app(name)
    return AppSettings(
        app.name, app.concurrency, app.app_secret, config.version_of(app.name), app.base_url
    )


async def _release_all(store: WorkQueue, owner: str) -> None:
    released = await store.release_all(owner)
    if released:
        log.info("claims_released", released=released)


def _emitter(
    writer: SinkWriter, feed: ClaimFeed, work: RunWork | None, keys: Container[str]
) -> Callable[[Outcome], Awaitable[None]]:
    async def emit(outcome: Outcome) -> None:
        feed.answered(outcome)
        if work is not None and outcome.key in keys:  # not another job's request
            work.observe(outcome)
        await writer.put(outcome)
        feed.queued()

    return emit


async def _work(
    pool: Pool, feed: ClaimFeed, stop: asyncio.Event | None, grace_s: float
) -> RunStats:
    """Run the feed and the pool to their end or, once ``stop`` is set, ``grace_s`` more s.

    After ``stop`` the feed claims nothing more and hands out nothing more
    (its unsent claims are released); requests in flight and queued retries
    get the grace period, measured in real seconds because it waits for the
    network. Then the pool is cancelled: what it answered is already queued
    for the writer, which commits it; the requests cut short stay ``pending``
    and are sent by a later run (or another worker).
    """
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(feed.run(), name="feed")
            running = group.create_task(pool.run(), name="pool")
            if stop is not None:
                cutter = group.create_task(_cut_after_grace(running, stop, grace_s), name="grace")
                running.add_done_callback(lambda _: cutter.cancel())
    except BaseExceptionGroup as failed:  # a worker's error as itself (the CLI's CollectorError)
        raise first_failure(failed) from None
    return pool.stats


async def _cut_after_grace(
    running: asyncio.Task[RunStats], stop: asyncio.Event, grace_s: float
) -> None:
    await stop.wait()
    done, _ = await asyncio.wait({running}, timeout=grace_s)  # the group's own task
    if not done:
        log.warning("run_cancelled", grace_s=grace_s, reason="grace period over")
        running.cancel()


def _progress_hook(progress: ProgressReporter, skipped: int) -> Callable[[RunStats], None]:
    def update(stats: RunStats) -> None:
        finished = sum(stats.outcomes.values()) + skipped
        progress.update(finished, stats.outcomes.get("failed", 0))

    return update


def _summary(
    stats: RunStats,
    planned: int,
    skipped: int,
    minimum: dict[str, float],
    written: WriterStats,
    duration: float,
    config: Config,
    connections: int,
) -> RunSummary:
    return RunSummary(
        planned=planned,
        skipped_finished=skipped,
        calls=stats.calls,
        calls_by_app=dict(stats.calls_by_app),
        plan_minimum_s=minimum,
        points_written=written.points_written,
        points_unchanged=written.points_unchanged,
        no_data=stats.outcomes.get("no_data", 0),
        done=stats.outcomes.get("done", 0),
        failed=stats.outcomes.get("failed", 0),
        failures=dict(stats.failures),
        failed_accounts=dict(stats.failed_accounts),
        rejected_metrics=dict(stats.rejected_metrics),
        retries=dict(stats.retries),
        throttled=dict(stats.throttled),
        duration_s=duration,
        ndjson=str(config.output.ndjson) if config.output.ndjson else None,
        sqlite=str(config.output.sqlite),
        event_loop=speed.loop_name(),
        connections=connections,
    )
