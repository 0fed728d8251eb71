"""Pacing policy, pure: exact rates, the usage controller, the probe's waits.

Nothing here sleeps or reads a clock; :mod:`collector.pacing.budgets` applies it.

**Exact rates** (generic cell rate algorithm, the leaky bucket of ATM networks and
of most API gateways). A call conforms at ``now`` when ``now >= tat - tolerance``;
it then moves the theoretical arrival time to ``max(tat, now) + interval``. Any
``k`` conforming calls span at least ``(k - 1) * interval - tolerance`` seconds, so
a half-open hour holds fewer than ``3600 / interval + tolerance / interval + 1``
of them. :func:`exact_bucket` picks ``interval`` and a tolerance of ``j`` calls so
that bound is ``calls_per_hour`` exactly: ``interval = 3600 / (N - j)``. The
tolerance lets a waiter that woke a little late (event-loop lag) catch up instead
of losing its slot for good; it is at most one second of calls and at most 0.5 %
of one usage window's calls, so the steady rate is within 0.5 % of ``N`` and never
above it, and a burst after idle time is at most ``j + 1`` calls.

**The controller.** Meta's ``X-App-Usage`` is the share of the app's allowance that
the calls of a rolling window (an hour) used. A reading of ``pct`` taken when this
process had sent ``calls`` in that window says roughly ``calls / pct`` calls per
percent; holding the window's count at ``calls * target / pct`` holds usage at the
target (:func:`window_limit`). Other consumers of the same app make the estimate
conservative (their calls count in ``pct`` but not in ``calls``), and repeated
readings converge on the target anyway: each new limit is a weighted mean of the
target and the last reading. A reading ages (:func:`aged_limit`): over one window
its limit relaxes to the configured rate, because the calls it counted have left
the window by then.

**Probing.** After a throttle or a 100 % reading an app waits, then sends one probe;
each probe that fails doubles the wait (:func:`next_wait`), up to ``max_wait_s``;
Meta's ``estimated_time_to_regain_access`` replaces the guess when given.
"""

from __future__ import annotations

import math

from collector.pacing.settings import BudgetSettings

FULL_PCT = 100.0  # Meta: "Throttling may start when any reaches 100"
HOUR_S = 3600.0
_MAX_LAG_S = 1.0  # the catch-up tolerance never exceeds one second of calls
_MAX_LOSS = 200  # ... nor one call in 200 (0.5 % of the hour's rate)
_FLOAT_MARGIN = 1e-9


def exact_bucket(calls_per_hour: int | float, window_s: float = HOUR_S) -> tuple[float, float]:
    """``(interval_s, tolerance_s)`` of the GCRA that lets through ``calls_per_hour``.

    For a whole ``calls_per_hour`` N >= 1 every half-open hour holds at most N
    calls, and a greedy sender gets at least 99.5 % of N (exactly N below 3600).
    A fractional rate is rounded down to whole calls, but never below one an hour.
    ``window_s`` is the length of Meta's usage window here (an hour; shorter
    against an emulator with scaled windows): the catch-up is also at most 0.5 %
    of the calls one window holds, so a burst stays small beside the window.
    """
    whole = max(1, math.floor(calls_per_hour))
    per_window = whole * min(1.0, window_s / HOUR_S)
    catch_up = min(math.floor(per_window / _MAX_LOSS), math.floor(whole * _MAX_LAG_S / HOUR_S))
    # A hair over the exact interval: summed a million times in floating point,
    # 3600 / (N - j) can fall short of the hour and let call N + 1 in. The
    # tolerance a hair over j intervals, so the j-th call of a burst is not
    # lost to the same rounding; both margins together stay far below one call.
    interval = HOUR_S / (whole - catch_up) * (1.0 + _FLOAT_MARGIN)
    return interval, catch_up * interval * (1.0 + _FLOAT_MARGIN / 1000)


def conforms_at(tat: float, tolerance_s: float) -> float:
    """The earliest time a call may go, given the theoretical arrival time ``tat``."""
    return tat - tolerance_s


def after_call(tat: float, now: float, interval_s: float) -> float:
    """The theoretical arrival time once a call went at ``now``."""
    return max(tat, now) + interval_s


def window_limit(calls: int, pct: float, target_pct: float) -> float | None:
    """How many calls of this process the usage window may hold to keep usage at target.

    ``calls``: this process's calls in the window when the reading was taken
    (the reading's own call included); ``pct``: the reading. ``None`` when the
    reading says nothing yet (0 %). With ``calls == 0`` (the usage is someone
    else's) the limit is 0: only a probe finds out when there is room.
    """
    if pct <= 0.0 or math.isnan(pct):
        return None if pct == 0.0 else 0.0
    return calls * target_pct / pct


def aged_limit(limit: float | None, age_s: float, window_s: float, full: float) -> float | None:
    """``limit`` after ``age_s``: it relaxes linearly to ``full`` over one usage window.

    ``full`` is the configured rate's share of one window. ``None`` stays ``None``.
    """
    if limit is None:
        return None
    trust = max(0.0, 1.0 - max(0.0, age_s) / window_s)
    if trust <= 0.0:
        return None
    return limit + (max(full, limit) - limit) * (1.0 - trust)


def next_wait(previous_s: float | None, settings: BudgetSettings, regain_s: float | None) -> float:
    """The wait before the next probe.

    ``previous_s``: the wait before the probe that just failed (``None``: the
    first throttle of an episode). Meta's ``regain_s`` wins when given;
    otherwise ``probe_after_s`` first, then doubling, capped at ``max_wait_s``.
    """
    if regain_s is not None and regain_s > 0.0:
        return regain_s
    if previous_s is None:
        return settings.probe_after_s
    return min(settings.max_wait_s, max(settings.probe_after_s, previous_s * 2.0))


def account_wait(peak: float, regain_s: float | None, settings: BudgetSettings) -> float:
    """Seconds an account waits after a business-use-case reading of ``peak`` percent.

    Meta's regain time when given; ``probe_after_s`` at 100 % or more; from the
    target up, a share of ``probe_after_s`` that grows with the excess; else 0.
    """
    if regain_s is not None and regain_s > 0.0:
        return regain_s
    if math.isnan(peak) or peak >= FULL_PCT:
        return settings.probe_after_s
    if peak <= settings.target_pct:
        return 0.0
    excess = (peak - settings.target_pct) / (FULL_PCT - settings.target_pct)
    return settings.probe_after_s * excess * excess
