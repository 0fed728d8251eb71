"""since/until values as Meta reads them: Unix seconds, ISO 8601 and common strtotime forms."""

from __future__ import annotations

import datetime as dt

import pytest

from collector.emulator.pacific import PACIFIC
from collector.emulator.timeparse import parse_time

from .edge_support import BIG, ask, error_of, values_of

# 2025-11-20 12:00 in Los Angeles (PST, UTC-8).
NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC).timestamp()


def utc(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=dt.UTC).timestamp())


def pacific(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=PACIFIC).timestamp())


ABSOLUTE = {
    "1762000000": 1762000000,
    "@1762000000": 1762000000,
    " 1762000000 ": 1762000000,
    # Airbyte source-instagram 4.x and tap-instagram send this shape.
    "2025-11-01T08:00:00+00:00": utc(2025, 11, 1, 8),
    "2025-11-01T08:00:00+0000": utc(2025, 11, 1, 8),
    "2025-11-01T08:00:00+00": utc(2025, 11, 1, 8),
    "2025-11-01T08:00:00Z": utc(2025, 11, 1, 8),
    "2025-11-01T08:00:00 UTC": utc(2025, 11, 1, 8),
    "2025-11-01T08:00:00.750Z": utc(2025, 11, 1, 8),
    "2025-11-01T10:00:00+02:00": utc(2025, 11, 1, 8),
    "2025-11-01T00:00:00-07:00": utc(2025, 11, 1, 7),
    "2025-11-01T08:00Z": utc(2025, 11, 1, 8),
    # No zone: Pacific time, the zone of Meta's insights days.
    "2025-11-01": pacific(2025, 11, 1),
    "2025-11-01 08:00:00": pacific(2025, 11, 1, 8),
    "2025-11-01T08:00": pacific(2025, 11, 1, 8),
    "2025/11/01": pacific(2025, 11, 1),
    "11/01/2025": pacific(2025, 11, 1),
    "11/1/2025 08:30": pacific(2025, 11, 1, 8, 30),
}

RELATIVE = {
    "now": int(NOW),
    "NOW": int(NOW),
    "today": pacific(2025, 11, 20),
    "midnight": pacific(2025, 11, 20),
    "noon": pacific(2025, 11, 20, 12),
    "yesterday": pacific(2025, 11, 19),
    "tomorrow": pacific(2025, 11, 21),
    "-3 days": pacific(2025, 11, 17, 12),
    "3 days ago": pacific(2025, 11, 17, 12),
    "+1 day": pacific(2025, 11, 21, 12),
    "-1 week": pacific(2025, 11, 13, 12),
    "-2 weeks": pacific(2025, 11, 6, 12),
    "-1 fortnight": pacific(2025, 11, 6, 12),
    "-6 hours": int(NOW) - 6 * 3600,
    "-90 min": int(NOW) - 90 * 60,
    "-90 minutes": int(NOW) - 90 * 60,
    "-2 secs": int(NOW) - 2,
    "-30 seconds": int(NOW) - 30,
    "-1 month": pacific(2025, 10, 20, 12),
    "-1 year": pacific(2024, 11, 20, 12),
    "-1 month -2 days": pacific(2025, 10, 18, 12),
    # Calendar days keep the wall-clock time across the 2025-11-02 DST change.
    "-20 days": pacific(2025, 10, 31, 12),
}

REFUSED = [
    "",
    "   ",
    "next blue moon",
    "2025-13-01",
    "2025-02-30",
    "2025-11-01T25:00:00Z",
    "2025-11-01T08:00:00+25:00",
    "2025-11-01T08:00:00 PST",
    "1.5e9",
    "-1762000000",
    "first monday of next month",
    "last day",
    "3 days from now",
    "1762000000abc",
    "-3 dayz",
]


@pytest.mark.parametrize(("text", "expected"), sorted(ABSOLUTE.items()))
def test_absolute_forms(text: str, expected: int) -> None:
    """Unix seconds and ISO 8601 dates/datetimes (with or without a zone) parse exactly."""
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(("text", "expected"), sorted(RELATIVE.items()))
def test_relative_forms_are_anchored_at_now(text: str, expected: int) -> None:
    """Keywords and relative offsets count from ``now`` in Pacific time."""
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", REFUSED)
def test_everything_else_is_refused(text: str) -> None:
    """Forms outside the documented subset, and impossible dates, parse to None."""
    assert parse_time(text, NOW) is None


# The SPEC's observed window: 2019-12-19T16:00Z .. 2019-12-29T16:00Z.
SPEC_SINCE, SPEC_UNTIL = 1576771200, 1577635200


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (str(SPEC_SINCE), str(SPEC_UNTIL)),
        ("2019-12-19T16:00:00+00:00", "2019-12-29T16:00:00+00:00"),
        ("2019-12-19T08:00:00-08:00", "2019-12-29T08:00:00-08:00"),
        ("2019-12-19 08:00:00", "2019-12-29 08:00:00"),
        ("@1576771200", "2019-12-29T16:00:00Z"),
    ],
)
def test_every_form_of_the_same_window_serves_the_same_days(since: str, until: str) -> None:
    """The edge answers an ISO or strtotime window exactly as the same window in Unix seconds."""
    expected = values_of(
        ask(
            {"metric": "reach", "period": "day", "since": str(SPEC_SINCE), "until": str(SPEC_UNTIL)}
        )
    )
    answer = ask({"metric": "reach", "period": "day", "since": since, "until": until})
    assert values_of(answer) == expected
    assert len(expected) == 10


def test_relative_window_is_served() -> None:
    """since=-3 days&until=now is a valid window (anchored at the emulator's clock)."""
    answer = ask({"metric": "impressions", "period": "day", "since": "-3 days", "until": "now"})
    assert answer.status == 200
    assert [v["end_time"][:10] for v in values_of(answer)][-1] == "2019-12-30"


@pytest.mark.parametrize("name", ["since", "until"])
def test_unparsable_value_is_meta_error_100(name: str) -> None:
    """An unparsable since/until is a 400, code 100 '<name> param is not valid'."""
    answer = ask({"metric": "reach", "period": "day", name: "the day after"}, ig=BIG)
    assert error_of(answer) == (400, 100, f"(#100) {name} param is not valid")
