"""Pacific day arithmetic of the emulator (SPEC section 3)."""

from __future__ import annotations

import datetime as dt

from collector.emulator import pacific

from .edge_support import utc


def test_summer_day_ends_at_seven_utc() -> None:
    """A summer day's end_time is the next Pacific midnight, 07:00Z (SPEC 3 example)."""
    assert pacific.graph_time(pacific.day_end(dt.date(2017, 5, 3))) == "2017-05-04T07:00:00+0000"


def test_winter_day_ends_at_eight_utc() -> None:
    """A winter day's end_time is 08:00Z (SPEC 3 example 2019-12-20T08:00:00+0000)."""
    assert pacific.graph_time(pacific.day_end(dt.date(2019, 12, 19))) == "2019-12-20T08:00:00+0000"


def test_spring_forward_day_has_23_hours() -> None:
    """2024-03-10 starts at 08:00Z and ends at 07:00Z the next day."""
    day = dt.date(2024, 3, 10)
    assert pacific.day_start(day) == utc("2024-03-10T08:00:00")
    assert pacific.day_end(day) == utc("2024-03-11T07:00:00")


def test_fall_back_day_has_25_hours() -> None:
    """2024-11-03 starts at 07:00Z and ends at 08:00Z the next day."""
    day = dt.date(2024, 11, 3)
    assert pacific.day_start(day) == utc("2024-11-03T07:00:00")
    assert pacific.day_end(day) == utc("2024-11-04T08:00:00")


def test_pacific_date_turns_at_pacific_midnight() -> None:
    """07:59Z on a winter morning is still the previous Pacific date; 08:00Z is the new one."""
    assert pacific.pacific_date(utc("2019-12-20T07:59:59")) == dt.date(2019, 12, 19)
    assert pacific.pacific_date(utc("2019-12-20T08:00:00")) == dt.date(2019, 12, 20)


def test_observed_spec_window_selects_ten_days() -> None:
    """since=1576771200, until=1577635200 selects the ten days ending 2019-12-20 .. 2019-12-29."""
    days = pacific.days_in_range(1576771200, 1577635200)
    assert [pacific.graph_time(pacific.day_end(d)) for d in days] == [
        f"2019-12-{n}T08:00:00+0000" for n in range(20, 30)
    ]


def test_exclusive_since_drops_day_ending_at_since() -> None:
    """By default a day whose end_time equals since is not selected."""
    since = int(utc("2019-12-20T08:00:00"))
    days = pacific.days_in_range(since, since + 86400)
    assert days == [dt.date(2019, 12, 20)]


def test_inclusive_since_keeps_day_ending_at_since() -> None:
    """With since_edge inclusive, the day whose end_time equals since is selected too."""
    since = int(utc("2019-12-20T08:00:00"))
    days = pacific.days_in_range(since, since + 86400, since_inclusive=True)
    assert days == [dt.date(2019, 12, 19), dt.date(2019, 12, 20)]


def test_noon_window_across_november_change_selects_exact_end_dates() -> None:
    """Noon(A-1)..noon(B) selects the days whose end_times fall on A..B, across the DST change."""
    first, last = dt.date(2024, 10, 20), dt.date(2024, 11, 18)
    days = pacific.days_in_range(pacific.noon(first - dt.timedelta(days=1)), pacific.noon(last))
    assert [pacific.pacific_date(pacific.day_end(d)) for d in days] == pacific.days_between(
        first, last
    )


def test_noon_window_across_march_change_selects_exact_end_dates() -> None:
    """The same holds across the March DST change, with the inclusive edge rule too."""
    first, last = dt.date(2024, 3, 1), dt.date(2024, 3, 20)
    days = pacific.days_in_range(
        pacific.noon(first - dt.timedelta(days=1)), pacific.noon(last), since_inclusive=True
    )
    assert len(days) == 20
    assert pacific.pacific_date(pacific.day_end(days[0])) == first


def test_reversed_range_selects_nothing() -> None:
    """until before since selects no day."""
    assert pacific.days_in_range(1577635200, 1576771200) == []


def test_rfc3339_uses_z() -> None:
    """Record timestamps end in Z."""
    assert pacific.rfc3339(int(utc("2019-12-20T08:00:00"))) == "2019-12-20T08:00:00Z"
