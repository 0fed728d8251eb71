"""Pacific day math: midnights, noons, end_times and windows, against hand-worked values."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest

from collector.graph.pacific import (
    MAX_SPAN_S,
    Window,
    count_windows,
    end_time_date,
    end_time_of,
    pacific_date,
    pacific_midnight,
    pacific_noon,
    windows,
)


def utc(year: int, month: int, day: int, hour: int) -> int:
    """Unix seconds of a UTC wall time, computed without any time-zone database."""
    return calendar.timegm((year, month, day, hour, 0, 0, 0, 0, 0))


D = dt.date


def test_winter_midnight_is_eight_utc() -> None:
    """A winter Pacific midnight is 08:00 UTC (SPEC: end_time 2019-12-20T08:00:00+0000)."""
    assert pacific_midnight(D(2019, 12, 20)) == utc(2019, 12, 20, 8)


def test_summer_midnight_is_seven_utc() -> None:
    """A summer Pacific midnight is 07:00 UTC (SPEC: end_time 2017-05-04T07:00:00+0000)."""
    assert pacific_midnight(D(2017, 5, 4)) == utc(2017, 5, 4, 7)


def test_noon_is_twenty_utc_in_winter() -> None:
    """Pacific noon in winter is 20:00 UTC."""
    assert pacific_noon(D(2019, 12, 19)) == utc(2019, 12, 19, 20)


def test_noon_is_nineteen_utc_in_summer() -> None:
    """Pacific noon in summer is 19:00 UTC."""
    assert pacific_noon(D(2017, 5, 3)) == utc(2017, 5, 3, 19)


def test_end_time_of_winter_date() -> None:
    """The end_time of end_time date 2019-12-20 is that day's Pacific midnight in UTC."""
    assert end_time_of(D(2019, 12, 20)) == "2019-12-20T08:00:00Z"


def test_end_time_of_summer_date() -> None:
    """A summer end_time carries 07:00Z."""
    assert end_time_of(D(2017, 5, 4)) == "2017-05-04T07:00:00Z"


def test_end_time_date_reads_graph_form() -> None:
    """Graph's ``+0000`` end_time maps to the Pacific date it falls on."""
    assert end_time_date("2019-12-20T08:00:00+0000") == D(2019, 12, 20)


def test_end_time_date_reads_z_form() -> None:
    """The records' ``Z`` form maps to the same Pacific date."""
    assert end_time_date("2017-05-04T07:00:00Z") == D(2017, 5, 4)


def test_end_time_date_rejects_garbage() -> None:
    """Text that is not a timestamp raises ValueError."""
    with pytest.raises(ValueError):
        end_time_date("yesterday")


def test_pacific_date_before_midnight_utc() -> None:
    """03:00 UTC on Dec 21 is still Dec 20 in Pacific time."""
    assert pacific_date(dt.datetime(2019, 12, 21, 3, tzinfo=dt.UTC)) == D(2019, 12, 20)


def test_pacific_date_rejects_naive() -> None:
    """A naive datetime is refused rather than guessed."""
    with pytest.raises(ValueError):
        pacific_date(dt.datetime(2019, 12, 21, 3))


def test_fall_back_day_is_25_hours_noon_to_noon() -> None:
    """Across the November 2023 DST change (Nov 5) noon to noon lasts 25 hours."""
    assert pacific_noon(D(2023, 11, 5)) - pacific_noon(D(2023, 11, 4)) == 25 * 3600


def test_spring_forward_day_is_23_hours_noon_to_noon() -> None:
    """Across the March 2024 DST change (Mar 10) noon to noon lasts 23 hours."""
    assert pacific_noon(D(2024, 3, 10)) - pacific_noon(D(2024, 3, 9)) == 23 * 3600


def test_spec_observed_request_is_one_window() -> None:
    """End_time dates Dec 20..29 2019 are one window, 12:30 and 11:30 Pacific (20:30Z, 19:30Z)."""
    assert list(windows(D(2019, 12, 20), D(2019, 12, 29))) == [
        Window(
            D(2019, 12, 20),
            D(2019, 12, 29),
            utc(2019, 12, 19, 20) + 1800,
            utc(2019, 12, 29, 19) + 1800,
        )
    ]


