"""The one call path: every Graph request of the pool, the library and the token checks.

:meth:`Caller.send` is one attempt: it takes the app's budget
(:class:`~collector.pacing.budgets.AppBudget`), a slot of the process-wide
in-flight bound, sends, reads both usage headers
(:class:`~collector.pacing.budgets.HeaderReader`) and settles the budget with
what the answer said. :meth:`Caller.react` is what follows a failed attempt: the
retry policy's decision (:func:`~collector.pacing.retry.decide`), with the pause
it names applied to the token or the account; an app-wide throttle is the
budget's own business (it probes its way back), so the request is simply sent
again and waits at the budget.

The state all this reads lives in :class:`Pacing`, one per process: budgets,
header readings, token and account pauses outlive a bounded run, so a daemon's
next run starts where the last one left off.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from collector.clock import Clock
from collector.engine.observe import NO_OBSERVER, CallObserver, Outcome, outcome_of
from collector.errors import GraphError, Scope, Throttled
from collector.graph.transport import GraphRequest, GraphResponse, Transport, checked_body
from collector.logs import token_fingerprint
from collector.pacing.budgets import AppBudget, HeaderLesson, HeaderReader, Ticket
from collector.pacing.retry import Action, Decision, RetryPolicy, decide
from collector.pacing.settings import BudgetSettings
from collector.pacing.shared import SlotSource

log = structlog.get_logger("collector.engine.caller")

T = TypeVar("T")
_NO_BODY = object()  # `call`: no answer's body yet


@dataclass(frozen=True, slots=True)
class Target:
    """Who a call is for: the app whose budget pays, the account, the token (hidden)."""

    app: str
    account_id: str
    token: str = field(repr=False)


class Pacing:
    """A process's pacing state: one budget per app, the header reader, pauses.

    Token pauses are keyed by the token's fingerprint, so this state holds no
    extra copy of a secret. Account pauses join the header reader's business-id
    pauses (every account a business id covers waits with it).
    """

    def __init__(self, settings: Mapping[str, BudgetSettings], clock: Clock) -> None:
        self._clock = clock
        self._settings = dict(settings)
        self.budgets: dict[str, AppBudget] = {
            name: AppBudget(name, s, clock) for name, s in settings.items()
        }
        self.headers = HeaderReader(self._settings, clock)
        self._token_until: dict[str, float] = {}
        self._account_until: dict[str, float] = {}

    def share(self, source: SlotSource | None) -> None:
        """Every app's budget draws from ``source``'s shared schedules (``None``: stop)."""
        for budget in self.budgets.values():
            budget.share(source)

    def budget(self, app: str) -> AppBudget:
        """The budget of ``app``; raises ``KeyError`` for an app it was not given."""
        return self.budgets[app]

    def configure(self, settings: Mapping[str, BudgetSettings]) -> None:
        """Take a reloaded config's budgets: an app whose settings are unchanged keeps
        its budget (and what it learned); a changed or new one starts afresh."""
        for name, new in settings.items():
            if self._settings.get(name) != new:
                self.budgets[name] = AppBudget(name, new, self._clock)
                self._settings[name] = new

    def pause(self, scope: Scope, target: Target, seconds: float) -> None:
        """Hold ``target``'s token or account for ``seconds`` (the longer pause wins)."""
        until = self._clock.monotonic() + max(0.0, seconds)
        if scope is Scope.TOKEN:
            key = token_fingerprint(target.token)
            self._token_until[key] = max(self._token_until.get(key, 0.0), until)
        elif scope is Scope.ACCOUNT:
            key = target.account_id
            self._account_until[key] = max(self._account_until.get(key, 0.0), until)

    def paused_until(self, account_id: str, token: str) -> float:
        """Monotonic time before which this account (on this token) must not send; 0: free."""
        return max(
            self._account_until.get(account_id, 0.0),
            self._token_until.get(token_fingerprint(token), 0.0),
            self.headers.account_paused_until(account_id),
        )


