"""App budgets on the injected clock, and the reader of Meta's usage headers.

:class:`AppBudget` holds one app's pacing state for the life of the process:
the exact-rate bucket of ``calls_per_hour``, the usage controller, and the
probe that finds out when a throttled app may go again (the policy is pure, in
:mod:`collector.pacing.control`). Waiters queue in order; only the first one
waits for a time, computed from the state when it is about to go, and any
change (a new reading, a settled probe) wakes it to compute again: nothing is
booked in advance and nothing polls.

:class:`HeaderReader` reads both usage headers of every answer (SPEC 6) and
tells the budget and the accounts what they say. A business-use-case entry
pauses every account known to share its business id.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from collector.clock import Clock, wait_event
from collector.graph.transport import GraphResponse
from collector.graph.usage import AppUsage, MalformedUsage, parse_app_usage, parse_buc_usage
from collector.pacing.control import (
    FULL_PCT,
    account_wait,
    after_call,
    aged_limit,
    conforms_at,
    exact_bucket,
    next_wait,
    window_limit,
)
from collector.pacing.settings import BudgetSettings
from collector.pacing.shared import SharedSchedule, SlotSource

log = structlog.get_logger("collector.pacing.budgets")

_LOG_BUCKETS = 60  # the send log keeps one count per 1/60 of the usage window


@dataclass(frozen=True, slots=True)
class Ticket:
    """One permitted call. ``probe``: it is the one call that tests a throttled app."""

    at: float
    calls_in_window: int
    probe: bool = False


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """What a budget knows, for stats and logs."""

    app: str
    calls_per_hour: float
    usage_pct: float | None
    window_limit: float | None
    held_for_s: float
    next_wait_s: float | None
    sent: int


class _SendLog:
    """This process's calls over the trailing usage window, in 60 counted slices."""

    def __init__(self, window_s: float) -> None:
        self._window = window_s
        self._slice = window_s / _LOG_BUCKETS
        self._counts: deque[list[float]] = deque()  # [slice start, calls]
        self._total = 0

    def add(self, now: float) -> None:
        start = math.floor(now / self._slice) * self._slice
        if self._counts and self._counts[-1][0] == start:
            self._counts[-1][1] += 1
        else:
            self._counts.append([start, 1])
        self._total += 1

    def count(self, now: float) -> int:
        horizon = now - self._window
        while self._counts and self._counts[0][0] + self._slice <= horizon:
            self._total -= int(self._counts.popleft()[1])
        return self._total

    def room_at(self, now: float, limit: float) -> float:
        """The earliest time the window holds fewer than ``limit`` calls."""
        total = self.count(now)
        at = now
        for start, calls in self._counts:
            if total < limit:
                break
            total -= int(calls)
            at = start + self._slice + self._window
        return at if total < limit else math.inf


