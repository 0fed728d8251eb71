"""Unit tests for collector.model.records: the point schema and time formats."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.model.records import Point, dimensions_json, graph_time_to_rfc3339, rfc3339

PACIFIC = ZoneInfo("America/Los_Angeles")


def point(**changes: object) -> Point:
    fields: dict[str, object] = {
        "account_id": "17841400000000001",
        "metric": "online_followers",
        "period": "lifetime",
        "end_time": "2019-12-20T08:00:00Z",
        "dimensions": {"hour": "13"},
        "value": 31,
        "api_version": "v17.0",
        "fetched_at": "2019-12-21T10:00:00.000Z",
    }
    fields.update(changes)
    return Point(**fields)  # type: ignore[arg-type]


# -- Point ---------------------------------------------------------------------------------


def test_key_ignores_the_payload() -> None:
    """Two readings of the same observation (other value, version, fetch time) share a key."""
    assert point().key() == point(value=99, api_version="v18.0", fetched_at="x").key()


def test_key_ignores_dimension_order() -> None:
    """Dimensions given in another order are the same identity."""
    a = point(dimensions={"follow_type": "FOLLOWER", "media_product_type": "REELS"})
    b = point(dimensions={"media_product_type": "REELS", "follow_type": "FOLLOWER"})
    assert a.key() == b.key()


@pytest.mark.parametrize(
    "change",
    [
        {"account_id": "2"},
        {"metric": "reach"},
        {"period": "day"},
        {"end_time": "2019-12-21T08:00:00Z"},
        {"end_time": None},
        {"dimensions": {"hour": "14"}},
        {"dimensions": {}},
    ],
)
def test_key_changes_with_each_identity_field(change: dict[str, object]) -> None:
    """Account, metric, period, end_time and dimensions each make a different observation."""
    assert point(**change).key() != point().key()


def test_as_dict_carries_every_schema_field() -> None:
    """as_dict has exactly the documented keys, with the point's values."""
    assert point().as_dict() == {
        "account_id": "17841400000000001",
        "metric": "online_followers",
        "period": "lifetime",
        "end_time": "2019-12-20T08:00:00Z",
        "dimensions": {"hour": "13"},
        "value": 31,
        "api_version": "v17.0",
        "fetched_at": "2019-12-21T10:00:00.000Z",
    }


def test_as_dict_copies_dimensions_into_a_plain_dict() -> None:
    """The dimensions in as_dict are a new dict, so callers cannot alter the point."""
    dims = {"city": "London, England"}
    out = point(dimensions=dims).as_dict()
    assert out["dimensions"] == dims
    assert out["dimensions"] is not dims


# -- dimensions_json -------------------------------------------------------------------------


def test_dimensions_json_sorts_keys_compactly() -> None:
    """The canonical text has sorted keys and no spaces."""
    assert dimensions_json({"b": "2", "a": "1"}) == '{"a":"1","b":"2"}'


def test_dimensions_json_of_nothing_is_an_empty_object() -> None:
    """A plain value's dimensions are stored as ``{}``."""
    assert dimensions_json({}) == "{}"


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
def test_dimensions_json_round_trips(dims: dict[str, str]) -> None:
    """The canonical text parses back to the same mapping (non-ASCII included)."""
    assert json.loads(dimensions_json(dims)) == dims


# -- rfc3339 / graph_time_to_rfc3339 ---------------------------------------------------------


def test_rfc3339_converts_to_utc_with_z() -> None:
    """Pacific midnight of a winter day is 08:00Z, written with a ``Z``."""
    assert rfc3339(dt.datetime(2019, 12, 20, tzinfo=PACIFIC)) == "2019-12-20T08:00:00Z"


def test_rfc3339_in_summer() -> None:
    """Pacific midnight of a summer day is 07:00Z."""
    assert rfc3339(dt.datetime(2017, 5, 4, tzinfo=PACIFIC)) == "2017-05-04T07:00:00Z"


def test_graph_time_utc_form() -> None:
    """Graph's ``+0000`` form becomes the same instant with ``Z``."""
    assert graph_time_to_rfc3339("2019-12-20T08:00:00+0000") == "2019-12-20T08:00:00Z"


def test_graph_time_with_another_offset_is_converted_to_utc() -> None:
    """An offset other than +0000 is converted to UTC."""
    assert graph_time_to_rfc3339("2017-05-04T00:00:00-0700") == "2017-05-04T07:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2019-12-20",
        "2019-12-20T08:00:00",
        "2019-12-20 08:00:00+0000",
        "2019-13-20T08:00:00+0000",
        "2019-02-30T08:00:00+0000",
        "2019-12-20T24:00:00+0000",
        "2019-12-20T08:61:00+0000",
    ],
)
def test_graph_time_rejects_what_is_not_a_timestamp(text: str) -> None:
    """Malformed or impossible timestamps raise ValueError, in the +0000 shape too."""
    with pytest.raises(ValueError):
        graph_time_to_rfc3339(text)


@given(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    ).map(lambda moment: moment.replace(microsecond=0))
)
def test_graph_time_agrees_with_the_instant(moment: dt.datetime) -> None:
    """Any UTC second written the Graph way converts to that instant's RFC 3339 text."""
    graph = f"{moment:%Y-%m-%dT%H:%M:%S}+0000"
    assert graph_time_to_rfc3339(graph) == moment.isoformat().replace("+00:00", "Z")
