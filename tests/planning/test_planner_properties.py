"""Hypothesis properties of windows and plans: exact tiling, 30-day spans, mid-day edges, DST."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.graph.catalogue import breakdown_choices, catalogue
from collector.planning.planner import (
    AccountRef,
    PlanSpec,
    count_requests,
    plan,
    plan_account,
    windows,
)

LA = ZoneInfo("America/Los_Angeles")
LIMIT = 2_592_000  # Meta: at most 30 days between since and until
ONE_DAY = dt.timedelta(days=1)
HISTORY_LIMITED = {"follower_count", "online_followers"}  # SPEC: only the last 30 days

dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2030, 12, 31))
# Starts within a few weeks of either DST change, so windows straddle them often.
near_dst = st.builds(
    lambda year, month, day: dt.date(year, month, 1) + dt.timedelta(days=day),
    st.integers(2016, 2029),
    st.sampled_from([2, 3, 10, 11]),
    st.integers(0, 45),
)
starts = st.one_of(dates, near_dst)
spans = st.integers(0, 800)

FAST = settings(deadline=None, max_examples=150)
PLANS = settings(deadline=None, max_examples=60)


def local(ts: int) -> dt.datetime:
    """An instant read back as Pacific wall time (the reverse of the code's direction)."""
    return dt.datetime.fromtimestamp(ts, LA)


def midnight(d: dt.date) -> int:
    """Pacific midnight starting ``d``, from the zone's UTC offset at that wall time."""
    offset = LA.utcoffset(dt.datetime.combine(d, dt.time(0)))
    assert offset is not None
    return calendar.timegm(d.timetuple()) - int(offset.total_seconds())


@FAST
@given(starts, spans)
def test_windows_tile_range_exactly(first: dt.date, span: int) -> None:
    """Windows' dates, concatenated, are first..last once each, in order."""
    last = first + dt.timedelta(days=span)
    got = [d for w in windows(first, last) for d in w.dates()]
    assert got == [first + dt.timedelta(days=i) for i in range(span + 1)]


@FAST
@given(starts, spans)
def test_windows_never_exceed_thirty_days(first: dt.date, span: int) -> None:
    """No window puts more than 2,592,000 s between since and until."""
    last = first + dt.timedelta(days=span)
    assert all(w.until - w.since <= LIMIT for w in windows(first, last))


@FAST
@given(starts, spans)
def test_windows_are_as_long_as_allowed(first: dt.date, span: int) -> None:
    """Every window but the last would break the limit with one more date."""
    last = first + dt.timedelta(days=span)
    tiles = list(windows(first, last))
    for w in tiles[:-1]:
        one_more = local(w.until) + dt.timedelta(days=1)  # the same wall-clock time a day later
        assert int(one_more.timestamp()) - w.since > LIMIT


@FAST
@given(starts, spans)
def test_window_edges_are_pacific_mid_day(first: dt.date, span: int) -> None:
    """since is 12:30 on the day before first and until 11:30 on last, Pacific wall time."""
    last = first + dt.timedelta(days=span)
    for w in windows(first, last):
        assert (local(w.since).date(), local(w.since).time()) == (
            w.first - ONE_DAY,
            dt.time(12, 30),
        )
        assert (local(w.until).date(), local(w.until).time()) == (w.last, dt.time(11, 30))


@FAST
@given(starts, st.integers(0, 70), st.booleans())
def test_window_returns_exactly_its_dates_under_either_edge_rule(
    first: dt.date, span: int, inclusive: bool
) -> None:
    """The midnights returned for (since, until] or [since, until] are the window's dates."""
    last = first + dt.timedelta(days=span)
    for w in windows(first, last):
        candidates = [w.first + dt.timedelta(days=i) for i in range(-3, w.days + 3)]
        returned = [
            d
            for d in candidates
            if (w.since <= midnight(d) if inclusive else w.since < midnight(d))
            and midnight(d) <= w.until
        ]
        assert returned == list(w.dates())


def v17_metrics() -> st.SearchStrategy[tuple[str, ...]]:
    names = sorted(catalogue("v17.0"))
    return st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True).map(tuple)


def v22_metrics() -> st.SearchStrategy[tuple[str, ...]]:
    names = sorted(catalogue("v22.0"))
    return st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True).map(tuple)


