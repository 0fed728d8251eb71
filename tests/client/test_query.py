"""Unit tests for the library's pure parts: argument checks, range splitting, merging, models."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.client.models import checked_entries, insight_of, merge_entries
from collector.client.query import insights_query, metric_names, split_range, timestamp
from collector.errors import BadResponse

LA = ZoneInfo("America/Los_Angeles")
SPAN = 2_592_000
T2024 = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())
T2027 = int(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp())


def midnights(since: int, until: int) -> list[int]:
    """Every Pacific midnight in [since - 1 day, until + 1 day], by walking calendar dates."""
    day = dt.datetime.fromtimestamp(since, tz=LA).date() - dt.timedelta(days=1)
    found: list[int] = []
    while True:
        moment = int(dt.datetime(day.year, day.month, day.day, tzinfo=LA).timestamp())
        if moment > until + 86_400:
            return found
        found.append(moment)
        day += dt.timedelta(days=1)


ranges = st.tuples(st.integers(T2024, T2027), st.integers(0, 200 * 86_400)).map(
    lambda pair: (pair[0], pair[0] + pair[1])
)
# Edges on exact Pacific midnights are where an edge rule could matter most.
midnight_ranges = st.tuples(st.integers(0, 1000), st.integers(0, 200)).map(
    lambda pair: (
        int(dt.datetime(2024, 1, 1, tzinfo=LA).timestamp()) + pair[0] * 86_400,
        int(dt.datetime(2024, 1, 1, tzinfo=LA).timestamp()) + (pair[0] + pair[1]) * 86_400,
    )
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ranges, midnight_ranges))
def test_split_pieces_tile_the_range_within_the_span(bounds: tuple[int, int]) -> None:
    """Pieces start at since, end at until, touch end to start, and none exceeds 2,592,000 s."""
    since, until = bounds
    pieces = list(split_range(since, until))
    assert pieces[0][0] == since and pieces[-1][1] == until
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(0 <= end - start <= SPAN for start, end in pieces)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ranges, midnight_ranges))
def test_split_takes_the_fewest_requests_or_one_more(bounds: tuple[int, int]) -> None:
    """A range takes ceil(span / 2,592,000) requests (one more at most, after a midnight cut)."""
    since, until = bounds
    fewest = max(1, math.ceil((until - since) / SPAN))
    assert fewest <= len(list(split_range(since, until))) <= fewest + 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(ranges, midnight_ranges), st.booleans())
def test_split_returns_the_days_of_one_request(bounds: tuple[int, int], inclusive: bool) -> None:
    """Under either since-edge rule the pieces select each end_time of the whole range exactly once."""
    since, until = bounds

    def selected(lo: int, hi: int) -> list[int]:
        return [
            e for e in midnights(since, until) if (lo <= e if inclusive else lo < e) and e <= hi
        ]

    from_pieces = [e for start, end in split_range(since, until) for e in selected(start, end)]
    assert from_pieces == selected(since, until)


def test_short_range_is_one_piece_as_given() -> None:
    """A range of at most 30 days is sent unchanged, edges included."""
    assert list(split_range(1_000, 1_000 + SPAN)) == [(1_000, 1_000 + SPAN)]


def test_cut_on_a_midnight_moves_one_second_earlier() -> None:
    """An inner cut that would fall on a Pacific midnight falls one second before it."""
    since = int(dt.datetime(2025, 1, 1, tzinfo=LA).timestamp())  # 30 days later is a midnight
    pieces = list(split_range(since, since + 40 * 86_400))
    assert pieces[0] == (since, since + SPAN - 1)


def test_metric_names_split_trim_and_drop_repeats() -> None:
    """A comma-separated str is split, trimmed and de-duplicated, keeping first positions."""
    assert metric_names(" reach, impressions,reach,, ") == ("reach", "impressions")


def test_metric_names_send_a_set_sorted() -> None:
    """A set has no order, so its names go out sorted."""
    assert metric_names({"reach", "impressions", "follower_count"}) == (
        "follower_count",
        "impressions",
        "reach",
    )


def test_metric_names_refuse_other_types() -> None:
    """A number, or a list holding a non-string, is a TypeError."""
    with pytest.raises(TypeError):
        metric_names(7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        metric_names(["reach", 7])  # type: ignore[list-item]


@pytest.mark.parametrize(("given", "expected"), [(None, None), (5, 5), ("1764000000", 1764000000)])
def test_timestamp_takes_int_and_digit_text(given: object, expected: int | None) -> None:
    """Timestamps are ints or digit strings (pyfacebook's form); None stays None."""
    assert timestamp(given, "since") == expected


@pytest.mark.parametrize("given", [True, -1, "2025-01-01", "12.5", 12.5, "١٢"])
def test_timestamp_refuses_anything_else(given: object) -> None:
    """Bools, negatives, dates, fractions and non-ASCII digits are not Unix timestamps."""
    with pytest.raises(ValueError, match="since"):
        timestamp(given, "since")


def test_query_keeps_v18_parameters_in_order() -> None:
    """metric_type, breakdown and timeframe become query parameters in that order."""
    query = insights_query(
        "v22.0", 1784, "day", "views", metric_type="total_value", breakdown=["follow_type"]
    )
    assert (query.user_id, query.extra) == (
        "1784",
        (("metric_type", "total_value"), ("breakdown", "follow_type")),
    )


def test_series_over_30_days_is_splittable_and_totals_are_not() -> None:
    """A time series over 60 days yields 2 windows; a total_value over 60 days is a ValueError."""
    series = insights_query("v22.0", "1", "day", "reach", 0, 60 * 86_400)
    assert len(series.windows()) == 2
    total = insights_query("v22.0", "1", "day", "reach", 0, 60 * 86_400, metric_type="total_value")
    with pytest.raises(ValueError, match="cannot be merged"):
        total.windows()


def entry(name: str, *days: tuple[int, int], **head: Any) -> dict[str, Any]:
    values = [{"value": v, "end_time": f"2025-11-{d:02d}T08:00:00+0000"} for d, v in days]
    return {"name": name, "period": "day", "values": values, "title": name.title(), **head}


def test_merge_keeps_the_first_value_of_an_end_time() -> None:
    """A value repeated by two windows (same end_time) is kept once, from the older window."""
    windows = [[entry("reach", (1, 10), (2, 20))], [entry("reach", (2, 99), (3, 30))]]
    (merged,) = merge_entries(windows, ["reach"])
    assert [v["value"] for v in merged["values"]] == [10, 20, 30]


def test_merge_orders_metrics_as_requested() -> None:
    """Metrics come out in the request's order even when a window lacks one."""
    windows = [[entry("reach", (1, 1))], [entry("impressions", (2, 2)), entry("reach", (2, 3))]]
    merged = merge_entries(windows, ["impressions", "reach"])
    assert [e["name"] for e in merged] == ["impressions", "reach"]


def test_merge_leaves_its_inputs_alone() -> None:
    """Merging does not modify the windows' entries."""
    windows = [[entry("reach", (1, 10))], [entry("reach", (2, 20))]]
    before = copy.deepcopy(windows)
    merge_entries(windows, ["reach"])
    assert windows == before


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"data": {}},
        {"data": [{"period": "day", "values": []}]},
        {"data": [{"name": "reach", "values": []}]},
        {"data": [{"name": "reach", "period": "day"}]},
        {"data": [{"name": "reach", "period": "day", "values": [{"end_time": None}]}]},
        {"data": [{"name": "reach", "period": "day", "values": [{"value": "12"}]}]},
        {"data": [{"name": "reach", "period": "day", "values": [{"value": True}]}]},
        {"data": [{"name": "r", "period": "day", "values": [{"value": {"0": "x"}}]}]},
        {"data": [{"name": "r", "period": "day", "values": [{"value": 1, "end_time": "x"}]}]},
        {"data": [{"name": "r", "period": "day", "total_value": 5}]},
    ],
)
def test_checked_entries_refuse_shapes_the_api_never_sends(body: object) -> None:
    """A body without the documented insights shape is a BadResponse (retried as transport)."""
    with pytest.raises(BadResponse):
        checked_entries(body)


def test_total_value_entry_becomes_a_model_without_values() -> None:
    """A total_value entry has no values and carries its total_value object read-only."""
    raw = {"name": "views", "period": "day", "total_value": {"value": 224}, "id": "1/insights"}
    model = insight_of(checked_entries({"data": [raw]})[0])
    assert (model.values, dict(model.total_value or {})) == ((), {"value": 224})
    with pytest.raises(TypeError):
        model.total_value["value"] = 1  # type: ignore[index]


def test_model_end_time_is_aware_utc() -> None:
    """end_time 2019-12-20T08:00:00+0000 becomes the aware instant 08:00 UTC that day."""
    raw = {
        "name": "reach",
        "period": "day",
        "values": [{"value": 4, "end_time": "2019-12-20T08:00:00+0000"}],
    }
    (value,) = insight_of(raw).values
    assert value.end_time == dt.datetime(2019, 12, 20, 8, tzinfo=dt.UTC)
    assert value.end_time is not None and value.end_time.utcoffset() == dt.timedelta(0)
