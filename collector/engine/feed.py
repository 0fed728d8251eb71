"""A worker's side of the queue: claim requests, feed them to the pool, keep the leases.

A :class:`ClaimFeed` stands between the shared queue
(:class:`~collector.storage.queue.WorkQueue`) and one process's
:class:`~collector.engine.pool.Pool`:

- it claims a few requests at a time, per app, whenever fewer than
  ``low_water`` of that app's claims are outstanding (claimed, not yet
  answered), and hands them to the app's lane as accounts with requests;
- it renews its leases every third of the lease, so a slow request or a long
  budget wait never loses its claim, while a killed process's claims come
  free within one lease;
- its :attr:`fence` (owner and lease tokens) goes to the sink writer, which
  drops an outcome whose claim another worker took meanwhile;
- it closes when ``stop`` is set, or, for a bounded run, when ``finished()``
  says the run's job has nothing left. What it claimed and never answered is
  given back by the run once its writer has closed (``WorkQueue.release_all``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import structlog

from collector.clock import Clock, wait_event
from collector.engine.dispatch import AccountRun
from collector.model.outcome import Outcome
from collector.model.records import rfc3339
from collector.planning.planner import PlannedRequest
from collector.planning.queued import from_claim
from collector.storage.protocol import PointChanges
from collector.storage.queue import Claim, Fence, WorkerInfo, WorkQueue

log = structlog.get_logger("collector.engine.feed")

__all__ = ["ClaimFeed", "FeedAccount", "FeedSettings"]


@dataclass(frozen=True, slots=True)
class FeedAccount:
    """What the feed needs of a registry account to send its claims."""

    id: str
    app: str
    token: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """How a worker claims: per app, claim when fewer than ``low_water`` are outstanding,
    up to ``high_water``; leases of ``lease_s``; an empty queue is asked again after
    ``poll_s``."""

    low_water: Mapping[str, int]
    high_water: Mapping[str, int]
    lease_s: float = 60.0
    poll_s: float = 1.0


class ClaimFeed:
    """Claims for one process's pool (see the module docstring).

    Also the pool's :class:`~collector.engine.dispatch.AccountSource`: the
    accounts it hands out already hold their requests.
    """

    def __init__(
        self,
        queue: WorkQueue,
        owner: str,
        accounts: Mapping[str, FeedAccount],
        settings: FeedSettings,
        clock: Clock,
        *,
        finished: Callable[[], Awaitable[bool]] | None = None,
        stop: asyncio.Event | None = None,
        role: str = "worker",
    ) -> None:
        self._queue = queue
        self._accounts = accounts
        self._settings = settings
        self._clock = clock
        self._finished = finished
        self._stop = stop or asyncio.Event()
        self._tokens: dict[str, int] = {}  # claimed key -> lease token, until committed
        self.fence = Fence(owner, self._tokens)
        self._ready: dict[str, deque[AccountRun]] = defaultdict(deque)
        # account id -> its run still taking requests, and that run's unsent requests
        self._open_runs: dict[str, tuple[AccountRun, deque[PlannedRequest]]] = {}
        self._outstanding: dict[str, int] = defaultdict(int)  # per app: claimed, not answered
        self._changed = asyncio.Event()
        self._open = True
        self._wake: Callable[[], None] = lambda: None
        self._idle_hook: Callable[[], None] = lambda: None
        self.unknown: set[str] = set()
        self._me = WorkerInfo(
            owner, socket.gethostname(), os.getpid(), role, rfc3339(clock.now()), ""
        )

    # -- the pool's side -------------------------------------------------------------

    def is_open(self) -> bool:
        """Whether the lanes should wait for more accounts when none is ready."""
        return self._open

    def lane_accounts(self, app: str) -> Callable[[], Iterator[AccountRun]]:
        """The lane's account iterator for ``app``, as :class:`Pool` takes it (a factory).

        It yields the accounts ready now and never blocks; running dry means
        "none ready now" while :meth:`is_open`, and it yields again after a claim.
        """
        return lambda: _Reopening(self, app)

    async def activate(self, account: AccountRun) -> None:
        """Nothing to do: a fed account already holds its requests."""

    def answered(self, outcome: Outcome) -> None:
        """A claimed request has its outcome (it goes to the writer next)."""
        self._outstanding[outcome.app] -= 1
        if self._outstanding[outcome.app] < self._settings.low_water.get(outcome.app, 0):
            self._changed.set()  # time to claim more

    def on_idle(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` whenever the last outstanding claim has its outcome queued."""
        self._idle_hook = hook

    def queued(self) -> None:
        """The outcome :meth:`answered` saw is now queued for the writer."""
        if self._idle():
            self._idle_hook()  # commit now: a bounded run may be waiting for it

    def committed(self, outcomes: Sequence[Outcome], changes: PointChanges) -> None:
        """The writer committed (or fenced) ``outcomes``: their claims are over."""
        for outcome in outcomes:
            self._tokens.pop(outcome.key, None)
        if self._idle():
            self._changed.set()  # a bounded run may be finished now

    def _idle(self) -> bool:
        return not any(self._outstanding.values())

    def attach(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` when accounts are ready or the feed closes (the pool's wake)."""
        self._wake = wake

    # -- the feeding loop ------------------------------------------------------------

    async def run(self) -> None:
        """Claim, renew and poll until stopped or finished (the run gives back what is left)."""
        settings = self._settings
        renew_every = settings.lease_s / 3
        next_renewal = self._clock.monotonic() + renew_every
        await self._queue.heartbeat(self._me)
        await self._recover_dead_claims()
        try:
            while not self._stop.is_set():
                got = await self._claim_round()
                if self._clock.monotonic() >= next_renewal:
                    await self._renew()
                    await self._queue.heartbeat(self._me)
                    next_renewal = self._clock.monotonic() + renew_every
                if got:
                    continue
                if self._finished is not None and self._idle() and await self._finished():
                    break
                self._changed.clear()
                wait = min(settings.poll_s, max(0.0, next_renewal - self._clock.monotonic()))
                await wait_event(self._clock, self._changed, wait)
        finally:
            self._open = False
            self._wake()
            await self._queue.forget_worker(self._me.id)

    async def _claim_round(self) -> int:
        """Claim for every app under its low water; returns how many rows were claimed."""
        got = 0
        for app, low in self._settings.low_water.items():
            outstanding = self._outstanding[app]
            if outstanding >= low:
                continue
            limit = self._settings.high_water[app] - outstanding
            claims = await self._queue.claim(
                self.fence.owner, (app,), limit, self._settings.lease_s
            )
            for claim in claims:
                self._add(claim)
            got += len(claims)
        if got:
            self._wake()
        return got

    def _add(self, claim: Claim) -> None:
        account = self._accounts.get(claim.account_id)
        if account is None or account.app != claim.app:
            # Not in this worker's registry: leave it leased; it comes free for a
            # worker that knows the account when the lease runs out.
            if claim.account_id not in self.unknown:
                self.unknown.add(claim.account_id)
                log.warning("claim_unknown_account", account=claim.account_id, app=claim.app)
            return
        self._tokens[claim.key] = claim.token
        self._outstanding[claim.app] += 1
        current = self._open_runs.get(account.id)
        if current is None or current[0].exhausted:
            run = AccountRun(account.id, account.app, account.token, account.label)
            current = (run, deque())
            run.requests = self._drain(current[1])
            self._open_runs[account.id] = current
            self._ready[account.app].append(run)
        current[1].append(from_claim(claim))

    def _drain(self, pending: deque[PlannedRequest]) -> Iterator[PlannedRequest]:
        """An account's requests as they are claimed; ends when none is left (or stopped)."""
        while pending and not self._stop.is_set():
            yield pending.popleft()

    async def _recover_dead_claims(self) -> None:
        """Free at once the claims of this host's processes that are gone (a SIGKILLed run).

        A lease owner is ``host:pid:tag``; on our own host a pid that no longer
        runs cannot commit, so its claims need not wait for their lease to end.
        Other hosts' claims always wait for their lease.
        """
        for owner in await self._queue.lease_owners():
            host, _, rest = owner.partition(":")
            pid_text = rest.partition(":")[0]
            if host != self._me.host or not pid_text.isdigit() or owner == self._me.id:
                continue
            if not _alive(int(pid_text)):
                freed = await self._queue.release_all(owner)
                log.info("claims_recovered", owner=owner, claims=freed)

    async def _renew(self) -> None:
        keys = list(self._tokens)
        if keys:
            renewed = await self._queue.renew(self.fence.owner, keys, self._settings.lease_s)
            log.debug("leases_renewed", claims=len(keys), renewed=renewed)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (signal 0 probes without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Reopening:
    """A lane's account iterator that may yield again after it ran dry (the feed refilled)."""

    def __init__(self, feed: ClaimFeed, app: str) -> None:
        self._feed = feed
        self._app = app

    def __iter__(self) -> _Reopening:
        return self

    def __next__(self) -> AccountRun:
        ready = self._feed._ready[self._app]
        if not ready:
            raise StopIteration
        return ready.popleft()
