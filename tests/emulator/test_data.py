"""Deterministic emulator values: magnitudes, relations, partial days and revisions."""

from __future__ import annotations

import datetime as dt
import re

from collector.emulator import data, pacific

from .edge_support import utc

SEED, ACC, FOLLOWERS = 11, "17841400000000077", 50_000
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(120)]
LATER = utc("2025-01-01T00:00:00")  # every day of DAYS is long final then


def served(metric: str, day: dt.date, now: float, hours: float = 48.0) -> int | None:
    return data.served_value(SEED, ACC, FOLLOWERS, metric, day, now, hours)


def test_impressions_scale_with_followers() -> None:
    """Daily impressions lie within followers x [0.3, 2.5]."""
    for day in DAYS:
        value = data.full_value(SEED, ACC, FOLLOWERS, "impressions", day)
        assert 0.3 * FOLLOWERS - 1 <= value <= 2.5 * FOLLOWERS


def test_reach_never_exceeds_impressions() -> None:
    """reach <= impressions for every final day."""
    for day in DAYS:
        assert served("reach", day, LATER) <= served("impressions", day, LATER)  # type: ignore[operator]


def test_reach_stays_under_impressions_while_revised_or_partial() -> None:
    """reach <= impressions also for the partial day and days still under revision."""
    day = dt.date(2024, 3, 5)
    start = pacific.day_start(day)
    for hour in range(0, 24 + 60, 3):
        now = start + hour * 3600 + 1
        assert served("reach", day, now) <= served("impressions", day, now)  # type: ignore[operator]


def test_same_seed_gives_same_values() -> None:
    """Two computations with one seed agree value for value."""
    first = [data.full_value(SEED, ACC, FOLLOWERS, "reach", d) for d in DAYS]
    data.full_value.cache_clear()
    again = [data.full_value(SEED, ACC, FOLLOWERS, "reach", d) for d in DAYS]
    assert first == again


def test_other_seed_gives_other_values() -> None:
    """Another seed changes the series."""
    first = [data.full_value(SEED, ACC, FOLLOWERS, "reach", d) for d in DAYS]
    other = [data.full_value(SEED + 1, ACC, FOLLOWERS, "reach", d) for d in DAYS]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 100


def test_profile_taps_are_small_and_often_zero() -> None:
    """A profile tap series has zero days and non-zero days, all small."""
    values = [data.full_value(SEED, ACC, FOLLOWERS, "website_clicks", d) for d in DAYS]
    assert 0 in values
    assert any(values)
    assert max(values) <= 26


def test_follower_count_is_at_most_two_percent() -> None:
    """New followers per day stay within 0..2% of followers."""
    for day in DAYS:
        assert 0 <= data.full_value(SEED, ACC, FOLLOWERS, "follower_count", day) <= 1000


def test_day_not_begun_has_no_value() -> None:
    """A day that starts after now has no value at all."""
    day = dt.date(2024, 3, 5)
    assert served("impressions", day, pacific.day_start(day) - 1) is None


def test_partial_today_grows_with_the_clock() -> None:
    """Today's value grows during the day and stays below the full value."""
    day = dt.date(2024, 3, 5)
    full = data.full_value(SEED, ACC, FOLLOWERS, "impressions", day)
    start = pacific.day_start(day)
    morning, evening = (
        served("impressions", day, start + 3 * 3600),
        served("impressions", day, start + 20 * 3600),
    )
    assert morning is not None and evening is not None
    assert morning < evening < full


def test_partial_value_is_floor_of_elapsed_share() -> None:
    """At a quarter of the day, the partial value is floor(full / 4)."""
    day = dt.date(2024, 3, 5)  # a 24-hour day
    full = data.full_value(SEED, ACC, FOLLOWERS, "impressions", day)
    assert served("impressions", day, pacific.day_start(day) + 6 * 3600) == full // 4


