"""The export's shapes without a store: days, wide column names, wide rows across batches."""

from __future__ import annotations

import datetime as dt

from collector.model.records import Point
from collector.reporting.export.columns import WideShape, column_names, day_of
from collector.storage.reader import Series


def test_date_is_the_pacific_day_before_the_end_time_across_dst() -> None:
    """A value ending at 07:00Z (summer) or 08:00Z (winter) describes the Pacific day before."""
    assert day_of("2025-11-02T07:00:00Z") == dt.date(2025, 11, 1)
    assert day_of("2025-11-03T08:00:00Z") == dt.date(2025, 11, 2)
    assert day_of(None) is None


def test_wide_names_are_short_and_spelled_out_only_where_they_collide() -> None:
    """Series whose short names would be equal get metric.period.key=value; the others stay
    metric[.period][.value...]."""
    series = [
        Series("reach", "day", "{}", 1, True),
        Series("reach", "week", "{}", 1, True),
        Series("reach", "day", '{"media_product_type":"REELS"}', 1, True),
        Series("x", "day", '{"a":"same"}', 1, True),
        Series("x", "day", '{"b":"same"}', 1, True),
    ]
    assert column_names(series) == [
        "reach", "reach.week", "reach.REELS", "x.day.a=same", "x.day.b=same",
    ]  # fmt: skip


def _point(account: str, end: str | None, metric: str, hour: str, value: int) -> Point:
    return Point(account, metric, "lifetime", end, {"hour": hour}, value, "v17.0", "t")


def test_wide_rows_are_the_same_in_small_batches_as_in_one() -> None:
    """Fed in chunks, a wide shape of two-row batches yields the same rows as one big batch,
    one per account and end_time, with a None where a series has no value."""
    days = ("2025-11-02T07:00:00Z", "2025-11-03T08:00:00Z", "2025-11-04T08:00:00Z")
    points = [
        _point(account, end, "online_followers", hour, i)
        for i, (account, end, hour) in enumerate(
            (a, e, h)
            for a in ("1", "2")
            for e in days
            for h in ("3", "12")
            if (e, h) != (days[1], "12")
        )
    ]
    series = [
        Series("online_followers", "lifetime", f'{{"hour":"{h}"}}', 5, True) for h in ("12", "3")
    ]

    def rows(size: int, chunk: int) -> list[tuple[object, ...]]:
        shape = WideShape(series, rows=size)
        batches = [
            b for i in range(0, len(points), chunk) for b in shape.feed(points[i : i + chunk])
        ]
        batches += list(shape.finish())
        names = [c.name for c in shape.columns]
        return [tuple(b[n][i] for n in names) for b in batches for i in range(len(b["date"]))]

    assert [c.name for c in WideShape(series).columns] == [
        "account_id", "date", "online_followers.3", "online_followers.12",
    ]  # fmt: skip
    one = rows(100, len(points))
    assert rows(2, 3) == one
    assert one[:3] == [
        ("1", dt.date(2025, 11, 1), 0, 1),
        ("1", dt.date(2025, 11, 2), 2, None),
        ("1", dt.date(2025, 11, 3), 3, 4),
    ]
    assert len(one) == 6