class AppBudget:
    """One app's budget: exact ``calls_per_hour``, usage held at ``target_pct``, probing.

    :meth:`acquire` waits for the call's turn and returns a :class:`Ticket`;
    every ticket is then either settled with what its answer said
    (:meth:`settle`) or released when no answer came (:meth:`release`).
    """

    def __init__(self, name: str, settings: BudgetSettings, clock: Clock) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._interval, self._tolerance = exact_bucket(
            settings.calls_per_hour, settings.usage_window_s
        )
        self._full = settings.calls_per_hour * settings.usage_window_s / 3600.0
        self._tat = -math.inf
        self._log = _SendLog(settings.usage_window_s)
        self._turn = asyncio.Lock()
        self._changed = asyncio.Event()
        self._limit: float | None = None
        self._limit_at = 0.0
        self.usage_pct: float | None = None
        self._held_until = 0.0
        self._holding = False
        self._throttle_hold = False
        self._wait: float | None = None
        self._probe_out = False
        self.sent = 0
        self._shared: SharedSchedule | None = None
        self._unpublished: AppUsage | None = None

    def share(self, source: SlotSource | None) -> None:
        """Draw send times from the app's schedule in ``source`` too (``None``: stop).

        Used while other processes may spend the same app's allowance (queue
        workers, a shared PostgreSQL store): see :mod:`collector.pacing.shared`.
        """
        self._shared = (
            None
            if source is None
            else SharedSchedule(source, self.name, self._interval, self._clock)
        )

    async def acquire(self) -> Ticket:
        """Wait until a call may go; the ticket says whether it is the probe."""
        async with self._turn:
            while True:
                shared = self._shared
                if shared is not None:
                    await self._exchange_readings(shared)
                now = self._clock.monotonic()
                at = self._earliest(now)
                if shared is not None and at <= now and not self._holding:
                    at = await shared.next_slot()
                    now = self._clock.monotonic()
                if at <= now:
                    break
                self._changed.clear()
                await wait_event(self._clock, self._changed, None if at == math.inf else at - now)
            if shared is not None and not self._holding:
                shared.spend()
            probe = self._holding
            if probe:
                self._probe_out = True
                log.info("budget_probe_sent", app=self.name)
            self._tat = after_call(self._tat, now, self._interval)
            self._log.add(now)
            self.sent += 1
            return Ticket(now, self._log.count(now), probe)

    async def _exchange_readings(self, shared: SharedSchedule) -> None:
        """Publish this process's last reading; adopt a newer one another process saw."""
        if self._unpublished is not None:
            mine, self._unpublished = self._unpublished, None
            await shared.publish(mine)
        usage = await shared.newer_reading()
        if usage is None:
            return
        now = self._clock.monotonic()
        self.usage_pct = float(usage.peak)
        # Each process scales its own share by the same factor: together they hit the target.
        self._limit = window_limit(self._log.count(now), usage.peak, self.settings.target_pct)
        self._limit_at = now
        if usage.peak >= FULL_PCT and not self._holding:
            self._hold(now, None, failed_probe=False, throttle=False)
        log.info("budget_reading_shared", app=self.name, usage_pct=usage.peak)

    def _earliest(self, now: float) -> float:
        if self._holding:
            return math.inf if self._probe_out else self._held_until
        at = conforms_at(self._tat, self._tolerance)
        limit = aged_limit(
            self._limit, now - self._limit_at, self.settings.usage_window_s, self._full
        )
        if limit is not None:
            at = max(at, self._log.room_at(now, max(1.0, limit)))
        return at

    def settle(
        self,
        ticket: Ticket,
        *,
        usage: AppUsage | None = None,
        throttled: bool = False,
        regain_s: float | None = None,
    ) -> None:
        """Take what the ticket's answer said: its usage reading, an app throttle."""
        now = self._clock.monotonic()
        full = usage is not None and usage.peak >= FULL_PCT
        if usage is not None:
            if self._shared is not None:
                self._unpublished = usage  # published before the next call goes
            self.usage_pct = float(usage.peak)
            self._limit = window_limit(ticket.calls_in_window, usage.peak, self.settings.target_pct)
            self._limit_at = now
        if throttled or full:
            if ticket.probe or not self._holding:
                self._hold(now, regain_s, failed_probe=ticket.probe, throttle=throttled)
            elif throttled:
                self._throttle_hold = True
        elif ticket.probe or (self._holding and not self._throttle_hold):
            # The probe came back, or a later reading (under 100 %) lifts a usage hold.
            self._resume(reset=usage is None or usage.peak < self.settings.target_pct)
        self._changed.set()

    def release(self, ticket: Ticket) -> None:
        """A ticket whose call got no answer (cancelled, a network error)."""
        if ticket.probe:
            self._probe_out = False  # the next waiter probes at once
        self._changed.set()

    def _hold(
        self, now: float, regain_s: float | None, *, failed_probe: bool, throttle: bool
    ) -> None:
        # A failed probe, or a new episode before the last one fully recovered, doubles.
        self._wait = next_wait(self._wait, self.settings, regain_s)
        self._held_until = now + self._wait
        self._holding, self._probe_out = True, False
        self._throttle_hold = throttle or (failed_probe and self._throttle_hold)
        log.warning(
            "budget_held",
            app=self.name,
            wait_s=round(self._wait, 2),
            cause="throttled" if throttle else "usage_full",
        )

    def _resume(self, *, reset: bool) -> None:
        if self._holding:
            log.info("budget_resumed", app=self.name, usage_pct=self.usage_pct)
        self._holding = self._probe_out = self._throttle_hold = False
        if reset:
            self._wait = None

    def snapshot(self) -> BudgetSnapshot:
        now = self._clock.monotonic()
        return BudgetSnapshot(
            app=self.name,
            calls_per_hour=self.settings.calls_per_hour,
            usage_pct=self.usage_pct,
            window_limit=self._limit,
            held_for_s=max(0.0, self._held_until - now) if self._holding else 0.0,
            next_wait_s=self._wait,
            sent=self.sent,
        )