def test_recent_day_is_revised_then_final() -> None:
    """A day under revision_hours is served below its full value and changes; later it is full."""
    day = dt.date(2024, 3, 5)
    end = pacific.day_end(day)
    full = data.full_value(SEED, ACC, FOLLOWERS, "impressions", day)
    early, later = served("impressions", day, end + 60), served("impressions", day, end + 30 * 3600)
    assert early is not None and later is not None
    assert early < later < full
    assert served("impressions", day, end + 48 * 3600) == full


def test_no_revisions_when_revision_hours_is_zero() -> None:
    """revision_hours = 0 serves a finished day in full at once."""
    day = dt.date(2024, 3, 5)
    full = data.full_value(SEED, ACC, FOLLOWERS, "impressions", day)
    assert served("impressions", day, pacific.day_end(day) + 1, hours=0) == full


def test_rolling_value_is_sum_of_served_days() -> None:
    """A 7-day rolling value is the sum of the seven served daily values ending that day."""
    day, now = dt.date(2024, 3, 5), pacific.day_end(dt.date(2024, 3, 5)) + 3600
    expected = sum(served("reach", day - dt.timedelta(days=i), now) or 0 for i in range(7))
    assert data.rolling_value(SEED, ACC, FOLLOWERS, "reach", day, 7, now, 48) == expected


def test_hour_map_has_24_hours_within_followers() -> None:
    """online_followers has keys "0".."23", each value between 0 and followers."""
    hours = data.hour_map(SEED, ACC, FOLLOWERS, dt.date(2024, 3, 5))
    assert list(hours) == [str(h) for h in range(24)]
    assert all(0 <= v <= FOLLOWERS for v in hours.values())


def test_audience_city_is_cut_to_45_of_more_keys() -> None:
    """audience_city draws from more than 45 cities and keeps the 45 largest."""
    full = data._shares(FOLLOWERS, data.CITIES, SEED, ACC, "audience_city", "2024-03-05")
    cut = data.audience_map(SEED, ACC, FOLLOWERS, "audience_city", dt.date(2024, 3, 5))
    assert len(data.CITIES) > 45 and len(cut) == 45
    assert min(cut.values()) >= max(v for k, v in full.items() if k not in cut)


def test_gender_age_keys_have_meta_form() -> None:
    """audience_gender_age keys look like F.18-24, M.25-34, U.45-54."""
    amap = data.audience_map(SEED, ACC, FOLLOWERS, "audience_gender_age", dt.date(2024, 3, 5))
    assert all(re.fullmatch(r"[FMU]\.(\d\d-\d\d|65\+)", key) for key in amap)
    assert sum(amap.values()) == FOLLOWERS


def test_split_sums_to_the_value() -> None:
    """Breakdown parts add up exactly to the value they split."""
    parts = data.split_value(
        SEED,
        ACC,
        "likes",
        dt.date(2024, 3, 5),
        1234,
        ("media_product_type",),
        {"media_product_type": ("AD", "FEED", "REELS", "STORY")},
    )
    assert sorted(parts) == [("AD",), ("FEED",), ("REELS",), ("STORY",)]
    assert sum(parts.values()) == 1234


def test_total_interactions_is_the_sum_of_its_parts() -> None:
    """total_interactions = likes + comments + shares + saves, every day."""
    for day in DAYS[:30]:
        parts = sum(
            data.full_value(SEED, ACC, FOLLOWERS, m, day)
            for m in ("likes", "comments", "shares", "saves")
        )
        assert data.full_value(SEED, ACC, FOLLOWERS, "total_interactions", day) == parts


def test_demographic_map_keeps_top_45_combinations() -> None:
    """A two-breakdown demographic answer keeps at most 45 combinations."""
    result = data.demographic_map(
        SEED,
        ACC,
        FOLLOWERS,
        "follower_demographics",
        ("age", "city"),
        "this_month",
        dt.date(2024, 3, 5),
    )
    assert len(result) == 45
    assert all(len(key) == 2 for key in result)
