"""The worker pool: sends planned requests under the apps' budgets, retries, isolates.

Each app has its own workers (its ``concurrency``), fed by its :class:`Lane`. Every
attempt goes through the process's :class:`~collector.engine.caller.Caller`: the
app's budget, the in-flight bound, the usage headers; a worker waiting for its
app's budget holds no in-flight slot, so a spent app never slows another. What
follows a failure is :meth:`Caller.react`, the same reaction the library has.

Every request ends as exactly one :class:`~collector.model.outcome.Outcome` handed to
the sink (``done`` with points, ``no_data``, or ``failed`` with a reason); the
ledger and the data are committed together by the writer.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import structlog

from collector.clock import Clock
from collector.engine.caller import Caller, Target
from collector.engine.dispatch import AccountRun, AccountSource, Job, Lane, failed_outcome
from collector.engine.observe import outcome_of
from collector.errors import GraphError, InvalidRequest, Scope, TokenInvalid
from collector.graph.pacific import pacific_midnight, planned_end_times
from collector.graph.parse import fetched_now, rows_from_body
from collector.graph.transport import GraphRequest
from collector.logs import token_fingerprint
from collector.model.outcome import Outcome, OutcomeState
from collector.model.rows import NO_END_TIME, PointRow
from collector.pacing.budgets import HeaderLesson
from collector.pacing.retry import Action
from collector.planning.planner import PlannedRequest

log = structlog.get_logger("collector.engine.pool")


@dataclass(frozen=True)
class AppSettings:
    """What the pool needs to know of an app."""

    name: str
    concurrency: int
    app_secret: str | None = field(default=None, repr=False)
    version: str | None = None  # None: the run's version
    base_url: str | None = None  # None: the transport's (an Instagram Login app's host)


@dataclass
class RunStats:
    """What happened in a run, for the summary."""

    planned: int = 0
    calls_by_app: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    failed_accounts: dict[str, str] = field(default_factory=dict)
    rejected_metrics: dict[str, str] = field(default_factory=dict)  # "account:metric" -> why
    accounts_done: int = 0
    dead_tokens: int = 0

    @property
    def calls(self) -> int:
        return sum(self.calls_by_app.values())


class Pool:
    """Runs every lane to completion; one instance per run."""

    def __init__(
        self,
        *,
        caller: Caller,
        emit: Callable[[Outcome], Awaitable[None]],
        source: AccountSource,
        apps: Mapping[str, AppSettings],
        accounts: Mapping[str, Callable[[], Iterator[AccountRun]]],
        clock: Clock,
        version: str,
        per_account: int = 4,
        seed: int | None = None,
        progress: Callable[[RunStats], None] | None = None,
        deadline_s: float | None = None,
        feed_open: Callable[[], bool] = lambda: False,
    ) -> None:
        self._caller = caller
        self._emit_sink = emit
        self._apps = apps
        self._clock = clock
        self._version = version
        self._rng = random.Random(seed)
        self._dead_tokens: dict[str, str] = {}
        self._rejected: dict[str, dict[str, str]] = {}  # account -> metric -> why
        self._progress = progress
        # Past the deadline no retry is scheduled: the request fails and the run ends.
        self._deadline = None if deadline_s is None else clock.monotonic() + deadline_s
        self.stats = RunStats()
        self._lanes = {
            name: Lane(
                name,
                accounts[name](),
                source,
                self._emit,
                clock,
                max_active=max(8, 2 * app.concurrency),
                per_account=per_account,
                token_stopped=self._dead_tokens.get,
                paused_until=lambda a: caller.pacing.paused_until(a.id, a.token),
                on_account_done=self._account_done,
                feed_open=feed_open,
            )
            for name, app in apps.items()
            if name in accounts
        }

    async def run(self) -> RunStats:
        """Collect everything; returns when every lane is empty and idle."""
        # A TaskGroup: on a cancel or a worker's error every worker is cancelled
        # and awaited before this returns, so nothing keeps sending after a run.
        async with asyncio.TaskGroup() as group:
            for name, lane in self._lanes.items():
                for i in range(max(1, self._apps[name].concurrency)):
                    group.create_task(
                        self._worker(lane, self._apps[name]), name=f"worker-{name}-{i}"
                    )
        return self.stats

    def wake(self) -> None:
        """Tell every lane to look for work again (a feed has new accounts, or closed)."""
        for lane in self._lanes.values():
            lane.wake()

    async def _emit(self, outcome: Outcome) -> None:
        self.stats.outcomes[outcome.state] += 1
        if outcome.state == "failed":
            self.stats.failures[outcome.reason or "unknown"] += 1
        await self._emit_sink(outcome)
        if self._progress is not None:
            self._progress(self.stats)

    def _account_done(self, account: AccountRun) -> None:
        self.stats.accounts_done += 1
        if account.stopped:
            self.stats.failed_accounts[account.id] = account.stopped
        log.debug("account_done", account=account.id, app=account.app, stopped=account.stopped)

    async def _worker(self, lane: Lane, app: AppSettings) -> None:
        while (job := await lane.next_job()) is not None:
            outcome = await self._attempt(job, lane, app)
            if outcome is None:
                continue  # queued for a retry
            lane.finished(job)
            await self._emit(outcome)

    async def _attempt(self, job: Job, lane: Lane, app: AppSettings) -> Outcome | None:
        """Send ``job`` once; its outcome, or ``None`` when it went back for a retry."""
        request = job.request
        account = job.account
        stopped = account.stopped or self._dead_tokens.get(account.token)
        if stopped:
            return failed_outcome(request, stopped, attempts=job.attempts)
        rejected = self._rejected.get(account.id, {})
        metrics = tuple(m for m in request.metrics if m not in rejected)
        with structlog.contextvars.bound_contextvars(
            account=account.id, app=app.name, window=_window_text(request)
        ):
            try:
                points = await self._collect(job, app, metrics) if metrics else []
            except GraphError as error:
                return self._on_error(job, lane, error)
            log.debug("request_done", metrics=",".join(metrics), points=len(points))
        refused = [m for m in request.metrics if m in self._rejected.get(account.id, {})]
        state: OutcomeState = "done" if points else "no_data"
        if not points and len(refused) == len(request.metrics):
            state = "failed"
        return Outcome(
            key=request.key,
            account_id=request.account_id,
            app=request.app,
            metrics=request.metrics,
            period=request.period,
            since=request.window.since if request.window else None,
            until=request.window.until if request.window else None,
            state=state,
            rows=tuple(points),
            attempts=job.attempts,
            reason=f"metric_rejected: {','.join(refused)}" if refused else None,
        )

    async def _collect(
        self, job: Job, app: AppSettings, metrics: tuple[str, ...]
    ) -> list[PointRow]:
        """The points of ``metrics``, isolating any metric the API rejects.

        Meta: one bad metric fails the whole request (code 100). A rejected
        request of several metrics is split in halves until each rejected metric
        stands alone; it is then marked unsupported for this account (and this
        run's API version) and the others are collected. Other errors propagate.
        """
        try:
            return await self._send(job, app, metrics)
        except InvalidRequest as error:
            # split in halves (each goes again), or this one metric is given up
            self._caller.observer.answered(app.name, "failed" if len(metrics) == 1 else "retried")
            if len(metrics) == 1:
                self._reject(job.account, metrics[0], error)
                return []
            half = len(metrics) // 2
            first = await self._collect(job, app, metrics[:half])
            return first + await self._collect(job, app, metrics[half:])

    async def _send(self, job: Job, app: AppSettings, metrics: tuple[str, ...]) -> list[PointRow]:
        """One call for ``metrics`` of ``job``'s request, through the caller."""

        def sent() -> None:
            job.attempts += 1
            self.stats.calls_by_app[app.name] += 1

        request = self._graph_request(job.request, metrics, job.account, app)
        job.regain_s = None
        body = await self._caller.send(
            _target(job), request, on_send=sent, on_headers=lambda seen: self._learn(app, job, seen)
        )
        fetched_at = fetched_now(self._clock.now())
        return _points(job.request, metrics, body, app.version or self._version, fetched_at)

    def _learn(self, app: AppSettings, job: Job, seen: HeaderLesson) -> None:
        """Keep what the answer's usage headers said, for the retry and the summary."""
        job.regain_s = seen.regain_s
        if seen.regain_s is not None and seen.account_wait_s > 0:
            self.stats.throttled["account"] += 1
            log.warning("budget_paused", scope="account", pause_s=round(seen.regain_s, 1))

    def _reject(self, account: AccountRun, metric: str, error: InvalidRequest) -> None:
        self._rejected.setdefault(account.id, {})[metric] = str(error)
        self.stats.rejected_metrics[f"{account.id}:{metric}"] = str(error)
        log.error("metric_rejected", metric=metric, detail=str(error))

    def _graph_request(
        self,
        request: PlannedRequest,
        metrics: tuple[str, ...],
        account: AccountRun,
        app: AppSettings,
    ) -> GraphRequest:
        params: list[tuple[str, str]] = [
            ("metric", ",".join(metrics)),
            ("period", request.period),
        ]
        if request.window is not None:
            params.append(("since", str(request.window.since)))
            params.append(("until", str(request.window.until)))
        params.extend(request.params)
        return GraphRequest(
            f"{request.account_id}/insights",
            tuple(params),
            account.token,
            app.app_secret,
            app.version,
            app.base_url,
        )

    def _on_error(self, job: Job, lane: Lane, error: GraphError) -> Outcome | None:
        account = job.account
        decision = self._caller.react(
            error,
            _target(job),
            attempts=job.attempts,
            throttle_waits=job.throttle_waits,
            draw=self._rng.random(),
            regain_s=job.regain_s,
        )
        fields = {"error": error.reason, "detail": str(error), "attempt": job.attempts}
        past_deadline = (
            decision.action is Action.RETRY
            and self._deadline is not None
            and self._clock.monotonic() + decision.delay_s > self._deadline
        )
        self._caller.observer.answered(
            account.app, "failed" if past_deadline else outcome_of(decision)
        )
        if past_deadline:
            log.warning("request_failed", reason="deadline", **fields)
            return failed_outcome(job.request, f"deadline ({error.reason})", attempts=job.attempts)
        if decision.action is Action.RETRY:
            self.stats.retries[error.reason] += 1
            if decision.scope is not Scope.REQUEST:
                job.throttle_waits += 1
                self.stats.throttled[decision.scope.value] += 1
            lane.retry_later(job, decision.delay_s)
            return None
        if isinstance(error, TokenInvalid) or decision.scope is Scope.TOKEN:
            if account.token not in self._dead_tokens:
                self._dead_tokens[account.token] = error.reason
                self.stats.dead_tokens += 1
                log.error("token_invalid", token=token_fingerprint(account.token), **fields)
            for other in self._lanes.values():
                other.wake()
        elif decision.scope is Scope.ACCOUNT:
            if account.stopped is None:
                account.stopped = error.reason
                log.error("account_stopped", **fields)
        else:
            log.warning("request_failed", metrics=",".join(job.request.metrics), **fields)
        return failed_outcome(job.request, error.reason, attempts=job.attempts)


def _target(job: Job) -> Target:
    account = job.account
    return Target(account.app, account.id, account.token)


def _window_text(request: PlannedRequest) -> str:
    window = request.window
    if window is None:
        return "lifetime"
    return f"{window.first.isoformat()}..{window.last.isoformat()}"


def _points(
    request: PlannedRequest,
    metrics: tuple[str, ...],
    body: object,
    version: str,
    fetched_at: str,
) -> list[PointRow]:
    window = request.window
    end_times: frozenset[int] | None = None
    total_end = NO_END_TIME
    if window is not None:
        end_times = planned_end_times(window.first, window.last)
        if window.first == window.last:
            total_end = pacific_midnight(window.first)
    return rows_from_body(
        body,
        account_id=request.account_id,
        metrics=set(metrics),
        api_version=version,
        fetched_at=fetched_at,
        end_times=end_times,
        total_end_ts=total_end,
    )