def test_window_returns_the_spec_observed_end_times() -> None:
    """Under either edge rule the window gets SPEC's ten observed end_times, Dec 20..29 08:00Z."""
    (window,) = windows(D(2019, 12, 20), D(2019, 12, 29))
    candidates = [utc(2019, 12, day, 8) for day in range(18, 32)]
    exclusive = [e for e in candidates if window.since < e <= window.until]
    inclusive = [e for e in candidates if window.since <= e <= window.until]
    observed = [e for e in candidates if 1576771200 < e <= 1577635200]
    assert exclusive == inclusive == observed == [utc(2019, 12, day, 8) for day in range(20, 30)]


def test_plain_month_packs_thirty_dates() -> None:
    """Without a DST change a full window holds 30 dates, one hour under 2,592,000 s."""
    first = next(windows(D(2024, 1, 1), D(2024, 12, 31)))
    assert (first.first, first.last, first.until - first.since) == (
        D(2024, 1, 1),
        D(2024, 1, 30),
        MAX_SPAN_S - 3600,
    )


def test_fall_back_window_still_holds_30_dates() -> None:
    """A window containing the 25-hour day (Nov 5 2023) holds 30 dates in exactly 2,592,000 s."""
    windows_ = list(windows(D(2023, 10, 20), D(2023, 12, 31)))
    assert [(w.first, w.last) for w in windows_] == [
        (D(2023, 10, 20), D(2023, 11, 18)),
        (D(2023, 11, 19), D(2023, 12, 18)),
        (D(2023, 12, 19), D(2023, 12, 31)),
    ]
    assert windows_[0].until - windows_[0].since == MAX_SPAN_S


def test_spring_forward_window_holds_30_dates() -> None:
    """A window containing the 23-hour day (Mar 10 2024) still holds 30 dates, 1 hour short."""
    (only,) = windows(D(2024, 3, 1), D(2024, 3, 30))
    assert only.until - only.since == MAX_SPAN_S - 7200


def test_spring_forward_cannot_squeeze_a_31st_date() -> None:
    """31 dates across the spring change still exceed the limit, so they take two windows."""
    assert [w.days for w in windows(D(2024, 3, 1), D(2024, 3, 31))] == [30, 1]


def test_no_windows_for_reversed_range() -> None:
    """first after last yields nothing."""
    assert list(windows(D(2024, 3, 2), D(2024, 3, 1))) == []


def test_single_date_window_edges() -> None:
    """One end_time date asks from 12:30 the day before to 11:30 that day."""
    assert list(windows(D(2019, 12, 20), D(2019, 12, 20))) == [
        Window(
            D(2019, 12, 20),
            D(2019, 12, 20),
            utc(2019, 12, 19, 20) + 1800,
            utc(2019, 12, 20, 19) + 1800,
        )
    ]


def test_custom_span_is_honoured() -> None:
    """A one-week span packs seven ordinary dates per window."""
    assert [w.days for w in windows(D(2024, 1, 1), D(2024, 1, 20), 7 * 86400)] == [7, 7, 6]


def test_span_too_small_for_one_date_raises() -> None:
    """A span shorter than one date's 23 hours (12:30 to 11:30) cannot be honoured and says so."""
    with pytest.raises(ValueError, match="max_span"):
        next(windows(D(2024, 1, 1), D(2024, 1, 2), 82799))


def test_count_windows_two_years() -> None:
    """730 ordinary-and-DST dates in 2024-2025 take 25 windows (24 x ~30 + remainder)."""
    assert count_windows(D(2024, 1, 1), D(2025, 12, 30)) == 25


def test_window_dates_lists_each_date() -> None:
    """Window.dates walks first..last inclusive and days counts them."""
    window = Window(D(2024, 2, 28), D(2024, 3, 1), 0, 0)
    assert (list(window.dates()), window.days) == (
        [D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)],
        3,
    )
