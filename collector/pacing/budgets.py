"""App budgets: the configured ``calls_per_hour`` and what Meta's usage headers add.

:class:`AppBudget` is the hard limit (asyncio-throttle) plus the adaptive spacing
of :mod:`collector.pacing.budget_policy`; :class:`HeaderReader` reads both usage headers
of every answer (SPEC section 6) and says what they ask of the app and of the
account. The policy itself stays pure in ``budget_policy``; this module applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from asyncio_throttle.throttler import Throttler

from collector.clock import Clock
from collector.graph.transport import GraphResponse
from collector.graph.usage import AppUsage, MalformedUsage, parse_app_usage, parse_buc_usage
from collector.pacing.budget_policy import BudgetPolicy, account_pause, app_spacing, regain_seconds

log = structlog.get_logger("collector.pacing.budgets")


class AppBudget:
    """An app's ``calls_per_hour``, enforced with asyncio-throttle (a sliding log).

    The budget is applied per second (``calls_per_hour / 3600`` calls in any
    one-second window; for budgets under one call a second, one call per
    ``3600 / calls_per_hour`` s). Any longer window then holds at most its share
    of the budget, so a rolling hour never exceeds it and neither does an
    allowance measured over a few seconds (the emulator's scaled-down limits).
    """

    def __init__(self, calls_per_hour: float, clock: Clock, policy: BudgetPolicy) -> None:
        period = max(1.0, 3600.0 / calls_per_hour)
        rate = max(1, int(calls_per_hour * period / 3600.0))
        # asyncio-throttle polls; a poll interval near half a call's share keeps it cheap.
        interval = min(0.05, max(0.002, period / rate / 2))
        self._throttler = Throttler(rate_limit=rate, period=period, retry_interval=interval)
        self._clock = clock
        self._policy = policy
        self._base_spacing = 3600.0 / calls_per_hour
        self._spacing = self._base_spacing
        self._next_at = 0.0
        self.usage_pct = 0.0

    def observe(self, usage: AppUsage) -> None:
        """Take the latest ``X-App-Usage``: above the policy's threshold, calls spread out."""
        self.usage_pct = usage.peak
        self._spacing = app_spacing(usage, self._policy, base_spacing_s=self._base_spacing)

    @property
    def spacing_s(self) -> float:
        return self._spacing

    async def acquire(self) -> None:
        """Wait for the hard budget, then for the adaptive spacing when usage asks for it."""
        await self._throttler.acquire()  # type: ignore[no-untyped-call]
        if self._spacing > self._base_spacing:
            now = self._clock.monotonic()
            slot = max(now, self._next_at)
            self._next_at = slot + self._spacing
            await self._clock.sleep(slot - now)


@dataclass(frozen=True)
class HeaderLesson:
    """What one answer's usage headers ask for.

    ``app_usage_pct``: the peak of ``X-App-Usage`` (``None``: no header).
    ``regain_s``: Meta's ``estimated_time_to_regain_access`` in seconds, if any.
    ``account_wait_s``: how long the account should wait before its next call.
    """

    app_usage_pct: float | None = None
    regain_s: float | None = None
    account_wait_s: float = 0.0


class HeaderReader:
    """Reads the usage headers of every answer and feeds the app budgets.

    A BUC entry may be keyed by the business, shared by several accounts: only
    the account whose call returned it waits (its siblings learn from their
    own answers). A malformed header is logged once per app and header, then
    ignored (SPEC 6: new fields appear without notice; a parser that rejects
    them breaks in production).
    """

    def __init__(self, budgets: Mapping[str, AppBudget], policy: BudgetPolicy) -> None:
        self._budgets = budgets
        self._policy = policy
        self._malformed: set[tuple[str, str]] = set()

    def observe(self, app: str, response: GraphResponse) -> HeaderLesson:
        try:
            usage = parse_app_usage(response.app_usage)
        except MalformedUsage:
            usage = None
            self._report(app, "X-App-Usage")
        if usage is not None:
            self._budgets[app].observe(usage)
        try:
            entries = parse_buc_usage(response.buc_usage)
        except MalformedUsage:
            entries = ()
            self._report(app, "X-Business-Use-Case-Usage")
        if not entries:
            return HeaderLesson(usage.peak if usage else None)
        advice = account_pause(entries, self._policy)
        return HeaderLesson(
            usage.peak if usage else None,
            regain_seconds(entries, self._policy.minute_s),
            max(advice.pause_s, advice.spacing_s),
        )

    def _report(self, app: str, header: str) -> None:
        if (app, header) not in self._malformed:
            self._malformed.add((app, header))
            log.warning("usage_header_malformed", header=header, app=app)