@dataclass(frozen=True, slots=True)
class HeaderLesson:
    """What one answer's usage headers said.

    ``app_usage``: the parsed ``X-App-Usage`` (``None``: no header).
    ``regain_s``: Meta's ``estimated_time_to_regain_access`` in seconds, if any.
    ``account_wait_s``: how long the account (and every account sharing its
    business id) should wait before its next call.
    """

    app_usage: AppUsage | None = None
    regain_s: float | None = None
    account_wait_s: float = 0.0


@dataclass
class _Business:
    accounts: set[str] = field(default_factory=set)
    paused_until: float = 0.0


class HeaderReader:
    """Reads the usage headers of every answer; remembers business-use-case pauses.

    Each BUC key is a business id (or the IG user's own id): the account whose
    call returned it is filed under it, and a pause the entry asks for holds
    every account filed under the same id. A malformed header is logged once
    per app and header, then ignored (SPEC 6: new fields appear without notice).
    """

    def __init__(self, settings: Mapping[str, BudgetSettings], clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._malformed: set[tuple[str, str]] = set()
        self._businesses: dict[str, _Business] = {}
        self._member_of: dict[str, set[str]] = {}

    def observe(self, app: str, account_id: str, response: GraphResponse) -> HeaderLesson:
        """What ``response`` (a call for ``account_id`` of ``app``) said."""
        try:
            usage = parse_app_usage(response.app_usage)
        except MalformedUsage:
            usage = None
            self._report(app, "X-App-Usage")
        try:
            entries = parse_buc_usage(response.buc_usage)
        except MalformedUsage:
            entries = ()
            self._report(app, "X-Business-Use-Case-Usage")
        if not entries:
            return HeaderLesson(usage)
        settings = self._settings.get(app) or BudgetSettings()
        now = self._clock.monotonic()
        longest_regain = max((e.regain_minutes for e in entries), default=0.0)
        regain_s = longest_regain * settings.minute_s if longest_regain > 0 else None
        wait = 0.0
        for entry in entries:
            entry_regain = entry.regain_minutes * settings.minute_s or None
            entry_wait = account_wait(entry.peak, entry_regain, settings)
            business = self._businesses.setdefault(entry.business_id, _Business())
            if account_id:
                business.accounts.add(account_id)
                self._member_of.setdefault(account_id, set()).add(entry.business_id)
            if entry_wait > 0.0:
                business.paused_until = max(business.paused_until, now + entry_wait)
            wait = max(wait, entry_wait)
        return HeaderLesson(usage, regain_s, wait)

    def account_paused_until(self, account_id: str) -> float:
        """Monotonic time before which the BUC pauses hold ``account_id``; 0: none."""
        ids = self._member_of.get(account_id, ())
        return max((self._businesses[b].paused_until for b in ids), default=0.0)

    def siblings(self, account_id: str) -> frozenset[str]:
        """Every account seen under one of ``account_id``'s business ids (itself included)."""
        out: set[str] = set()
        for business in self._member_of.get(account_id, ()):
            out |= self._businesses[business].accounts
        return frozenset(out)

    def _report(self, app: str, header: str) -> None:
        if (app, header) not in self._malformed:
            self._malformed.add((app, header))
            log.warning("usage_header_malformed", header=header, app=app)
