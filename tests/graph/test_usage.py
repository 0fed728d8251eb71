"""Parsing Meta's usage headers (SPEC section 6): every key, every item, lenient numbers."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.graph.usage import (
    MAX_HEADER_CHARS,
    AppUsage,
    BucEntry,
    MalformedUsage,
    parse_app_usage,
    parse_buc_usage,
)

FAST = settings(deadline=None, max_examples=200)

# SPEC 6's documented examples, verbatim.
APP_EXAMPLE = '{"call_count":28,"total_time":25,"total_cputime":25}'
BUC_EXAMPLE = (
    '{"<business-id>": [{"type": "instagram", "call_count": 95,'
    ' "total_cputime": 20, "total_time": 20, "estimated_time_to_regain_access": 0}]}'
)


def buc_item(call: Any = 10, time: Any = 5, cpu: Any = 5, regain: Any = 0, **extra: Any) -> Any:
    """One BUC list item in Meta's field names."""
    return {
        "type": "instagram",
        "call_count": call,
        "total_time": time,
        "total_cputime": cpu,
        "estimated_time_to_regain_access": regain,
        **extra,
    }


def test_app_usage_reads_the_documented_example() -> None:
    """SPEC 6's X-App-Usage example gives its three percentages."""
    assert parse_app_usage(APP_EXAMPLE) == AppUsage(call_count=28, total_time=25, total_cputime=25)


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_app_usage_peak_is_the_highest_of_the_three(call: int, time: int, cpu: int) -> None:
    """``peak`` is the highest percentage, whichever field holds it."""
    header = json.dumps({"call_count": call, "total_time": time, "total_cputime": cpu})
    usage = parse_app_usage(header)
    assert usage is not None
    assert usage.peak == sorted([call, time, cpu])[-1]


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_absent_or_blank_header_is_no_report(raw: str | None) -> None:
    """An absent or blank header means no report yet: ``None`` and ``()``."""
    assert parse_app_usage(raw) is None
    assert parse_buc_usage(raw) == ()


def test_app_usage_ignores_unknown_fields() -> None:
    """Fields Meta adds later are ignored, not rejected."""
    raw = '{"call_count":3,"total_time":4,"total_cputime":5,"new_thing":{"x":[1]},"z":"?"}'
    assert parse_app_usage(raw) == AppUsage(3, 4, 5)


def test_app_usage_missing_field_counts_zero() -> None:
    """A known field that is missing counts as 0."""
    assert parse_app_usage('{"total_time": 40}') == AppUsage(0, 40, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(28, 28), (28.0, 28), ("28", 28), (" 28 ", 28), (27.2, 28), ("27.01", 28), (0, 0)],
)
def test_numbers_may_be_ints_floats_or_strings_rounded_up(value: Any, expected: int) -> None:
    """Ints, floats and numeric strings are read; fractions round up."""
    usage = parse_app_usage(json.dumps({"call_count": value, "total_time": 0, "total_cputime": 0}))
    assert usage is not None
    assert usage.call_count == expected


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"call_count": 1',
        "[1, 2, 3]",
        '"28"',
        "{}",
        '{"other": 5}',
        '{"call_count": true}',
        '{"call_count": -1}',
        '{"call_count": "nan"}',
        '{"call_count": "inf"}',
        '{"call_count": "0x1c"}',
        '{"call_count": null}',
        '{"call_count": [28]}',
        '{"call_count": "\u0663"}',
    ],
)
def test_malformed_app_usage_raises_malformed_usage(raw: str) -> None:
    """Anything that is not an object with a readable known field raises MalformedUsage."""
    with pytest.raises(MalformedUsage):
        parse_app_usage(raw)


def test_malformed_usage_is_a_value_error() -> None:
    """MalformedUsage is a ValueError, so generic handlers catch it."""
    assert issubclass(MalformedUsage, ValueError)


@pytest.mark.parametrize(
    "raw",
    [
        "MARKER-7f3a " * 50,
        '{"call_count": "MARKER-7f3a"}',
        '{"MARKER-7f3a": [{"call_count": "MARKER-7f3a"}]}',
        '{"MARKER-7f3a": 5}',
    ],
)
def test_malformed_message_never_quotes_the_header(raw: str) -> None:
    """The error message and its chained exceptions never carry the header's text."""
    for parse in (parse_app_usage, parse_buc_usage):
        with pytest.raises(MalformedUsage) as caught:
            parse(raw)
        assert "MARKER" not in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None


def test_overlong_header_is_malformed() -> None:
    """A header past MAX_HEADER_CHARS is refused without being parsed."""
    raw = '{"call_count": 1, "pad": "' + "x" * MAX_HEADER_CHARS + '"}'
    with pytest.raises(MalformedUsage):
        parse_app_usage(raw)


def test_buc_reads_the_documented_example() -> None:
    """SPEC 6's BUC example gives one entry keyed by its business id."""
    assert parse_buc_usage(BUC_EXAMPLE) == (
        BucEntry("<business-id>", "instagram", 95, 20, 20, 0.0),
    )


