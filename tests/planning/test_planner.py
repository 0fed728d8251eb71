"""The planner's grouping, clipping, keys, counting and laziness, on hand-worked cases."""

from __future__ import annotations

import datetime as dt
import itertools
import tracemalloc
from collections.abc import Iterator

import pytest

from collector.planning.planner import (
    AccountRef,
    GroupKind,
    PlannedRequest,
    PlanSpec,
    count_requests,
    describe_groups,
    plan,
    plan_account,
)

D = dt.date
ACME = AccountRef("17841400000000001", "agency-a")
TODAY = D(2024, 6, 15)
ALL_PERIODS = ("day", "week", "days_28", "lifetime")


def spec(
    version: str,
    metrics: tuple[str, ...],
    first: dt.date,
    last: dt.date = TODAY,
    *,
    periods: tuple[str, ...] = ALL_PERIODS,
    today: dt.date = TODAY,
    timeframes: tuple[str, ...] = ("this_month",),
    breakdowns: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> PlanSpec:
    return PlanSpec(version, metrics, periods, first, last, today, timeframes, breakdowns)


def requests(plan_spec: PlanSpec, account: AccountRef = ACME) -> list[PlannedRequest]:
    return list(plan_account(account, plan_spec))


def dates_of(reqs: list[PlannedRequest], metric: str, period: str = "day") -> list[dt.date]:
    """Every end_time date asked for ``metric`` with ``period``, in request order."""
    return [
        d
        for r in reqs
        if metric in r.metrics and r.period == period and r.window
        for d in r.window.dates()
    ]


def date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_follower_count_clipped_to_last_30_end_time_dates() -> None:
    """follower_count over 90 days is asked only for end_time dates today-29..today."""
    reqs = requests(spec("v17.0", ("impressions", "follower_count"), D(2024, 3, 18)))
    assert dates_of(reqs, "follower_count") == date_range(D(2024, 5, 17), D(2024, 6, 15))


def test_clipped_metric_travels_alone() -> None:
    """A shortened follower_count is sent in requests that carry no other metric."""
    reqs = requests(spec("v17.0", ("impressions", "follower_count"), D(2024, 3, 18)))
    assert {r.metrics for r in reqs if "follower_count" in r.metrics} == {("follower_count",)}


def test_others_keep_full_range_when_one_is_clipped() -> None:
    """impressions still covers all 90 end_time dates beside a clipped follower_count."""
    reqs = requests(spec("v17.0", ("impressions", "follower_count"), D(2024, 3, 18)))
    assert dates_of(reqs, "impressions") == date_range(D(2024, 3, 18), TODAY)


def test_unshortened_history_metric_shares_the_request() -> None:
    """Within the last 30 dates follower_count rides in the same request as impressions."""
    reqs = requests(spec("v17.0", ("impressions", "follower_count"), D(2024, 6, 1)))
    assert [(r.metrics, r.period) for r in reqs] == [
        (("impressions", "follower_count"), "day"),
        (("impressions",), "week"),
        (("impressions",), "days_28"),
    ]


def test_empty_clipped_range_plans_nothing() -> None:
    """A range that ended before today-29 plans no follower_count request at all."""
    reqs = requests(spec("v17.0", ("impressions", "follower_count"), D(2024, 1, 1), D(2024, 4, 1)))
    assert dates_of(reqs, "follower_count") == []


def test_online_followers_clipped_and_windowed_as_lifetime() -> None:
    """online_followers is a windowed lifetime series over the last 30 end_time dates."""
    reqs = requests(spec("v17.0", ("online_followers",), D(2024, 1, 1)))
    assert [(r.metrics, r.period, r.window.first, r.window.last) for r in reqs if r.window] == [
        (("online_followers",), "lifetime", D(2024, 5, 17), D(2024, 6, 15))
    ]


def test_series_never_planned_past_today() -> None:
    """A range reaching past today stops at today's end_time date."""
    reqs = requests(spec("v17.0", ("reach",), D(2024, 6, 1), D(2024, 7, 31), periods=("day",)))
    assert dates_of(reqs, "reach") == date_range(D(2024, 6, 1), TODAY)


def test_range_wholly_in_the_future_plans_no_series() -> None:
    """A range starting after today plans no series request."""
    reqs = requests(spec("v17.0", ("reach",), D(2024, 7, 1), D(2024, 7, 31), periods=("day",)))
    assert reqs == []


def test_audience_metrics_share_one_unwindowed_request() -> None:
    """All four legacy audience_* metrics go in one lifetime request with no since/until."""
    audience = ("audience_city", "audience_country", "audience_locale", "audience_gender_age")
    reqs = requests(spec("v17.0", audience, D(2024, 1, 1)))
    assert [(r.metrics, r.period, r.window, r.params) for r in reqs] == [
        (audience, "lifetime", None, ())
    ]


def test_total_value_metrics_one_request_per_date() -> None:
    """v22 total_value metrics are grouped and asked one end_time date per request."""
    reqs = requests(spec("v22.0", ("likes", "comments"), D(2024, 6, 13)))
    assert [(r.metrics, r.window.first, r.window.last) for r in reqs if r.window] == [
        (("likes", "comments"), D(2024, 6, 13), D(2024, 6, 13)),
        (("likes", "comments"), D(2024, 6, 14), D(2024, 6, 14)),
        (("likes", "comments"), D(2024, 6, 15), D(2024, 6, 15)),
    ]


def test_total_value_request_params() -> None:
    """A total_value request says metric_type=total_value, period day, and no breakdown."""
    reqs = requests(spec("v22.0", ("views",), TODAY))
    assert [(r.period, r.params) for r in reqs] == [("day", (("metric_type", "total_value"),))]


def test_reach_v18_is_time_series() -> None:
    """v18+ reach is a windowed series sent with metric_type=time_series."""
    reqs = requests(spec("v18.0", ("reach",), D(2024, 6, 1)))
    assert [(r.period, r.params, r.window is not None) for r in reqs] == [
        ("day", (("metric_type", "time_series"),), True)
    ]


def test_legacy_series_sends_no_metric_type() -> None:
    """v17 series requests carry no extra parameters."""
    reqs = requests(spec("v17.0", ("profile_views",), D(2024, 6, 1)))
    assert [r.params for r in reqs] == [()]


def test_demographics_one_request_per_metric_timeframe_breakdown() -> None:
    """Two demographic metrics x two timeframes x four breakdowns give 16 unwindowed requests."""
    metrics = ("follower_demographics", "engaged_audience_demographics")
    frames = ("this_week", "this_month")
    reqs = requests(spec("v22.0", metrics, D(2024, 6, 1), timeframes=frames))
    expected = {
        (m, "lifetime", None, (("metric_type", "total_value"), ("breakdown", b), ("timeframe", f)))
        for m in metrics
        for f in frames
        for b in ("age", "city", "country", "gender")
    }
    got = [(r.metrics[0], r.period, r.window, r.params) for r in reqs]
    assert (len(got), set(got)) == (16, expected)


def test_metric_planned_for_each_listed_period() -> None:
    """impressions with periods day and week is planned once per period, never for days_28."""
    reqs = requests(spec("v17.0", ("impressions",), D(2024, 6, 1), periods=("day", "week")))
    assert [r.period for r in reqs] == ["day", "week"]


def test_metric_without_listed_period_is_skipped() -> None:
    """profile_views (day only) is not planned when only week is asked for."""
    reqs = requests(spec("v17.0", ("profile_views", "reach"), D(2024, 6, 1), periods=("week",)))
    assert [r.metrics for r in reqs] == [("reach",)]


def test_keys_name_account_period_metrics_and_dates() -> None:
    """A series key reads account|period|metrics|first..last."""
    reqs = requests(spec("v17.0", ("impressions", "reach"), D(2024, 6, 1), periods=("day",)))
    assert [r.key for r in reqs] == [
        "17841400000000001|day|impressions,reach|2024-06-01..2024-06-15"
    ]


def test_keys_unique_across_accounts_and_groups() -> None:
    """No two requests of a mixed v18 plan for two accounts share a key."""
    plan_spec = spec(
        "v18.0",
        ("reach", "follower_count", "likes", "follower_demographics", "online_followers"),
        D(2024, 1, 1),
        timeframes=("this_week", "this_month", "last_30_days"),
    )
    keys = [r.key for r in plan([ACME, AccountRef("2", "agency-b")], plan_spec)]
    assert len(keys) == len(set(keys))


def test_keys_stable_between_plans() -> None:
    """Planning the same spec twice gives the same keys in the same order."""
    plan_spec = spec("v17.0", ("impressions", "follower_count"), D(2023, 1, 1))
    assert [r.key for r in requests(plan_spec)] == [r.key for r in requests(plan_spec)]


def test_count_requests_matches_generated_per_app() -> None:
    """count_requests gives, per app, exactly as many requests as plan() yields."""
    plan_spec = spec(
        "v22.0",
        ("reach", "follower_count", "views", "follower_demographics", "online_followers"),
        D(2023, 9, 1),
    )
    accounts = [AccountRef(str(i), "a" if i % 3 else "b") for i in range(7)]
    generated: dict[str, int] = {"a": 0, "b": 0}
    for request in plan(accounts, plan_spec):
        generated[request.app] += 1
    assert count_requests({"a": 4, "b": 3}, plan_spec) == generated


def test_describe_groups_lists_kinds_and_ranges() -> None:
    """describe_groups shows the shared series, the clipped metric and the audience group."""
    plan_spec = spec(
        "v17.0",
        ("impressions", "follower_count", "audience_city"),
        D(2024, 3, 18),
        periods=("day", "lifetime"),
    )
    assert [(g.kind, g.metrics, g.first, g.last) for g in describe_groups(plan_spec)] == [
        (GroupKind.SERIES, ("impressions",), D(2024, 3, 18), TODAY),
        (GroupKind.CLIPPED, ("follower_count",), D(2024, 5, 17), TODAY),
        (GroupKind.AUDIENCE, ("audience_city",), None, None),
    ]


def test_plan_consumes_accounts_lazily() -> None:
    """plan() over an endless account stream yields its first requests without exhausting it."""
    endless = (AccountRef(str(i), "a") for i in itertools.count())
    plan_spec = spec("v17.0", ("reach",), D(2024, 6, 1), periods=("day",))
    first_three = [r.account_id for r in itertools.islice(plan(endless, plan_spec), 3)]
    assert first_three == ["0", "1", "2"]


def test_ten_thousand_accounts_two_years_bounded_memory() -> None:
    """Counting a 10,000-account x 730-date plan peaks well under 20 MB of traced memory."""
    plan_spec = spec(
        "v17.0",
        ("impressions", "reach"),
        D(2022, 6, 16),
        D(2024, 6, 14),
        periods=("day",),
    )

    def accounts() -> Iterator[AccountRef]:
        for i in range(10_000):
            yield AccountRef(str(17841400000000000 + i), f"app{i % 4}")

    tracemalloc.start()
    try:
        total = sum(1 for _ in plan(accounts(), plan_spec))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 730 dates with two 25-hour days inside take 25 windows (24 x 30 - 2 < 730).
    assert (total, peak < 20 * 2**20) == (250_000, True)


@pytest.mark.parametrize(
    ("metrics", "version", "timeframes", "match"),
    [
        (("impressions",), "v22.0", ("this_month",), "retired in v22.0"),
        (("reach",), "17.0", ("this_month",), "vNN.N"),
        (("follower_demographics",), "v22.0", ("last_30_days",), "timeframe"),
    ],
)
def test_unusable_spec_rejected(
    metrics: tuple[str, ...], version: str, timeframes: tuple[str, ...], match: str
) -> None:
    """A metric the version lacks, a bad version or a rejected timeframe fails at construction."""
    with pytest.raises(ValueError, match=match):
        spec(version, metrics, D(2024, 6, 1), timeframes=timeframes)


def test_reversed_range_rejected() -> None:
    """first after last fails at construction."""
    with pytest.raises(ValueError, match="after"):
        spec("v17.0", ("reach",), D(2024, 6, 2), D(2024, 6, 1))


TV = ("metric_type", "total_value")


def test_breakdown_entries_get_daily_requests_of_their_own() -> None:
    """Each breakdown entry is one request per end_time date, shared by the metrics listing it."""
    reqs = requests(
        spec(
            "v24.0",
            ("likes", "views", "follows_and_unfollows"),
            D(2024, 6, 14),
            breakdowns=(
                ("likes", ("media_product_type",)),
                ("views", ("follow_type", "media_product_type")),
                ("follows_and_unfollows", ("follow_type",)),
            ),
        )
    )
    got = [(r.metrics, r.params, r.window.first) for r in reqs if r.window]
    plain = ("likes", "views", "follows_and_unfollows")
    assert got == [
        (plain, (TV,), D(2024, 6, 14)),
        (plain, (TV,), D(2024, 6, 15)),
        (("likes", "views"), (TV, ("breakdown", "media_product_type")), D(2024, 6, 14)),
        (("likes", "views"), (TV, ("breakdown", "media_product_type")), D(2024, 6, 15)),
        (("views", "follows_and_unfollows"), (TV, ("breakdown", "follow_type")), D(2024, 6, 14)),
        (("views", "follows_and_unfollows"), (TV, ("breakdown", "follow_type")), D(2024, 6, 15)),
    ]


def test_breakdown_windows_are_single_end_time_dates() -> None:
    """A breakdown request asks for exactly one end_time date, like the plain total."""
    reqs = requests(
        spec("v22.0", ("saves",), D(2024, 6, 1), breakdowns=(("saves", ("media_product_type",)),))
    )
    assert {(r.window.first == r.window.last) for r in reqs if r.window} == {True}
    assert len(reqs) == 2 * 15


def test_reach_breakdowns_use_total_value_beside_its_series() -> None:
    """reach keeps its time_series window and adds daily total_value requests per breakdown."""
    reqs = requests(
        spec(
            "v22.0",
            ("reach",),
            D(2024, 6, 15),
            breakdowns=(("reach", ("media_product_type", "follow_type")),),
        )
    )
    assert [(r.metrics, r.params) for r in reqs] == [
        (("reach",), (("metric_type", "time_series"),)),
        (("reach",), (TV, ("breakdown", "media_product_type"))),
        (("reach",), (TV, ("breakdown", "follow_type"))),
    ]


def test_combined_breakdown_entry_is_one_request() -> None:
    """An entry naming two breakdowns ("age,gender") is sent as one breakdown parameter."""
    reqs = requests(
        spec(
            "v24.0",
            ("follower_demographics",),
            D(2024, 6, 1),
            breakdowns=(("follower_demographics", ("country", "age,gender")),),
        )
    )
    assert [r.params for r in reqs] == [
        (TV, ("breakdown", "country"), ("timeframe", "this_month")),
        (TV, ("breakdown", "age,gender"), ("timeframe", "this_month")),
    ]


def test_snapshot_keys_carry_the_day_they_are_taken() -> None:
    """A request without a window is keyed by the planning day, so a later day takes it again."""
    first = requests(spec("v17.0", ("audience_city",), D(2024, 6, 1)))
    later = requests(spec("v17.0", ("audience_city",), D(2024, 6, 1), today=D(2024, 6, 16)))
    assert first[0].key == "17841400000000001|lifetime|audience_city|@2024-06-15"
    assert later[0].key == "17841400000000001|lifetime|audience_city|@2024-06-16"


@pytest.mark.parametrize(
    ("metrics", "breakdowns", "match"),
    [
        (("views",), (("views", ("contact_button_type",)),), "no breakdown 'contact_button_type'"),
        (("follower_count",), (("follower_count", ("follow_type",)),), "allowed: none"),
        (("likes",), (("views", ("follow_type",)),), "not in metrics"),
        (("follower_demographics",), (("follower_demographics", ("age,locale",)),), "age,locale"),
    ],
)
def test_unusable_breakdown_rejected(
    metrics: tuple[str, ...], breakdowns: tuple[tuple[str, tuple[str, ...]], ...], match: str
) -> None:
    """A breakdown the metric lacks, or one for a metric not planned, fails at construction."""
    with pytest.raises(ValueError, match=match):
        spec("v24.0", metrics, D(2024, 6, 1), breakdowns=breakdowns)


def test_legacy_reach_takes_no_breakdown() -> None:
    """v17 has no metric_type, so reach on v17 refuses any breakdown."""
    with pytest.raises(ValueError, match="allowed: none"):
        spec("v17.0", ("reach",), D(2024, 6, 1), breakdowns=(("reach", ("follow_type",)),))
