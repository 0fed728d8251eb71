"""``ig-collector daemon``: keep every account fresh, unattended, as repeated bounded runs.

:class:`Daemon` loops: decide the next step (:func:`collector.planning.schedule.plan_cycle`),
then call :func:`collector.engine.run.run_once` with the work of that step. It never
collects anything itself; everything durable happens inside a bounded run, so
the exactly-once guarantees of ``run`` hold here too.

- **Refresh runs** re-fetch the fresh dates of the accounts due (every
  ``refresh_interval``) and the lifetime snapshots of those due (every
  ``lifetime_interval``). A changed value updates SQLite and appends an NDJSON
  line; an unchanged one is not written (the writer's rule).
- **History runs** fill ``backfill`` when nothing is due, and stop taking work
  when the next refresh comes due (fresh data first, same budgets).
- **Tokens** are checked with ``debug_token`` at start, daily and after every
  reload; accounts on an invalid token (or code 190) pause until a reload gives them
  another. Instagram Login tokens are refreshed (:mod:`.ig_tokens`), then reloaded.
- **NDJSON** rotates between runs (:mod:`collector.storage.rotation`).
- **Signals** (:meth:`Daemon.request_stop`, :meth:`Daemon.request_reload`):
  SIGTERM/SIGINT stop taking work, let requests in flight finish for
  ``grace_s``, commit and return 0 (a second one cancels at once); SIGHUP
  reloads the config and registry between runs, keeping the old config if the
  new one is bad.
- A ``stats`` event every ``stats_interval`` (:mod:`collector.daemon.stats`).

Schedule times are wall-clock unix seconds from the injected clock; the loop looks again
at least every ``tick_s`` (real) seconds, so a test that moves its clock sees it follow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import structlog

from collector.clock import Clock, SystemClock, wait_until
from collector.config.load import AccountConfig, Config, OutputSettings
from collector.daemon.account_book import AccountBook, dead_tokens
from collector.daemon.controls import Controls
from collector.daemon.ig_tokens import InstagramRefresher
from collector.daemon.leader import Leadership, leadership
from collector.daemon.metrics import ProcessMetrics
from collector.daemon.observed import Observed
from collector.daemon.outputs import (
    QUEUE_LOOK_S,
    OutputHold,
    output_for_run,
    prune_jobs,
    queue_waiting,
    read_state,
)
from collector.daemon.reload import diff_configs, load_reloaded
from collector.daemon.runtime_slot import RuntimeSlot
from collector.daemon.stats import DaemonCounters
from collector.daemon.tokens import check_tokens
from collector.engine.jobs import QueueMode
from collector.engine.run import LiveRun, RunWork, plan_specs, run_once
from collector.engine.runtime import Runtime, Tune
from collector.engine.summary import RunSummary
from collector.graph.pacific import pacific_date
from collector.graph.transport import Transport
from collector.pacing.retry import RetryPolicy
from collector.planning.refresh import HistoryWork, RefreshWork
from collector.planning.schedule import history_blocks, plan_cycle
from collector.tasks import beside

log = structlog.get_logger("collector.daemon.service")

TOKEN_CHECK_INTERVAL_S = 86_400.0  # issue 5: every token at start and daily
_MAX_BACKOFF_S = 300.0
PRUNE_EVERY_S = 3_600.0  # how often the scheduler forgets old finished jobs...
PRUNE_AFTER_S = 86_400.0  # ...once they are a day old


class Daemon(Controls, Observed):
    """The scheduler around ``run_once``; :meth:`run` returns the process exit code.

    ``reload`` loads the config again (SIGHUP; ``None``: reloads are refused);
    ``transport``, ``policy`` and ``tune_budgets`` shape the daemon's one
    :class:`~collector.engine.runtime.Runtime` (tests); ``on_run`` is called
    with each run's kind and summary.

    The runtime lives as long as :meth:`run`: every run and token check sends
    through it, so an app's budget, its last usage reading and every pause
    carry from one run to the next. A reload keeps it (budgets whose settings
    changed start afresh); only a changed ``[graph]`` builds a new one.
    """

    def __init__(
        self,
        config: Config,
        *,
        reload: Callable[[], Config] | None = None,
        clock: Clock | None = None,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        tune_budgets: Tune | None = None,
        tick_s: float = 1.0,
        on_run: Callable[[str, RunSummary], None] | None = None,
    ) -> None:
        super().__init__(config.daemon.grace_s)
        self._config = config
        self._reload_config = reload
        self._clock = clock or SystemClock()
        self._given_transport = transport
        self._policy = policy
        self._tune = tune_budgets
        self.metrics = ProcessMetrics(lag_series_max=config.daemon.lag_series_max)
        self.last_cycle_at: float | None = None
        self._runtime = RuntimeSlot(self._make_runtime, self.metrics)
        self._outputs = OutputHold()  # this daemon is its outputs' one writer
        self._tick = tick_s
        self._on_run = on_run
        self._book = AccountBook()
        self._history_pending = True
        self._history_not_before = 0.0
        self._history_day: dt.date | None = None
        self._token_check_at, self._instagram = 0.0, InstagramRefresher()
        self._prune_at = 0.0
        self._ndjson: Path | None = None  # the file the last run wrote
        self._counters = DaemonCounters()
        self._live: LiveRun | None = None
        self._failures = 0
        self._started = 0.0
        self._lead = Leadership(None, "", self._clock)  # run() makes the real one

    @property
    def paused_accounts(self) -> list[str]:
        """Accounts whose token is dead: no work for them until a reload changes it."""
        return self._book.paused(self._config.accounts)

    async def run(self) -> int:
        """Run until stopped; 0 after a graceful stop."""
        self._main = asyncio.current_task()
        self._started = self._now()
        settings = self._config.daemon
        log.info(
            "daemon_started",
            accounts=len(self._config.accounts),
            refresh_interval_s=settings.refresh_interval_s,
            lookback_days=settings.lookback_days,
            backfill=str(settings.backfill),
        )
        self._outputs.hold(self._config)
        await self._runtime.open(self._config)
        self._lead = leadership(self._config, self._clock, on_change=self.wake)
        try:
            # The stats loop and the leader's lease live exactly as long as the loop of runs.
            await beside(self._loop(), self._background(), name="daemon-background")
        finally:
            log.info("stats", **self.stats())
            await self._runtime.close()
            self._outputs.release()
            log.info("daemon_stopped", runs=self._counters.runs)
        return 0

    async def _background(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._stats_loop(), name="daemon-stats")
            group.create_task(self._lead.run(self._stop), name="daemon-leader")
            group.create_task(self._serve_endpoint(), name="daemon-endpoint")

    async def _loop(self) -> None:
        await self._load_state()
        while not self._stopping:
            await self._step()

    async def _step(self) -> None:
        self._wakeup.clear()
        try:
            await self._next()
            self._failures, self.last_cycle_at = 0, self._now()
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as error:  # a run or check that died: report, back off, go on
            self._failures += 1
            interval = self._config.daemon.refresh_interval_s
            pause = min(_MAX_BACKOFF_S, interval, 5.0 * 2**self._failures)
            log.error("run_failed", error=f"{type(error).__name__}: {error}", retry_in_s=pause)
            await self._sleep_until(self._now() + pause, self._stop)

    async def _next(self) -> None:
        """One step: reload if asked, check tokens if due, then one run or a nap."""
        if self._reload_requested:
            await self._reload()
        if self._now() >= self._token_check_at:
            await self._check_tokens()
        if not self._lead.leading:  # another daemon schedules: work its queue, or nap
            await self._work_queue(self._now() + QUEUE_LOOK_S)
            return
        if self._now() >= self._prune_at:  # the scheduler keeps the job tables small
            self._prune_at = self._now() + PRUNE_EVERY_S
            await prune_jobs(self._config, self._clock, keep_s=PRUNE_AFTER_S)
        today = pacific_date(self._clock.now())
        if today != self._history_day:  # a new day: the newest history block grew
            self._history_day, self._history_pending, self._history_not_before = today, True, 0.0
        settings = self._config.daemon
        cycle = plan_cycle(
            [a.id for a in self._config.accounts],
            now=self._now(),
            refreshed=self._book.refreshed,
            lifetime_done=self._book.lifetime,
            paused=set(self.paused_accounts),
            refresh_interval_s=settings.refresh_interval_s,
            lifetime_interval_s=settings.lifetime_interval_s,
            history_pending=self._history_pending,
            history_not_before=self._history_not_before,
        )
        if cycle.refresh or cycle.lifetime:
            await self._refresh(cycle.refresh, cycle.lifetime)
        elif cycle.history and not await queue_waiting(self._config, self._clock):
            await self._history(cycle.preempt_at)
        else:
            wake = min(x for x in (cycle.wake_at, self._token_check_at) if x is not None)
            # an on-demand `pull` must not wait a cycle: the queue is looked at every 5 s
            await self._work_queue(min(wake, self._now() + QUEUE_LOOK_S))

    async def _work_queue(self, nap_until: float) -> None:
        """Drain what the queue holds (a `pull`, the leader's jobs), else nap till then."""
        if await queue_waiting(self._config, self._clock):
            await self._run(None, list(self._config.accounts), self._stop)
        else:
            await self._sleep_until(nap_until, self._wakeup)

    async def _refresh(self, refresh: tuple[str, ...], lifetime: tuple[str, ...]) -> None:
        started = self._now()
        today = pacific_date(self._clock.now())
        due = set(refresh) | set(lifetime)
        accounts = [a for a in self._config.accounts if a.id in due]
        work = RefreshWork(
            plan_specs(self._config, today),
            today,
            self._config.daemon.lookback_days,
            frozenset(refresh),
            frozenset(lifetime),
            {a.id: a.app for a in accounts},
        )
        await self._run(work, accounts, self._stop)
        self._book.record_run(
            started, refresh=refresh, lifetime=lifetime, succeeded=work.refreshed()
        )

    async def _history(self, preempt_at: float | None) -> None:
        today = pacific_date(self._clock.now())
        settings = self._config.daemon
        blocks = history_blocks(settings.backfill.resolve(today), today, settings.lookback_days)
        paused = set(self.paused_accounts)
        accounts = [a for a in self._config.accounts if a.id not in paused]
        if not blocks or not accounts:
            self._history_pending = False
            return
        work = HistoryWork(
            plan_specs(self._config, today), today, blocks, Counter(a.app for a in accounts)
        )
        stop = self._run_stop = asyncio.Event()
        if self._stopping or self._reload_requested:
            stop.set()
        try:  # the preempt timer lives exactly as long as the run (a TaskGroup)
            run = self._run(work, accounts, stop)
            await beside(run, self._preempt(stop, preempt_at), name="daemon-preempt")
        finally:
            self._run_stop = None
        if stop.is_set():
            return  # stopped for a refresh, a reload or SIGTERM: resumes next time
        if work.failed:
            self._history_not_before = self._now() + settings.refresh_interval_s
            log.warning("history_incomplete", failed=work.failed)
        else:
            self._history_pending = False
            log.info(
                "history_complete", first=blocks[-1][0].isoformat(), last=blocks[0][1].isoformat()
            )

    async def _run(
        self, work: RunWork | None, accounts: list[AccountConfig], stop: asyncio.Event
    ) -> RunSummary:
        """One bounded run of ``work`` for ``accounts``; ``None``: drain the queue's jobs."""
        output = self._output()
        config = dataclasses.replace(self._config, accounts=tuple(accounts), output=output)
        try:
            summary = await run_once(
                config,
                clock=self._clock,
                runtime=self._runtime.live,
                work=work,
                queue=None if work is not None else QueueMode("drain", store_only=False),
                registry=self._config.accounts,
                stop=stop,
                grace_s=self._config.daemon.grace_s,
                watch=self._watch,
            )
        finally:
            self._live = None
        self._ndjson = output.ndjson
        self._counters.add(summary)
        if self._book.mark_dead(dead_tokens(summary.failed_accounts, accounts)):
            self._report_paused()
        if self._on_run is not None:
            self._on_run(work.kind if work is not None else "queue", summary)
        return summary

    def _watch(self, live: LiveRun) -> None:
        self._live = live

    def _output(self) -> OutputSettings:
        today_utc = self._clock.now().astimezone(dt.UTC).date()
        return output_for_run(self._config, self._ndjson, today_utc)

    async def _load_state(self) -> None:
        """Pick the schedule up where the SQLite file left it (a restart refreshes nothing early)."""
        rows, last = await read_state(self._config, self._clock)
        self._book.load(rows)
        self._ndjson = last or self._ndjson

    async def _check_tokens(self) -> None:
        self._token_check_at = self._now() + TOKEN_CHECK_INTERVAL_S
        verdicts = await check_tokens(
            self._config.accounts,
            self._config.apps,
            self._runtime.live.caller.paced,
            now=self._now(),
            warn_days=self._config.daemon.token_warn_days,
        )
        self._book.apply_verdicts(verdicts)
        self._report_paused()
        config, paced = self._config, self._runtime.live.caller.paced
        if await self._instagram.refresh_due(config.accounts, config.apps, paced, self._now()):
            await self._reload()  # the new tokens are in their files: take them

    def _make_runtime(self, config: Config) -> Runtime:
        return Runtime.for_config(
            config,
            self._clock,
            transport=self._given_transport,
            policy=self._policy,
            tune=self._tune,
        )

    def _report_paused(self) -> None:
        paused = self.paused_accounts
        if paused:
            log.warning("accounts_paused", count=len(paused), accounts=paused[:20])

    async def _reload(self) -> None:
        self._reload_requested = False
        new = load_reloaded(self._reload_config, self._outputs.hold)
        if new is None:
            return
        change = diff_configs(self._config, new)
        if change.graph_changed and self._given_transport is None:
            await self._runtime.open(new)  # another API host or version: a new wire
        else:
            self._runtime.live.reconfigure(new, self._tune)
        self._config = new
        self._book.keep_only(new.accounts)
        if change.sqlite_moved:  # another SQLite file: its ledger says how fresh each account is
            self._ndjson = None
            await self._load_state()
        self._history_pending, self._history_not_before = True, 0.0
        log.info(
            "config_reloaded",
            accounts=len(new.accounts),
            added=len(change.added),
            removed=len(change.removed),
            tokens_changed=len(change.tokens_changed),
        )
        await self._check_tokens()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def _sleep_until(self, at: float, event: asyncio.Event) -> None:
        await wait_until(self._clock, at, event, self._tick)

    async def _preempt(self, stop: asyncio.Event, at: float | None) -> None:
        if at is None:
            return
        await self._sleep_until(at, stop)
        if not stop.is_set():
            log.info("history_paused", reason="refresh due")
            stop.set()

    async def _stats_loop(self) -> None:
        while True:
            await self._sleep_until(self._now() + self._config.daemon.stats_interval_s, self._stop)
            if self._stop.is_set():
                return
            log.info("stats", **self.stats())
