"""The planner: accounts x metrics x date range -> Graph API requests, lazily.

Pure: no I/O, no clock (``today`` comes in the :class:`PlanSpec`). The plan of one
account depends only on the spec, so the spec is turned once into
:class:`MetricGroup` s (which metrics share a request, with which windows) and
every account then walks the same templates; :func:`plan` is a generator and
never holds a run's requests in memory.

Grouping rules (SPEC sections 2 and 3):

- SERIES and HOURLY_MAP metrics (``online_followers``) of one period share a
  request per window (Meta: every metric of a request shares its ``period``).
  Their end_time dates run ``first..min(last, today)``: a window is never planned
  past today, since paging never walks into the future.
- Metrics with ``history_days`` (``follower_count``, ``online_followers``: "only
  the last 30 days, today excluded") are clipped to
  ``[max(first, today - 29 days), min(last, today)]``. When that shortens their
  range they get requests of their own, so the others keep the full range; when
  it is empty they are not planned at all.
- AUDIENCE metrics (legacy ``audience_*``): all in one request, no window.
- TOTAL metrics (v18+ ``total_value``): one request per end_time date, because a
  total_value answer is one total for the whole range (SPEC 2). All of them share
  that request, sent without ``breakdown``: it gives each metric's exact daily
  total, which the parts of a breakdown cannot rebuild for non-additive metrics
  (``reach``, ``accounts_engaged``) and which Meta thins (only dimension values
  with data are listed).
- Breakdowns (``PlanSpec.breakdowns``): one more request per end_time date per
  breakdown *entry*, shared by every metric that lists that entry. An entry is
  one breakdown (``media_product_type``) or several joined by commas
  (``age,gender``), which Meta crosses in one answer; separate entries are
  separate requests because Meta answers one breakdown per request. Such a
  request records only the parts (the plain total comes from the request
  above). ``reach`` keeps its plain daily values from its time_series windows
  and gets its parts from ``metric_type=total_value`` breakdown requests.
- DEMOGRAPHIC metrics: one request per (metric, timeframe, breakdown entry), no
  window; entries default to each of age, city, country, gender alone.
- v18+ SERIES metrics send ``metric_type=time_series``.

Requests without a window (``audience_*``, demographics) are lifetime snapshots:
their keys carry ``today``, so a resumed run on the same Pacific day skips them once
done, and a run on a later day takes a fresh snapshot. A metric is planned for each
of its periods listed in ``PlanSpec.periods`` and for no other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from collector.graph.catalogue import (
    Breakdowns,
    MetricSpec,
    Shape,
    breakdown_choices,
    catalogue,
    retirement,
    timeframes,
)
from collector.graph.pacific import Window, window_of, windows

__all__ = [
    "AccountRef",
    "Breakdowns",
    "GroupKind",
    "MetricGroup",
    "PlanSpec",
    "PlannedRequest",
    "Window",
    "count_requests",
    "describe_groups",
    "metric_groups",
    "plan",
    "plan_account",
    "requests_per_account",
    "windows",
]

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account to plan for: its IG user id and the app whose budget it spends."""

    id: str
    app: str


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """What to collect; construction raises ``ValueError`` on an unusable spec.

    ``first..last`` are end_time dates (Pacific), inclusive; ``today`` is the
    Pacific date at planning time. ``metrics`` must all be served by
    ``version``; ``timeframes`` must be accepted by it when a demographic metric
    is asked for. Duplicates in ``metrics``, ``periods`` and ``timeframes`` are
    planned once. ``breakdowns`` maps a metric of ``metrics`` to its breakdown
    entries, each a breakdown name or several joined by commas, every name one
    the version allows for that metric with ``metric_type=total_value``; a
    demographic metric without entries gets age, city, country and gender.
    """

    version: str
    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    first: dt.date
    last: dt.date
    today: dt.date
    timeframes: tuple[str, ...] = ("this_month",)
    breakdowns: Breakdowns = ()

    def __post_init__(self) -> None:
        served = catalogue(self.version)  # ValueError for a malformed version
        for name in self.metrics:
            if name not in served:
                gone = retirement(name, self.version)
                hint = f" (retired in {gone.retired_in}; heir: {gone.replacement})" if gone else ""
                raise ValueError(f"metric {name!r} is not served by {self.version}{hint}")
        if self.first > self.last:
            raise ValueError(f"first end_time date {self.first} is after last {self.last}")
        if any(served[name].shape is Shape.DEMOGRAPHIC for name in self.metrics):
            accepted = timeframes(self.version)
            for frame in self.timeframes:
                if frame not in accepted:
                    raise ValueError(
                        f"timeframe {frame!r} is not accepted by {self.version}; "
                        f"use one of {', '.join(accepted)}"
                    )
        for name, entries in self.breakdowns:
            if name not in self.metrics:
                raise ValueError(f"breakdowns given for {name!r}, which is not in metrics")
            allowed = breakdown_choices(served[name])
            for entry in entries:
                parts = entry.split(",")
                if any(part not in allowed for part in parts):
                    raise ValueError(
                        f"{name!r} on {self.version} has no breakdown {entry!r} "
                        f"(allowed: {', '.join(allowed) or 'none'})"
                    )

    def breakdowns_of(self, metric: str) -> tuple[str, ...]:
        """The breakdown entries planned for ``metric`` (demographics: the default four)."""
        for name, entries in self.breakdowns:
            if name == metric:
                return tuple(dict.fromkeys(entries))
        spec = catalogue(self.version)[metric]
        return spec.breakdowns if spec.shape is Shape.DEMOGRAPHIC else ()


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One Graph API insights request for one account.

    ``key`` is stable (same spec and account, same key) and unique within a
    plan; the ledger stores it. ``window`` is ``None`` for requests sent without
    since/until (``audience_*``, demographics). ``params`` are the extra query
    parameters (``metric_type``, ``breakdown``, ``timeframe``) in that order.
    """

    key: str
    account_id: str
    app: str
    metrics: tuple[str, ...]
    period: str
    window: Window | None
    params: Params


class GroupKind(StrEnum):
    """Why a group's metrics share their requests."""

    SERIES = "series"  # daily series of one period, full range
    CLIPPED = "clipped"  # a history-limited series whose range was shortened: alone
    TOTAL = "total"  # total_value metrics: one request per end_time date
    BREAKDOWN = "breakdown"  # total_value parts by one breakdown entry, per end_time date
    AUDIENCE = "audience"  # every legacy audience_* metric in one request
    DEMOGRAPHIC = "demographic"  # one (metric, timeframe, breakdown)


