"""Rows (the hot path's tuple per point) and Points convert into each other without loss."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.model.records import Point
from collector.model.rows import (
    NO_END_TIME,
    end_time_text,
    end_ts_of,
    graph_time_to_ts,
    point_of,
    row_of,
)

_text = st.text(max_size=8)
_end_time = st.none() | st.integers(1, 4_102_444_800).map(
    lambda ts: dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
)
_points = st.builds(
    Point,
    account_id=_text,
    metric=_text,
    period=_text,
    end_time=_end_time,
    dimensions=st.dictionaries(_text, _text, max_size=3),
    value=st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False),
    api_version=_text,
    fetched_at=_text,
)


@given(_points)
def test_a_point_survives_the_round_trip_through_its_row(point: Point) -> None:
    assert point_of(row_of(point)) == point


@given(_points)
def test_a_row_survives_the_round_trip_through_its_point(point: Point) -> None:
    row = row_of(point)
    assert row_of(point_of(row)) == row


def test_a_point_without_end_time_has_the_no_end_time_key() -> None:
    assert end_ts_of(None) == NO_END_TIME and end_time_text(NO_END_TIME) is None


@pytest.mark.parametrize(
    ("graph", "rfc3339"),
    [
        ("2019-12-20T08:00:00+0000", "2019-12-20T08:00:00Z"),
        ("2019-12-20T00:00:00-0800", "2019-12-20T08:00:00Z"),
        ("2024-03-10T07:00:00+0000", "2024-03-10T07:00:00Z"),
    ],
)
def test_graph_end_times_become_the_same_instant(graph: str, rfc3339: str) -> None:
    assert end_time_text(graph_time_to_ts(graph)) == rfc3339
    assert graph_time_to_ts(graph) == end_ts_of(rfc3339)


@pytest.mark.parametrize("bad", ["2019-13-20T08:00:00+0000", "2019-12-20T08:00:00", "yesterday"])
def test_a_malformed_graph_end_time_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        graph_time_to_ts(bad)