class Caller:
    """Sends one attempt at a time under the pacing; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        pacing: Pacing,
        clock: Clock,
        *,
        concurrency: int,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.transport = transport
        self.pacing = pacing
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.observer: CallObserver = NO_OBSERVER  # a watcher of every attempt (metrics)

    async def send(
        self,
        target: Target,
        request: GraphRequest,
        on_send: Callable[[], None] | None = None,
        on_headers: Callable[[HeaderLesson], None] | None = None,
    ) -> Any:
        """One attempt: the parsed body of the answer.

        Waits for the app's budget, then for an in-flight slot (a worker waiting
        for a spent budget holds no slot). ``on_send`` is called just before the
        request goes on the wire; ``on_headers`` with what the answer's usage
        headers said, error or not. Raises the typed :class:`GraphError` of a
        failed answer; the budget is settled with every answer and released
        when none came.
        """
        budget = self.pacing.budget(target.app)
        ticket = await self._acquire(budget)
        try:
            async with self._slots:
                if on_send is not None:
                    on_send()
                response: GraphResponse = await self._timed(target.app, request)
        except BaseException:
            budget.release(ticket)
            raise
        lesson = self.pacing.headers.observe(target.app, target.account_id, response)
        if lesson.app_usage is not None:
            self.observer.usage_read(target.app, lesson.app_usage)
        if on_headers is not None:
            on_headers(lesson)
        body = settled_body(budget, ticket, lesson, response)
        self.observer.answered(target.app, "ok")
        return body

    async def _acquire(self, budget: AppBudget) -> Ticket:
        """A ticket of ``budget``, the time it held the request told to the observer."""
        began = self._clock.monotonic()
        ticket = await budget.acquire()
        self.observer.budget_waited(budget.name, self._clock.monotonic() - began)
        return ticket

    async def _timed(self, app: str, request: GraphRequest) -> GraphResponse:
        began = self._clock.monotonic()
        try:
            return await self.transport.send(request)
        finally:
            self.observer.timed(app, self._clock.monotonic() - began)

    def react(
        self,
        error: GraphError,
        target: Target,
        *,
        attempts: int,
        throttle_waits: int,
        draw: float,
        regain_s: float | None,
    ) -> Decision:
        """The retry policy's decision after ``error``, its pause applied; logged.

        A token or account throttle pauses that scope in :class:`Pacing` for the
        decision's delay, and the returned decision then asks for no further
        delay of its own (the pause holds the request). An app throttle asks for
        none either: the budget probes before anything else of that app goes.
        """
        decision = decide(
            error,
            attempts=attempts,
            throttle_waits=throttle_waits,
            policy=self.policy,
            draw=draw,
            regain_s=regain_s,
        )
        if decision.action is not Action.RETRY:
            return decision
        fields = {"error": error.reason, "detail": str(error), "attempt": attempts}
        if decision.scope is Scope.REQUEST:
            log.info("request_retried", delay_s=round(decision.delay_s, 2), **fields)
            return decision
        if decision.scope is Scope.APP:
            log.warning("budget_paused", scope="app", **fields)
        else:
            self.pacing.pause(decision.scope, target, decision.delay_s)
            log.warning(
                "budget_paused",
                scope=decision.scope.value,
                pause_s=round(decision.delay_s, 1),
                **fields,
            )
        return Decision(Action.RETRY, 0.0, decision.scope)

    async def call(
        self,
        target: Target,
        request: GraphRequest,
        rng: random.Random,
        accept: Callable[[Any], T],
    ) -> T:
        """Send ``request`` until ``accept`` takes its body or the policy gives up.

        The library's loop. Each attempt is :meth:`send`, its body then goes
        through ``accept`` (which raises a :class:`GraphError` such as
        ``BadResponse`` for a body of the wrong shape, retried like any failed
        answer); after a failure :meth:`react` decides, and
        this waits out the decision's delay and every pause on the target's
        account and token (the pool's lanes do the same wait without blocking a
        worker). Raises the last :class:`GraphError` when the policy says fail.
        """
        attempts = throttle_waits = 0
        regain: float | None = None

        def learn(lesson: HeaderLesson) -> None:
            nonlocal regain
            regain = lesson.regain_s

        def sent() -> None:
            nonlocal attempts
            attempts += 1

        while True:
            await self._wait_for_pauses(target)
            body: Any = _NO_BODY
            try:
                body = await self.send(target, request, on_send=sent, on_headers=learn)
                return accept(body)
            except GraphError as error:
                decision = self.react(
                    error,
                    target,
                    attempts=attempts,
                    throttle_waits=throttle_waits,
                    draw=rng.random(),
                    regain_s=regain,
                )
                if body is _NO_BODY:  # the answer's error, not `accept`'s (counted as ok)
                    self._caller_observed(target.app, decision)
                if decision.action is Action.FAIL:
                    log.debug("request_failed", path=request.loggable, error=error.reason)
                    raise
                if decision.scope is not Scope.REQUEST:
                    throttle_waits += 1
                await self._clock.sleep(decision.delay_s)

    def _caller_observed(self, app: str, decision: Decision) -> None:
        self.observer.answered(app, outcome_of(decision))

    async def _wait_for_pauses(self, target: Target) -> None:
        while (
            wait := self.pacing.paused_until(target.account_id, target.token)
            - self._clock.monotonic()
        ) > 0:
            await self._clock.sleep(wait)

    def paced(self, app: str) -> Transport:
        """A :class:`Transport` whose every send draws from ``app``'s budget and feeds
        its header reader (for calls that are not insights, such as ``debug_token``)."""
        return _PacedTransport(self, app)


class _PacedTransport:
    def __init__(self, caller: Caller, app: str) -> None:
        self._caller = caller
        self._app = app

    async def send(self, request: GraphRequest) -> GraphResponse:
        caller = self._caller
        budget = caller.pacing.budget(self._app)
        ticket = await caller._acquire(budget)
        try:
            response = await caller._timed(self._app, request)
        except BaseException:
            budget.release(ticket)
            caller.observer.answered(self._app, "failed")
            raise
        lesson = caller.pacing.headers.observe(self._app, "", response)
        if lesson.app_usage is not None:
            caller.observer.usage_read(self._app, lesson.app_usage)
        outcome: Outcome = "failed"
        with contextlib.suppress(GraphError):  # the caller reads the error from the answer
            settled_body(budget, ticket, lesson, response)
            outcome = "ok"
        caller.observer.answered(self._app, outcome)
        return response


def settled_body(
    budget: AppBudget, ticket: Ticket, lesson: HeaderLesson, response: GraphResponse
) -> Any:
    """Settle ``ticket`` with what ``response`` said; its body, or its typed error raised.

    An app-wide throttle settles as a throttle (the budget holds and probes), with
    Meta's regain time when the headers gave one; any other answer settles with
    its usage reading alone.
    """
    try:
        body = checked_body(response)
    except Throttled as error:
        budget.settle(
            ticket,
            usage=lesson.app_usage,
            throttled=error.scope is Scope.APP,
            regain_s=lesson.regain_s,
        )
        raise
    except BaseException:
        budget.settle(ticket, usage=lesson.app_usage)
        raise
    budget.settle(ticket, usage=lesson.app_usage)
    return body