@dataclass(frozen=True, slots=True)
class MetricGroup:
    """Metrics sent together, and the windows every account asks them for.

    ``windows`` is ``None`` for a group sent without since/until (one request
    per account); otherwise it is non-empty and each window is one request.
    """

    kind: GroupKind
    metrics: tuple[str, ...]
    period: str
    params: Params
    windows: tuple[Window, ...] | None

    @property
    def requests_per_account(self) -> int:
        """How many requests one account makes for this group."""
        return 1 if self.windows is None else len(self.windows)

    @property
    def first(self) -> dt.date | None:
        """The oldest end_time date asked for (``None`` without windows)."""
        return self.windows[0].first if self.windows else None

    @property
    def last(self) -> dt.date | None:
        """The newest end_time date asked for (``None`` without windows)."""
        return self.windows[-1].last if self.windows else None


_ONE_DAY = dt.timedelta(days=1)
_TIME_SERIES: Params = (("metric_type", "time_series"),)
_TOTAL_VALUE: Params = (("metric_type", "total_value"),)


def _breakdown_params(entry: str) -> Params:
    return (*_TOTAL_VALUE, ("breakdown", entry))


def _series_params(spec: MetricSpec) -> Params:
    # v18+ series take metric_type (SPEC section 2); legacy versions take none.
    return _TIME_SERIES if "time_series" in spec.metric_types else ()


def _served_range(
    history_days: int | None, first: dt.date, last: dt.date, today: dt.date
) -> tuple[dt.date, dt.date] | None:
    """The end_time dates of ``first..last`` the API still serves for a series.

    Never past today (no window into the future); for ``history_days`` metrics
    (SPEC: "only the last 30 days, today excluded") the oldest end_time date is
    ``today - (history_days - 1)``: its since, noon of ``today - history_days``,
    is after the midnight starting that day, the oldest since the API accepts.
    ``None`` when nothing is left.
    """
    low = first
    if history_days is not None:
        low = max(first, today - dt.timedelta(days=history_days - 1))
    high = min(last, today)
    return (low, high) if low <= high else None


def _daily_windows(first: dt.date, last: dt.date) -> tuple[Window, ...]:
    count = (last - first).days + 1
    return tuple(
        window_of(first + offset * _ONE_DAY, first + offset * _ONE_DAY) for offset in range(count)
    )


