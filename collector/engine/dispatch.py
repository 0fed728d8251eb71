"""Which request goes next: one lane per app, accounts served round robin.

A :class:`Lane` hands its app's workers one :class:`Job` at a time. Fairness and
isolation live here, in one place:

- accounts are taken lazily from the registry, at most ``max_active`` at once,
  and their plans are generated lazily (the whole run is never in memory);
- active accounts are served round robin, each with at most
  ``per_account`` requests in flight, so one slow account holds at most that
  many workers and never stalls the rest;
- a request to retry waits in a heap until its time, without holding a worker;
- a paused account, token or app is skipped until its pause ends;
- an account whose token died or whose permission was withdrawn is drained: its
  remaining requests become ``failed`` outcomes without being sent.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from collector.clock import Clock, wait_event
from collector.model.outcome import Outcome
from collector.planning.planner import PlannedRequest


@dataclass(slots=True)
class AccountRun:
    """An account while it is being collected."""

    id: str
    app: str
    token: str = field(repr=False)
    label: str = ""
    requests: Iterator[PlannedRequest] = field(default_factory=lambda: iter(()))
    in_flight: int = 0
    retrying: int = 0
    paused_until: float = 0.0
    stopped: str | None = None  # why the rest of its requests will not be sent
    exhausted: bool = False


@dataclass(slots=True)
class Job:
    """One planned request on its way, with what its attempts taught so far."""

    request: PlannedRequest
    account: AccountRun
    attempts: int = 0
    throttle_waits: int = 0
    not_before: float = 0.0
    regain_s: float | None = None  # Meta's announced wait, from the last answer's headers


class AccountSource(Protocol):
    """Where a lane's accounts come from."""

    async def activate(self, account: AccountRun) -> None:
        """Fill ``account.requests`` with its unfinished planned requests, lazily."""
        ...