def test_buc_reads_both_the_business_id_and_the_ig_user_id_keys() -> None:
    """A call reported under the business id and the IG user id gives both entries."""
    raw = json.dumps({"111": [buc_item(call=30)], "178414": [buc_item(call=31)]})
    assert [(e.business_id, e.call_count) for e in parse_buc_usage(raw)] == [
        ("111", 30),
        ("178414", 31),
    ]


def test_buc_reads_every_item_of_a_list() -> None:
    """Every item of a key's list becomes an entry, not just the first."""
    raw = json.dumps({"111": [buc_item(call=1), buc_item(call=2), buc_item(call=3)]})
    assert [e.call_count for e in parse_buc_usage(raw)] == [1, 2, 3]


@FAST
@given(
    st.lists(
        st.lists(st.integers(0, 200), max_size=4),
        min_size=0,
        max_size=32,
    )
)
def test_buc_reads_every_key_and_item(lists: list[list[int]]) -> None:
    """Up to 32 keys with any number of items: every item comes back, in header order."""
    doc = {f"bid{k}": [buc_item(call=c) for c in calls] for k, calls in enumerate(lists)}
    got = [(e.business_id, e.call_count) for e in parse_buc_usage(json.dumps(doc))]
    assert got == [(f"bid{k}", c) for k, calls in enumerate(lists) for c in calls]


def test_buc_does_not_read_call_count_from_the_top_level() -> None:
    """The classic bug: a top-level ``call_count`` is a wrong shape, never a usage figure."""
    raw = json.dumps({"call_count": 99, "111": [buc_item(call=40)]})
    with pytest.raises(MalformedUsage):
        parse_buc_usage(raw)


def test_buc_rejects_an_app_usage_shaped_header() -> None:
    """An X-App-Usage body sent as the BUC header is malformed, not an entry of 28 %."""
    with pytest.raises(MalformedUsage):
        parse_buc_usage(APP_EXAMPLE)


def test_buc_ignores_unknown_fields() -> None:
    """Unknown fields in an item and unknown item types are kept out of the way."""
    raw = json.dumps({"111": [buc_item(call=12, novel={"a": 1}, more=[1, 2], type="pages")]})
    assert parse_buc_usage(raw) == (BucEntry("111", "pages", 12, 5, 5, 0.0),)


def test_buc_regain_minutes_may_be_a_string_or_a_fraction() -> None:
    """``estimated_time_to_regain_access`` is read as minutes, from ints, floats or strings."""
    raw = json.dumps({"1": [buc_item(regain="5")], "2": [buc_item(regain=1.5)]})
    assert [e.regain_minutes for e in parse_buc_usage(raw)] == [5.0, 1.5]


def test_buc_missing_fields_count_zero_and_type_empty() -> None:
    """An item with only some known fields reads the rest as 0 and its type as ''."""
    raw = json.dumps({"1": [{"call_count": 7}], "2": [{"estimated_time_to_regain_access": 3}]})
    assert parse_buc_usage(raw) == (
        BucEntry("1", "", 7, 0, 0, 0.0),
        BucEntry("2", "", 0, 0, 0, 3.0),
    )


@pytest.mark.parametrize(
    "raw",
    [
        "[]",
        '{"1": {"call_count": 5}}',
        '{"1": [5]}',
        '{"1": [{}]}',
        '{"1": [{"type": "instagram"}]}',
        '{"1": [{"call_count": 5, "type": 3}]}',
        '{"1": [{"call_count": 5, "estimated_time_to_regain_access": -2}]}',
        '{"1": [{"call_count": 5}], "2": null}',
    ],
)
def test_malformed_buc_raises_malformed_usage(raw: str) -> None:
    """A BUC header of the wrong shape anywhere raises MalformedUsage."""
    with pytest.raises(MalformedUsage):
        parse_buc_usage(raw)


def test_buc_empty_object_and_empty_lists_give_no_entries() -> None:
    """``{}`` and keys with empty lists are well-formed and report nothing."""
    assert parse_buc_usage("{}") == ()
    assert parse_buc_usage('{"1": [], "2": []}') == ()


MARK = "\u00a7"  # never in a message; leaves of the garbage below all carry it
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8).map(lambda s: MARK + s),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["call_count", "total_time", "estimated_time_to_regain_access"]),
                st.text(max_size=6).map(lambda s: MARK + s),
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@FAST
@given(json_values)
def test_garbage_json_never_crashes_except_as_malformed_usage(value: Any) -> None:
    """Any JSON value is either parsed or refused with MalformedUsage, never quoted."""
    raw = json.dumps(value)
    for parse in (parse_app_usage, parse_buc_usage):
        try:
            parse(raw)
        except MalformedUsage as exc:
            assert MARK not in str(exc)


@FAST
@given(st.text(max_size=60))
def test_garbage_text_never_crashes_except_as_malformed_usage(raw: str) -> None:
    """Arbitrary text (surrogates included) is parsed or refused with MalformedUsage."""
    for parse in (parse_app_usage, parse_buc_usage):
        with contextlib.suppress(MalformedUsage):
            parse(raw)
