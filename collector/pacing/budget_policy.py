"""Adaptive rate budgets: how far apart calls go, given Meta's usage headers. Pure.

Algorithm: usage-proportional spacing (a feedback controller on the reported usage,
in the spirit of TCP's congestion avoidance and Scrapy's AutoThrottle: the answer's
own load signal sets the next delay). For a usage ``p`` (the peak percentage of a
header, SPEC section 6), the minimum spacing between two calls is

- ``base`` while ``p <= slow_from_pct``;
- ``base + (ceiling - base) * x**2`` with ``x = (p - slow) / (stop - slow)`` up to
  ``stop_at_pct``: a quadratic ramp, flat where it leaves ``base`` (no jolt at 75 %)
  and reaching ``ceiling = max(base, max_spacing_s)`` at ``stop``;
- ``min(hold_s, ceiling * (100 - stop) / (100 - p))`` beyond ``stop`` (``hold_s``
  from 100 on): the call *rate* is proportional to the headroom ``100 - p``, so the
  closer usage gets to 100 the slower it climbs. Usage is a rolling one-hour sum,
  so calls also leave it: with inflow proportional to headroom, headroom decays
  at most exponentially and never reaches 0 (a first-order approach, the reason a
  proportional controller does not overshoot). ``hold_s`` bounds the wait so a
  stale or bogus header cannot stop an app for good: the next answer's header
  updates the figure.

The pieces meet at both thresholds (continuous), each is non-decreasing, and the
whole never goes below ``base`` nor above ``max(hold_s, ceiling)``.

Thresholds: 75 % (``slow_from_pct``) leaves a quarter of the hour for the other
apps' workers and processes sharing the allowance, and for the lag of the header
(it reports calls already made); 95 % (``stop_at_pct``) keeps 5 % for calls already
in flight when the header arrives; Meta "may start throttling when any reaches 100".

BUC (per account, SPEC 6): Meta's own ``estimated_time_to_regain_access`` wins;
without it, an account at 100 % waits ``buc_backoff_s``; below, the same curve with
a base of 0 (an account has no configured rate) spaces its calls.
Error-driven pauses stay in :func:`collector.pacing.retry.decide`; feed it
:func:`regain_seconds` as its ``regain_s``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from collector.graph.usage import AppUsage, BucEntry

FULL_PCT = 100.0  # Meta: "Throttling may start when any reaches 100"


@dataclass(frozen=True)
class BudgetPolicy:
    """The knobs of the spacing curve; see the module docstring for each one's reason."""

    slow_from_pct: float = 75.0
    stop_at_pct: float = 95.0
    max_spacing_s: float = 10.0
    hold_s: float = 300.0  # spacing at >= 100 %; the hyperbola is capped here
    buc_backoff_s: float = 60.0
    # Meta's estimated_time_to_regain_access is in minutes; tests against an
    # emulator whose windows are scaled to seconds scale this down the same way.
    minute_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.slow_from_pct < self.stop_at_pct < FULL_PCT:
            raise ValueError("need 0 <= slow_from_pct < stop_at_pct < 100")
        for name in ("max_spacing_s", "hold_s", "buc_backoff_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0")
        if self.max_spacing_s <= 0.0:
            # A zero ceiling would flatten the hyperbola to 0 and jump to hold_s at 100.
            raise ValueError("max_spacing_s must be > 0")
        if self.hold_s < self.max_spacing_s:
            raise ValueError("hold_s must be >= max_spacing_s (the curve never falls)")


@dataclass(frozen=True)
class BucAdvice:
    """What an account's BUC entries ask for.

    ``pause_s``: seconds before the account's next call (0: none). ``spacing_s``:
    minimum seconds between two calls of the account until the next header.
    """

    pause_s: float
    spacing_s: float


def spacing_for(pct: float, policy: BudgetPolicy, *, base_spacing_s: float) -> float:
    """Minimum seconds between two calls at usage ``pct`` (the module's curve).

    Non-decreasing and continuous in ``pct``; never below ``base_spacing_s``; never
    above ``max(policy.hold_s, base_spacing_s)``. A NaN ``pct`` counts as full.
    Raises ``ValueError`` for a negative or non-finite ``base_spacing_s``.
    """
    if not (math.isfinite(base_spacing_s) and base_spacing_s >= 0.0):
        raise ValueError("base_spacing_s must be a finite number >= 0")
    slow, stop = policy.slow_from_pct, policy.stop_at_pct
    ceiling = max(base_spacing_s, policy.max_spacing_s)
    hold = max(policy.hold_s, ceiling)
    if math.isnan(pct) or pct >= FULL_PCT:
        return hold
    if pct <= slow:
        return base_spacing_s
    if pct <= stop:
        x = (pct - slow) / (stop - slow)
        return min(ceiling, base_spacing_s + (ceiling - base_spacing_s) * x * x)
    # max(): the ratio is >= 1 for pct > stop, but rounding can make it 1 ulp less.
    return min(hold, max(ceiling, ceiling * (FULL_PCT - stop) / (FULL_PCT - pct)))


def app_spacing(usage: AppUsage | None, policy: BudgetPolicy, *, base_spacing_s: float) -> float:
    """Minimum seconds between two calls of an app given its latest ``X-App-Usage``.

    ``base_spacing_s`` is ``3600 / calls_per_hour``; it is the answer when no header
    has come yet (``usage`` is ``None``).
    """
    if usage is None:
        return spacing_for(0.0, policy, base_spacing_s=base_spacing_s)
    return spacing_for(usage.peak, policy, base_spacing_s=base_spacing_s)


def regain_seconds(entries: Sequence[BucEntry], minute_s: float = 60.0) -> float | None:
    """The longest ``estimated_time_to_regain_access`` in seconds; ``None`` if none > 0.

    This is the ``regain_s`` that :func:`collector.pacing.retry.decide` expects.
    """
    longest = max((entry.regain_minutes for entry in entries), default=0.0)
    return longest * minute_s if longest > 0 else None


def account_pause(entries: Sequence[BucEntry], policy: BudgetPolicy) -> BucAdvice:
    """What an account's BUC entries (every key, every item) ask of its next calls.

    ``pause_s`` is Meta's regain time when any entry announces one (the longest);
    else ``policy.buc_backoff_s`` when any entry's peak is >= 100; else 0.
    ``spacing_s`` is the curve at the highest peak, with a base of 0. No entries: no
    pause, no spacing.
    """
    peak = max((entry.peak for entry in entries), default=0)
    spacing = spacing_for(peak, policy, base_spacing_s=0.0)
    regain = regain_seconds(entries, policy.minute_s)
    if regain is not None:
        return BucAdvice(regain, spacing)
    if peak >= FULL_PCT:
        return BucAdvice(policy.buc_backoff_s, spacing)
    return BucAdvice(0.0, spacing)
