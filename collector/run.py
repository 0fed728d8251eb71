"""One bounded run: config -> plan -> pool -> sinks -> summary.

:func:`run_once` is the whole bulk pull; the CLI's ``run`` and ``demo`` call it,
and a daemon calls it on a schedule. It plans lazily, one account at a time:
when an account becomes active its requests are registered ``pending`` in the
ledger and the ones already ``done`` or ``no_data`` are dropped, so re-running
the same command sends only what is unfinished.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from collector.batching import BatchingTransport
from collector.budget_policy import BudgetPolicy
from collector.clock import Clock, SystemClock
from collector.config import Config, resolve_range
from collector.dispatch import AccountRun
from collector.graph import HttpTransport, Transport
from collector.logs import REDACTOR
from collector.pacific import pacific_date
from collector.planner import AccountRef, PlanSpec, count_requests, plan_account
from collector.policy import RetryPolicy
from collector.pool import AppSettings, Pool, RunStats
from collector.store import Store
from collector.summary import Progress, RunSummary
from collector.writer import SinkWriter, WriterStats

log = structlog.get_logger("collector.run")


def plan_spec(config: Config, today: dt.date) -> PlanSpec:
    """The planner's input for ``config`` on the Pacific date ``today``."""
    first, last = resolve_range(config.collect, today)
    return PlanSpec(
        version=config.graph.api_version,
        metrics=config.collect.metrics,
        periods=config.collect.periods,
        first=first,
        last=last,
        today=today,
        timeframes=config.collect.timeframes,
    )


def plan_minimum_seconds(config: Config, spec: PlanSpec) -> dict[str, float]:
    """Per app, the least time its budget allows for the plan: requests / calls per second."""
    per_app: dict[str, int] = {}
    for account in config.accounts:
        per_app[account.app] = per_app.get(account.app, 0) + 1
    counts = count_requests(per_app, spec)
    return {app: counts.get(app, 0) * 3600.0 / config.app(app).calls_per_hour for app in per_app}


@dataclass
class _LedgerSource:
    """Activates accounts for the pool: plan, register pending, drop finished work."""

    store: Store
    spec: PlanSpec
    skipped: int = 0

    async def activate(self, account: AccountRun) -> None:
        requests = list(plan_account(AccountRef(account.id, account.app), self.spec))
        await self.store.register_pending(requests)
        finished = await self.store.finished_keys(account.id)
        todo = [r for r in requests if r.key not in finished]
        self.skipped += len(requests) - len(todo)
        account.requests = iter(todo)


async def run_once(
    config: Config,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    show_progress: bool = True,
    writer_hook: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    deadline_s: float | None = None,
    budget_policy: BudgetPolicy | None = None,
) -> RunSummary:
    """Collect everything ``config`` asks for; returns the run's summary.

    ``transport`` replaces the HTTP client (tests); ``writer_hook`` is the sink
    writer's crash-test seam; ``policy`` replaces the default retry policy;
    past ``deadline_s`` seconds no retry is scheduled (the request fails instead);
    ``budget_policy`` replaces the adaptive budget's defaults (tests scale it to
    the emulator's shortened windows).
    """
    clock = clock or SystemClock()
    REDACTOR.add(a.token for a in config.accounts)
    REDACTOR.add(a.app_secret for a in config.apps if a.app_secret)
    started = time.monotonic()
    today = pacific_date(clock.now())
    spec = plan_spec(config, today)
    minimum = plan_minimum_seconds(config, spec)
    planned = sum(count_requests(_accounts_per_app(config), spec).values())
    log.info(
        "run_started",
        accounts=len(config.accounts),
        planned=planned,
        first=spec.first.isoformat(),
        last=spec.last.isoformat(),
        api_version=spec.version,
    )
    sqlite = Path(config.output.sqlite)
    ndjson = Path(config.output.ndjson) if config.output.ndjson else None
    for path in (sqlite, ndjson):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    store = await Store.open(sqlite, clock=clock)
    try:
        writer = SinkWriter(store, ndjson, clock, stage_hook=writer_hook)
        await writer.start()
        source = _LedgerSource(store, spec)
        progress = Progress(planned) if show_progress else None
        own_transport = transport is None
        http = transport or HttpTransport(
            config.graph.base_url,
            config.graph.api_version,
            timeout_s=config.graph.timeout_s,
            token_in=config.graph.token_in,
            pool_size=config.graph.concurrency,
        )
        wire: Transport = http
        if config.graph.batch_size > 1 and isinstance(http, HttpTransport):
            # Batch mode (SPEC 7): requests in flight together share one POST.
            wire = BatchingTransport(http, batch_size=config.graph.batch_size, clock=clock)
        try:
            if isinstance(http, HttpTransport):
                await http.start()
            pool = Pool(
                transport=wire,
                emit=writer.put,
                source=source,
                apps={
                    app.name: AppSettings(
                        app.name, app.calls_per_hour, app.concurrency, app.app_secret
                    )
                    for app in config.apps
                },
                accounts=_account_runs(config),
                clock=clock,
                version=config.graph.api_version,
                concurrency=config.graph.concurrency,
                policy=policy,
                deadline_s=deadline_s,
                budget_policy=budget_policy,
                progress=_progress_hook(progress, source) if progress else None,
            )
            stats = await pool.run()
        finally:
            if isinstance(wire, BatchingTransport):
                await wire.close()
            if own_transport and isinstance(http, HttpTransport):
                await http.close()
            if progress:
                progress.close()
        await writer.close()
        written = writer.stats
    finally:
        await store.close()
    summary = _summary(
        stats, planned, source.skipped, minimum, written, time.monotonic() - started, config
    )
    log.info("run_summary", **summary.event_fields())
    return summary


def _accounts_per_app(config: Config) -> dict[str, int]:
    counts: dict[str, int] = {}
    for account in config.accounts:
        counts[account.app] = counts.get(account.app, 0) + 1
    return counts


def _account_runs(config: Config) -> dict[str, Callable[[], Iterator[AccountRun]]]:
    def runs(app: str) -> Callable[[], Iterator[AccountRun]]:
        def generate() -> Iterator[AccountRun]:
            for account in config.accounts:
                if account.app == app:
                    yield AccountRun(account.id, account.app, account.token, account.label)

        return generate

    return {app.name: runs(app.name) for app in config.apps}


def _progress_hook(progress: Progress, source: _LedgerSource) -> Callable[[RunStats], None]:
    def update(stats: RunStats) -> None:
        finished = sum(stats.outcomes.values()) + source.skipped
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
    )
