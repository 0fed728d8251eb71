"""The NDJSON encoder: one point per line, exact JSON, integers kept as integers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.model.records import Point
from collector.storage.ndjson import decode_line, encode_point, encode_points


def _point(value: int | float = 5, **changes: object) -> Point:
    fields: dict[str, object] = {
        "account_id": "17841400008460056",
        "metric": "impressions",
        "period": "day",
        "end_time": "2019-12-20T08:00:00Z",
        "dimensions": {},
        "value": value,
        "api_version": "v17.0",
        "fetched_at": "2019-12-21T10:00:00Z",
    }
    fields.update(changes)
    return Point(**fields)  # type: ignore[arg-type]


def test_line_matches_hand_written_json() -> None:
    """A point encodes to exactly the documented key order, compact JSON and one newline."""
    point = _point(12, metric="online_followers", period="lifetime", dimensions={"hour": "13"})
    expected = (
        b'{"account_id":"17841400008460056","metric":"online_followers","period":"lifetime",'
        b'"end_time":"2019-12-20T08:00:00Z","dimensions":{"hour":"13"},"value":12,'
        b'"api_version":"v17.0","fetched_at":"2019-12-21T10:00:00Z"}\n'
    )
    assert encode_point(point) == expected


def test_integer_value_stays_integer() -> None:
    """An integer value is written without a decimal point and reads back as an int."""
    line = encode_point(_point(5))
    value = json.loads(line)["value"]
    assert (type(value), value) == (int, 5)


def test_float_value_keeps_fraction() -> None:
    """A fractional value reads back as the same float."""
    value = json.loads(encode_point(_point(0.125)))["value"]
    assert (type(value), value) == (float, 0.125)


def test_null_end_time_is_json_null() -> None:
    """A point without end_time (lifetime audience maps) is written with end_time null."""
    line = encode_point(_point(3, end_time=None, dimensions={"city": "London, England"}))
    assert json.loads(line)["end_time"] is None


def test_dimension_keys_are_sorted() -> None:
    """Dimensions are written with sorted keys whatever order the point holds them in."""
    point = _point(1, dimensions={"media_product_type": "REELS", "follow_type": "FOLLOWER"})
    assert b'"dimensions":{"follow_type":"FOLLOWER","media_product_type":"REELS"}' in (
        encode_point(point)
    )


def test_non_ascii_dimension_is_utf8() -> None:
    """A non-ASCII city name is written as UTF-8 and decodes back unchanged."""
    line = encode_point(_point(7, end_time=None, dimensions={"city": "São Paulo, Brazil"}))
    assert "São Paulo".encode() in line
    assert json.loads(line)["dimensions"] == {"city": "São Paulo, Brazil"}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_value_is_refused(bad: float) -> None:
    """A NaN or infinite value raises instead of being written as null."""
    with pytest.raises(ValueError, match="non-finite"):
        encode_point(_point(bad))


def test_encode_points_writes_one_line_per_point() -> None:
    """Several points become that many newline-terminated lines, in order."""
    points = [_point(v, end_time=f"2019-12-{20 + v}T08:00:00Z") for v in range(3)]
    lines = encode_points(points).split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line)["value"] for line in lines[:-1]] == [0, 1, 2]


def test_encode_no_points_is_empty() -> None:
    """No points encode to no bytes at all (not a blank line)."""
    assert encode_points([]) == b""


def test_decode_round_trips() -> None:
    """Decoding an encoded line gives back an equal point."""
    point = _point(42, dimensions={"follow_type": "NON_FOLLOWER"})
    assert decode_line(encode_point(point)) == point


# Text that needs JSON escaping, and the words of the line, glued together at random.
_text = st.lists(
    st.sampled_from(['"', "\\", "{", "}", ",", ":", "\n", "a", "é", "account_id"])
).map("".join)


@given(
    st.lists(
        st.builds(
            Point,
            account_id=_text,
            metric=_text,
            period=_text,
            end_time=st.none()
            | st.integers(1, 4_102_444_800).map(
                lambda ts: dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            dimensions=st.dictionaries(_text, _text, max_size=3),
            value=st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False),
            api_version=_text,
            fetched_at=_text,
        ),
        max_size=6,
    )
)
def test_encode_points_equals_each_point_encoded(points: list[Point]) -> None:
    """The batch encoder (bytes templates and cached JSON strings) gives byte for byte the
    lines of encode_point, even for text full of quotes, braces and the line's own words."""
    assert encode_points(points) == b"".join(encode_point(p) for p in points)


def test_encode_points_refuses_a_non_finite_value_among_others() -> None:
    """One NaN in a batch raises, as encode_point does, instead of writing null."""
    with pytest.raises(ValueError, match="non-finite"):
        encode_points([_point(1), _point(float("nan")), _point(2)])
