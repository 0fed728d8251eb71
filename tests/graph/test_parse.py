"""Unit tests for collector.graph.parse: insights answers to points."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.errors import BadResponse
from collector.graph.parse import fetched_now, points_from_body
from collector.model.records import Point

ACCOUNT = "17841400008460056"
FETCHED = "2019-12-30T10:00:00.000Z"


def parse(
    body: Any,
    metrics: tuple[str, ...],
    end_times: set[str] | None = None,
    total_end_time: str | None = None,
) -> list[Point]:
    return points_from_body(
        body,
        account_id=ACCOUNT,
        metrics=set(metrics),
        api_version="v17.0",
        fetched_at=FETCHED,
        end_times=end_times,
        total_end_time=total_end_time,
    )


def series(name: str, period: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "period": period,
        "values": values,
        "title": name.title(),
        "description": "...",
        "id": f"{ACCOUNT}/insights/{name}/{period}",
    }


def triples(points: list[Point]) -> list[tuple[str | None, dict[str, str], int | float]]:
    return [(p.end_time, dict(p.dimensions), p.value) for p in points]


# -- legacy series -----------------------------------------------------------------------


def test_series_values_become_points_in_order() -> None:
    """Each daily value becomes a point with its end_time in RFC 3339 and no dimensions."""
    body = {
        "data": [
            series(
                "impressions",
                "day",
                [
                    {"value": 4, "end_time": "2019-12-20T08:00:00+0000"},
                    {"value": 7, "end_time": "2019-12-21T08:00:00+0000"},
                ],
            )
        ],
        "paging": {"previous": "https://x/?since=1", "next": "https://x/?since=2"},
    }
    assert triples(parse(body, ("impressions",))) == [
        ("2019-12-20T08:00:00Z", {}, 4),
        ("2019-12-21T08:00:00Z", {}, 7),
    ]


def test_points_carry_account_metric_period_version_and_fetch_time() -> None:
    """Every point names its account, metric, period, API version and fetched_at."""
    body = {
        "data": [series("reach", "week", [{"value": 1, "end_time": "2019-12-20T08:00:00+0000"}])]
    }
    assert parse(body, ("reach",)) == [
        Point(ACCOUNT, "reach", "week", "2019-12-20T08:00:00Z", {}, 1, "v17.0", FETCHED)
    ]


def test_several_metrics_in_one_answer() -> None:
    """An answer with two requested metrics yields the points of both."""
    body = {
        "data": [
            series("impressions", "day", [{"value": 4, "end_time": "2019-12-20T08:00:00+0000"}]),
            series("reach", "day", [{"value": 3, "end_time": "2019-12-20T08:00:00+0000"}]),
        ]
    }
    points = parse(body, ("impressions", "reach"))
    assert [(p.metric, p.value) for p in points] == [("impressions", 4), ("reach", 3)]


def test_float_values_are_kept() -> None:
    """A non-integer value is kept as it came."""
    body = {
        "data": [series("reach", "day", [{"value": 2.5, "end_time": "2019-12-20T08:00:00+0000"}])]
    }
    assert parse(body, ("reach",))[0].value == 2.5


def test_empty_data_gives_no_points() -> None:
    """Missing or unavailable data is an empty list, so no points (SPEC section 4)."""
    assert parse({"data": []}, ("follower_count",)) == []


# -- maps ------------------------------------------------------------------------------------


def test_online_followers_hours_become_hour_dimensions() -> None:
    """An online_followers map gives one point per hour key, dimension ``hour``."""
    body = {
        "data": [
            series(
                "online_followers",
                "lifetime",
                [{"value": {"0": 12, "1": 9, "23": 31}, "end_time": "2019-12-20T08:00:00+0000"}],
            )
        ]
    }
    assert triples(parse(body, ("online_followers",))) == [
        ("2019-12-20T08:00:00Z", {"hour": "0"}, 12),
        ("2019-12-20T08:00:00Z", {"hour": "1"}, 9),
        ("2019-12-20T08:00:00Z", {"hour": "23"}, 31),
    ]


@pytest.mark.parametrize(
    ("metric", "dimension", "key"),
    [
        ("audience_city", "city", "London, England"),
        ("audience_country", "country", "GB"),
        ("audience_locale", "locale", "en_GB"),
        ("audience_gender_age", "gender_age", "F.18-24"),
    ],
)
def test_audience_maps_use_their_dimension_and_no_end_time(
    metric: str, dimension: str, key: str
) -> None:
    """An audience_* map gives points keyed by its own dimension, without end_time."""
    body = {"data": [series(metric, "lifetime", [{"value": {key: 120}}])]}
    assert triples(parse(body, (metric,), end_times={"2019-12-20T08:00:00Z"})) == [
        (None, {dimension: key}, 120)
    ]


# -- total_value -----------------------------------------------------------------------------


def total_entry(name: str, total: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "period": "day",
        "title": name,
        "description": "...",
        "total_value": total,
        "id": f"{ACCOUNT}/insights/{name}/day",
    }


def test_total_value_without_breakdown_is_one_point_at_the_given_end_time() -> None:
    """A plain total becomes one point carrying ``total_end_time``."""
    body = {"data": [total_entry("views", {"value": 224})]}
    points = parse(body, ("views",), total_end_time="2025-05-01T07:00:00Z")
    assert triples(points) == [("2025-05-01T07:00:00Z", {}, 224)]


def test_total_value_with_empty_breakdowns_is_the_total() -> None:
    """An empty ``breakdowns`` list is read as no breakdown."""
    body = {"data": [total_entry("views", {"value": 5, "breakdowns": []})]}
    assert triples(parse(body, ("views",))) == [(None, {}, 5)]


def test_total_value_breakdown_gives_one_point_per_result() -> None:
    """With a breakdown, each result is a point keyed by its dimension (the total is not)."""
    total = {
        "value": 224,
        "breakdowns": [
            {
                "dimension_keys": ["media_product_type"],
                "results": [
                    {"dimension_values": ["REELS"], "value": 100},
                    {"dimension_values": ["FEED"], "value": 124},
                ],
            }
        ],
    }
    points = parse(
        {"data": [total_entry("reach", total)]}, ("reach",), total_end_time="2025-05-01T07:00:00Z"
    )
    assert triples(points) == [
        ("2025-05-01T07:00:00Z", {"media_product_type": "REELS"}, 100),
        ("2025-05-01T07:00:00Z", {"media_product_type": "FEED"}, 124),
    ]


def test_demographic_breakdown_keeps_every_key() -> None:
    """A two-key breakdown (timeframe, country) gives both dimensions, no end_time."""
    total = {
        "value": 0,
        "breakdowns": [
            {
                "dimension_keys": ["timeframe", "country"],
                "results": [{"dimension_values": ["THIS_MONTH", "US"], "value": 40}],
            }
        ],
    }
    body = {"data": [{**total_entry("follower_demographics", total), "period": "lifetime"}]}
    points = parse(body, ("follower_demographics",))
    assert triples(points) == [(None, {"timeframe": "THIS_MONTH", "country": "US"}, 40)]
    assert points[0].period == "lifetime"


def test_crossed_demographic_breakdown_gives_all_three_dimensions() -> None:
    """A breakdown of age and gender crossed gives timeframe, age and gender per point."""
    total = {
        "breakdowns": [
            {
                "dimension_keys": ["timeframe", "age", "gender"],
                "results": [
                    {"dimension_values": ["THIS_WEEK", "25-34", "F"], "value": 7},
                    {"dimension_values": ["THIS_WEEK", "25-34", "M"], "value": 5},
                ],
            }
        ],
    }
    body = {"data": [{**total_entry("follower_demographics", total), "period": "lifetime"}]}
    assert triples(parse(body, ("follower_demographics",))) == [
        (None, {"timeframe": "THIS_WEEK", "age": "25-34", "gender": "F"}, 7),
        (None, {"timeframe": "THIS_WEEK", "age": "25-34", "gender": "M"}, 5),
    ]


def test_total_value_is_not_filtered_by_end_times() -> None:
    """A total carries no end_time of its own, so the planned set does not drop it."""
    body = {"data": [total_entry("views", {"value": 3})]}
    points = parse(
        body, ("views",), end_times={"2025-06-01T07:00:00Z"}, total_end_time="2025-05-01T07:00:00Z"
    )
    assert triples(points) == [("2025-05-01T07:00:00Z", {}, 3)]


# -- the planned end_times filter --------------------------------------------------------------


def test_values_outside_the_planned_end_times_are_dropped() -> None:
    """Only values whose end_time is among the planned ones are kept."""
    body = {
        "data": [
            series(
                "reach",
                "day",
                [
                    {"value": 1, "end_time": "2019-12-19T08:00:00+0000"},
                    {"value": 2, "end_time": "2019-12-20T08:00:00+0000"},
                    {"value": 3, "end_time": "2019-12-21T08:00:00+0000"},
                ],
            )
        ]
    }
    points = parse(body, ("reach",), end_times={"2019-12-20T08:00:00Z"})
    assert triples(points) == [("2019-12-20T08:00:00Z", {}, 2)]


def test_hour_maps_outside_the_planned_end_times_are_dropped() -> None:
    """The filter applies to online_followers maps too."""
    body = {
        "data": [
            series(
                "online_followers",
                "lifetime",
                [{"value": {"0": 1}, "end_time": "2019-12-21T08:00:00+0000"}],
            )
        ]
    }
    assert parse(body, ("online_followers",), end_times={"2019-12-20T08:00:00Z"}) == []


def test_no_end_time_set_keeps_every_value() -> None:
    """``end_times=None`` (a request without range) keeps whatever comes."""
    body = {
        "data": [series("reach", "day", [{"value": 1, "end_time": "2030-01-01T08:00:00+0000"}])]
    }
    assert len(parse(body, ("reach",), end_times=None)) == 1


# -- malformed bodies ---------------------------------------------------------------------------

VALID_VALUE = {"value": 1, "end_time": "2019-12-20T08:00:00+0000"}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "<html>",
        {},
        {"data": {}},
        {"data": ["reach"]},
        {"data": [{"period": "day", "values": [VALID_VALUE]}]},
        {"data": [{"name": "reach", "values": [VALID_VALUE]}]},
        {"data": [{"name": "reach", "period": "day"}]},
        {"data": [{"name": "reach", "period": "day", "values": {}}]},
        {"data": [{"name": "reach", "period": "day", "values": [5]}]},
        {"data": [{"name": "reach", "period": "day", "values": [{"end_time": "x"}]}]},
        {
            "data": [
                series("reach", "day", [{"value": "4", "end_time": "2019-12-20T08:00:00+0000"}])
            ]
        },
        {
            "data": [
                series("reach", "day", [{"value": True, "end_time": "2019-12-20T08:00:00+0000"}])
            ]
        },
        {
            "data": [
                series("reach", "day", [{"value": None, "end_time": "2019-12-20T08:00:00+0000"}])
            ]
        },
        {"data": [series("reach", "day", [{"value": 1, "end_time": "Dec 20"}])]},
        {"data": [series("reach", "day", [{"value": 1, "end_time": "2019-12-32T08:00:00+0000"}])]},
        {"data": [series("online_followers", "lifetime", [{"value": {"0": "many"}}])]},
        {"data": [total_entry("reach", {"breakdowns": []})]},
        {"data": [total_entry("reach", 224)]},
        {"data": [total_entry("reach", {"value": "224"})]},
        {"data": [total_entry("reach", {"value": 1, "breakdowns": [{"results": []}]})]},
        {"data": [total_entry("reach", {"value": 1, "breakdowns": ["media_product_type"]})]},
        {
            "data": [
                total_entry(
                    "reach",
                    {
                        "value": 1,
                        "breakdowns": [
                            {
                                "dimension_keys": ["media_product_type"],
                                "results": [{"dimension_values": ["REELS", "x"], "value": 1}],
                            }
                        ],
                    },
                )
            ]
        },
        {
            "data": [
                total_entry(
                    "reach",
                    {
                        "value": 1,
                        "breakdowns": [
                            {
                                "dimension_keys": ["media_product_type"],
                                "results": [{"dimension_values": ["REELS"]}],
                            }
                        ],
                    },
                )
            ]
        },
    ],
)
def test_malformed_bodies_raise_bad_response(body: Any) -> None:
    """A body the API would never send is a BadResponse (retryable), never a crash."""
    metrics = ("reach", "online_followers")
    with pytest.raises(BadResponse):
        parse(body, metrics, end_times=None)


def test_unrequested_metric_raises() -> None:
    """A metric that was not asked for means the answer is not ours: BadResponse."""
    body = {"data": [series("impressions", "day", [VALID_VALUE])]}
    with pytest.raises(BadResponse, match="impressions"):
        parse(body, ("reach",))


# -- fetched_now ----------------------------------------------------------------------------------


def test_fetched_now_is_utc_with_milliseconds() -> None:
    """fetched_at is UTC with millisecond precision and a ``Z``."""
    moment = dt.datetime(2019, 12, 30, 2, 0, 0, 123456, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert fetched_now(moment) == "2019-12-30T10:00:00.123Z"