def _period_groups(spec: PlanSpec, period: str, metrics: tuple[str, ...]) -> Iterator[MetricGroup]:
    """The groups of one period, in a fixed order: series, clipped, total, breakdown,
    audience, demographic."""
    served = catalogue(spec.version)
    full = _served_range(None, spec.first, spec.last, spec.today)
    shared: dict[Params, list[str]] = {}
    alone: list[tuple[str, Params, tuple[dt.date, dt.date]]] = []
    totals: list[str] = []
    parts: dict[str, list[str]] = {}  # breakdown entry -> metrics, first-listed order
    audience: list[str] = []
    demographic: list[str] = []
    for name in metrics:
        metric = served[name]
        if period not in metric.periods:
            continue
        if metric.shape is not Shape.DEMOGRAPHIC:
            for entry in spec.breakdowns_of(name):
                parts.setdefault(entry, []).append(name)
        if metric.shape in (Shape.SERIES, Shape.HOURLY_MAP):
            own = _served_range(metric.history_days, spec.first, spec.last, spec.today)
            if own is None:
                continue
            if own != full:
                alone.append((name, _series_params(metric), own))
            else:
                shared.setdefault(_series_params(metric), []).append(name)
        elif metric.shape is Shape.TOTAL:
            totals.append(name)
        elif metric.shape is Shape.AUDIENCE:
            audience.append(name)
        else:
            demographic.append(name)

    if full is not None:
        for params, names in shared.items():
            yield MetricGroup(GroupKind.SERIES, tuple(names), period, params, tuple(windows(*full)))
    for name, params, own in alone:
        yield MetricGroup(GroupKind.CLIPPED, (name,), period, params, tuple(windows(*own)))
    if totals and full is not None:
        yield MetricGroup(
            GroupKind.TOTAL, tuple(totals), period, _TOTAL_VALUE, _daily_windows(*full)
        )
    if full is not None:
        for entry, names in parts.items():
            yield MetricGroup(
                GroupKind.BREAKDOWN,
                tuple(names),
                period,
                _breakdown_params(entry),
                _daily_windows(*full),
            )
    if audience:
        yield MetricGroup(GroupKind.AUDIENCE, tuple(audience), period, (), None)
    for name in demographic:
        for frame in dict.fromkeys(spec.timeframes):
            for entry in spec.breakdowns_of(name):
                params = (*_breakdown_params(entry), ("timeframe", frame))
                yield MetricGroup(GroupKind.DEMOGRAPHIC, (name,), period, params, None)


@lru_cache(maxsize=16)
def metric_groups(spec: PlanSpec) -> tuple[MetricGroup, ...]:
    """Every group the spec plans, periods in ``spec.periods`` order (cached per spec)."""
    metrics = tuple(dict.fromkeys(spec.metrics))
    return tuple(
        group
        for period in dict.fromkeys(spec.periods)
        for group in _period_groups(spec, period, metrics)
    )


def describe_groups(spec: PlanSpec) -> list[MetricGroup]:
    """The metric groups and their windows, for ``ig-collector plan`` to print."""
    return list(metric_groups(spec))


def requests_per_account(spec: PlanSpec) -> int:
    """How many requests :func:`plan_account` yields for any one account."""
    return sum(group.requests_per_account for group in metric_groups(spec))


@dataclass(frozen=True, slots=True)
class _Template:
    """A request with the account left out; ``key_tail`` follows ``<account id>|``."""

    metrics: tuple[str, ...]
    period: str
    window: Window | None
    params: Params
    key_tail: str


def _key_tail(group: MetricGroup, window: Window | None, today: dt.date) -> str:
    # <period>|<metrics>[|<params>](|<first>..<last> | |@<today>): params hold "=",
    # a window "..", a snapshot's day "@", so the optional parts cannot be mistaken
    # for each other. A snapshot (no window) is keyed by the day it is taken.
    parts = [group.period, ",".join(group.metrics)]
    if group.params:
        parts.append("&".join(f"{name}={value}" for name, value in group.params))
    if window is not None:
        parts.append(f"{window.first.isoformat()}..{window.last.isoformat()}")
    else:
        parts.append(f"@{today.isoformat()}")
    return "|".join(parts)


@lru_cache(maxsize=16)
def _templates(spec: PlanSpec) -> tuple[_Template, ...]:
    templates: list[_Template] = []
    for group in metric_groups(spec):
        group_windows: tuple[Window | None, ...] = (
            (None,) if group.windows is None else group.windows
        )
        for window in group_windows:
            templates.append(
                _Template(
                    group.metrics,
                    group.period,
                    window,
                    group.params,
                    _key_tail(group, window, spec.today),
                )
            )
    return tuple(templates)


def plan_account(account: AccountRef, spec: PlanSpec) -> Iterator[PlannedRequest]:
    """Yield one account's requests: groups in :func:`metric_groups` order, windows oldest first."""
    for template in _templates(spec):
        yield PlannedRequest(
            key=f"{account.id}|{template.key_tail}",
            account_id=account.id,
            app=account.app,
            metrics=template.metrics,
            period=template.period,
            window=template.window,
            params=template.params,
        )


def plan(accounts: Iterable[AccountRef], spec: PlanSpec) -> Iterator[PlannedRequest]:
    """Yield every account's requests, account after account, consuming ``accounts`` lazily."""
    for account in accounts:
        yield from plan_account(account, spec)


def count_requests(n_accounts_by_app: Mapping[str, int], spec: PlanSpec) -> dict[str, int]:
    """Requests per app for that many accounts, by arithmetic (no request is built)."""
    return {app: n * requests_per_account(spec) for app, n in n_accounts_by_app.items()}