class Lane:
    """One app's queue of work. ``next_job`` returns ``None`` once all is done."""

    def __init__(
        self,
        app: str,
        accounts: Iterator[AccountRun],
        source: AccountSource,
        emit: Callable[[Outcome], Awaitable[None]],
        clock: Clock,
        *,
        max_active: int = 64,
        per_account: int = 4,
        token_stopped: Callable[[str], str | None] = lambda _token: None,
        paused_until: Callable[[AccountRun], float] = lambda _account: 0.0,
        on_account_done: Callable[[AccountRun], None] = lambda _account: None,
        feed_open: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self._accounts = accounts
        self._source = source
        self._emit = emit
        self._clock = clock
        self._max_active = max_active
        self._per_account = per_account
        self._token_stopped = token_stopped
        self._paused_until = paused_until
        self._on_account_done = on_account_done
        # True while ``accounts`` may yield more later (a queue worker's claims): an
        # exhausted iterator then means "nothing yet", and the lane waits for wake().
        self._feed_open = feed_open
        self._active: deque[AccountRun] = deque()
        self._more_accounts = True
        self._retries: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._changed = asyncio.Event()
        self._activating = asyncio.Lock()

    # -- signals from the workers -------------------------------------------------

    def finished(self, job: Job) -> None:
        """``job`` left a worker for good (its outcome is being written)."""
        job.account.in_flight -= 1
        self._in_flight -= 1
        self._wake()

    def retry_later(self, job: Job, delay_s: float) -> None:
        """Put ``job`` back, to be handed out again after ``delay_s``."""
        job.account.in_flight -= 1
        job.account.retrying += 1
        self._in_flight -= 1
        job.not_before = self._clock.monotonic() + max(0.0, delay_s)
        heapq.heappush(self._retries, (job.not_before, next(self._seq), job))
        self._wake()

    def wake(self) -> None:
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- handing out work -----------------------------------------------------------

    async def next_job(self) -> Job | None:
        """The next request to send, waiting while everything is paused or busy."""
        while True:
            changed = self._changed
            now = self._clock.monotonic()
            job = self._due_retry(now)
            if job is not None:
                return self._hand_out(job)
            starved = await self._fill()
            job, wake_at = await self._round_robin(now)
            if job is not None:
                return self._hand_out(job)
            if self._retries:
                top = self._retries[0][0]
                wake_at = top if wake_at is None else min(wake_at, top)
            if self._done():
                self._wake()  # release the other workers waiting on this lane
                return None
            if self._more_accounts and len(self._active) < self._max_active and not starved:
                # The pass retired accounts: activate the next ones now. Waiting
                # instead would hang when nothing is left in flight to wake us.
                continue
            await self._wait(changed, None if wake_at is None else wake_at - now)

    def _hand_out(self, job: Job) -> Job:
        job.account.in_flight += 1
        self._in_flight += 1
        return job

    def _done(self) -> bool:
        return (
            not self._active
            and not self._more_accounts
            and not self._retries
            and self._in_flight == 0
        )

    def _due_retry(self, now: float) -> Job | None:
        """The earliest retry that is due and whose account may send now."""
        skipped: list[tuple[float, int, Job]] = []
        found: Job | None = None
        while self._retries and self._retries[0][0] <= now:
            entry = heapq.heappop(self._retries)
            job = entry[2]
            ready = max(job.account.paused_until, self._paused_until(job.account))
            if ready > now:
                skipped.append((ready, entry[1], job))
                continue
            job.account.retrying -= 1
            found = job
            break
        for entry in skipped:
            heapq.heappush(self._retries, entry)
        return found

    async def _fill(self) -> bool:
        """Activate accounts up to ``max_active``; ``True`` when an open feed had none yet."""
        async with self._activating:
            while self._more_accounts and len(self._active) < self._max_active:
                account = next(self._accounts, None)
                if account is None:
                    if self._feed_open():
                        return True
                    self._more_accounts = False
                    break
                await self._source.activate(account)
                self._active.append(account)
        return False

    async def _round_robin(self, now: float) -> tuple[Job | None, float | None]:
        """One pass over the active accounts; the job found, or when to look again."""
        wake_at: float | None = None
        for _ in range(len(self._active)):
            if not self._active:
                break
            account = self._active[0]
            self._active.rotate(-1)
            stopped = account.stopped or self._token_stopped(account.token)
            if stopped:
                account.stopped = stopped
                await self._drain(account)
                self._retire_if_finished(account)
                continue
            ready = max(account.paused_until, self._paused_until(account))
            if ready > now:
                wake_at = ready if wake_at is None else min(wake_at, ready)
                continue
            if account.in_flight >= self._per_account or account.exhausted:
                self._retire_if_finished(account)
                continue
            request = next(account.requests, None)
            if request is None:
                account.exhausted = True
                self._retire_if_finished(account)
                continue
            return Job(request, account), None
        return None, wake_at

    def _retire_if_finished(self, account: AccountRun) -> None:
        if account.exhausted and account.in_flight == 0 and not account.retrying:
            try:
                self._active.remove(account)
            except ValueError:
                return
            self._on_account_done(account)

    async def _drain(self, account: AccountRun) -> None:
        """Fail every unsent request of a stopped account, retries included."""
        reason = account.stopped or "stopped"
        for request in account.requests:
            await self._emit(failed_outcome(request, reason, attempts=0))
        account.exhausted = True
        # Take this account's retries out of the heap before the first await: other
        # workers pop and push it while the sink makes us wait.
        mine = [entry[2] for entry in self._retries if entry[2].account is account]
        if mine:
            self._retries = [entry for entry in self._retries if entry[2].account is not account]
            heapq.heapify(self._retries)
            account.retrying -= len(mine)
        for job in mine:
            await self._emit(failed_outcome(job.request, reason, attempts=job.attempts))

    async def _wait(self, changed: asyncio.Event, timeout: float | None) -> None:
        await wait_event(self._clock, changed, timeout)


def failed_outcome(request: PlannedRequest, reason: str, *, attempts: int) -> Outcome:
    """The outcome of a request given up on (or never sent) for ``reason``."""
    window = request.window
    return Outcome(
        key=request.key,
        account_id=request.account_id,
        app=request.app,
        metrics=request.metrics,
        period=request.period,
        since=window.since if window else None,
        until=window.until if window else None,
        state="failed",
        rows=(),
        attempts=attempts,
        reason=reason,
    )