@st.composite
def plan_specs(draw: st.DrawFn) -> PlanSpec:
    version, metrics = draw(
        st.one_of(
            st.tuples(st.just("v17.0"), v17_metrics()), st.tuples(st.just("v22.0"), v22_metrics())
        )
    )
    served = catalogue(version)
    breakdowns = tuple(
        (name, tuple(draw(st.lists(st.sampled_from(choices), min_size=1, unique=True))))
        for name in metrics
        if (choices := breakdown_choices(served[name])) and draw(st.booleans())
    )
    periods = draw(
        st.lists(
            st.sampled_from(["day", "week", "days_28", "lifetime"]), min_size=1, unique=True
        ).map(tuple)
    )
    first = draw(starts)
    last = first + dt.timedelta(days=draw(st.integers(0, 400)))
    today = first + dt.timedelta(days=draw(st.integers(-40, 440)))
    return PlanSpec(version, metrics, periods, first, last, today, breakdowns=breakdowns)


def expected_series_dates(spec: PlanSpec, metric: str) -> list[dt.date]:
    """End_time dates a daily series should cover, from the SPEC rules alone."""
    low, high = spec.first, min(spec.last, spec.today)
    if metric in HISTORY_LIMITED:
        low = max(low, spec.today - dt.timedelta(days=29))
    return [low + dt.timedelta(days=i) for i in range((high - low).days + 1)]


@PLANS
@given(plan_specs())
def test_no_end_time_date_requested_twice(spec: PlanSpec) -> None:
    """For one account, each (metric, period, breakdown) asks each end_time date at most once."""
    seen: Counter[tuple[str, str, str, dt.date]] = Counter()
    for request in plan_account(AccountRef("1", "a"), spec):
        if request.window is not None:
            cut = dict(request.params).get("breakdown", "")
            for metric in request.metrics:
                seen.update((metric, request.period, cut, d) for d in request.window.dates())
    assert all(n == 1 for n in seen.values())


@PLANS
@given(plan_specs())
def test_each_breakdown_covers_the_served_range_day_by_day(spec: PlanSpec) -> None:
    """A non-demographic breakdown entry asks each served end_time date once, a date a request."""
    served = catalogue(spec.version)
    for metric, entries in spec.breakdowns:
        if served[metric].shape == "demographic" or "day" not in spec.periods:
            continue
        for entry in entries:
            asked = [
                request.window
                for request in plan_account(AccountRef("1", "a"), spec)
                if metric in request.metrics and ("breakdown", entry) in request.params
            ]
            assert all(w is not None and w.first == w.last for w in asked)
            assert [w.first for w in asked if w] == expected_series_dates(spec, metric)


@PLANS
@given(plan_specs())
def test_each_series_covers_its_served_range(spec: PlanSpec) -> None:
    """Each windowed (metric, period) asks exactly the dates the SPEC says are served."""
    served = catalogue(spec.version)
    asked: dict[tuple[str, str], list[dt.date]] = {}
    for request in plan_account(AccountRef("1", "a"), spec):
        if request.window is not None and "breakdown" not in dict(request.params):
            for metric in request.metrics:
                asked.setdefault((metric, request.period), []).extend(request.window.dates())
    for metric in spec.metrics:
        if served[metric].shape in ("audience", "demographic"):
            continue
        for period in set(spec.periods) & set(served[metric].periods):
            assert sorted(asked.get((metric, period), [])) == expected_series_dates(spec, metric)


@PLANS
@given(plan_specs())
def test_plan_edges_never_midnight_and_within_limit(spec: PlanSpec) -> None:
    """Every planned window has mid-day edges and at most 2,592,000 s between them."""
    for request in plan_account(AccountRef("1", "a"), spec):
        if request.window is not None:
            w = request.window
            assert (local(w.since).time(), local(w.until).time()) == (
                dt.time(12, 30),
                dt.time(11, 30),
            )
            assert w.until - w.since <= LIMIT


@PLANS
@given(plan_specs())
def test_request_metrics_share_a_valid_period(spec: PlanSpec) -> None:
    """Every metric in a request is served with the request's period, which the spec listed."""
    served = catalogue(spec.version)
    for request in plan_account(AccountRef("1", "a"), spec):
        assert request.period in spec.periods
        assert all(request.period in served[m].periods for m in request.metrics)


@PLANS
@given(plan_specs(), st.integers(0, 4), st.integers(0, 4))
def test_count_requests_equals_generated(spec: PlanSpec, n_a: int, n_b: int) -> None:
    """count_requests' arithmetic matches the number of requests plan() yields, per app."""
    accounts = [AccountRef(f"a{i}", "a") for i in range(n_a)]
    accounts += [AccountRef(f"b{i}", "b") for i in range(n_b)]
    generated = Counter(r.app for r in plan(accounts, spec))
    assert count_requests({"a": n_a, "b": n_b}, spec) == {"a": generated["a"], "b": generated["b"]}
