"""What a client report shows, read from the store: one account's figures for a period.

:func:`read_account` reads the account's points for the period and the one
before it (same length, just before) through a
:class:`~collector.storage.reader.PointReader` and sorts them into
:class:`AccountFigures`: daily series, profile-action parts, online followers
by hour, audience breakdowns, and the metrics the API answered with no data.
Nothing here renders; :mod:`collector.reporting.report.page` does.

Days are the days values describe (the Pacific day before the end_time's date,
as in exports). A day without a stored value is *missing*, never zero: the
series simply has no entry for it, and the page says how many days it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from collector.graph.pacific import pacific_date
from collector.reporting.export.columns import day_of
from collector.reporting.export.exporter import point_query
from collector.storage.reader import Answer, PointReader

__all__ = [
    "AUDIENCE",
    "FOLLOWER_GATED",
    "LABELS",
    "AccountFigures",
    "Breakdown",
    "Period",
    "read_account",
]

Number = int | float

# SPEC section 2: served only for accounts with at least 100 followers.
FOLLOWER_GATED: Final = frozenset({
    "follower_count", "online_followers", "follows_and_unfollows", "audience_city",
    "audience_country", "audience_locale", "audience_gender_age", "follower_demographics",
    "engaged_audience_demographics",
})  # fmt: skip

LABELS: Final = {
    "reach": "Reach", "views": "Views", "impressions": "Impressions",
    "accounts_engaged": "Accounts engaged", "total_interactions": "Interactions",
    "likes": "Likes", "comments": "Comments", "shares": "Shares", "saves": "Saves",
    "replies": "Replies", "reposts": "Reposts", "follower_count": "New followers",
    "follows_and_unfollows": "Follows and unfollows", "online_followers": "Online followers",
    "profile_views": "Profile views", "website_clicks": "Website taps",
    "email_contacts": "Email taps", "phone_call_clicks": "Call taps",
    "text_message_clicks": "Text taps", "get_directions_clicks": "Directions taps",
    "profile_links_taps": "Profile link taps",
    "audience_country": "Followers by country", "audience_city": "Followers by city",
    "audience_gender_age": "Followers by gender and age",
    "audience_locale": "Followers by locale", "follower_demographics": "Follower demographics",
}  # fmt: skip

# Audience charts: (metric, dimension key, how many parts at most), in page order. The
# legacy audience_* maps (up to v17) and follower_demographics (v18 on) never coexist
# for one account's version, but a store may hold both: each is shown if present.
AUDIENCE: Final = (
    ("audience_country", "country", 10), ("audience_city", "city", 10),
    ("audience_gender_age", "gender_age", 30), ("audience_locale", "locale", 10),
    ("follower_demographics", "country", 10), ("follower_demographics", "city", 10),
    ("follower_demographics", "age", 10), ("follower_demographics", "gender", 10),
)  # fmt: skip

# follower_demographics comes per timeframe; the longest one stored is shown.
_TIMEFRAMES: Final = ("THIS_MONTH", "THIS_WEEK")


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``first..last``, inclusive."""

    first: dt.date
    last: dt.date

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.length)]

    def before(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.first - dt.timedelta(days=self.length), self.first - dt.timedelta(1))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One audience chart: ``parts`` (key, value), largest first, at most ``limit`` of
    ``total_parts`` (``timeframe``: the demographics timeframe shown, or empty)."""

    metric: str
    key: str
    parts: tuple[tuple[str, Number], ...]
    total_parts: int
    timeframe: str = ""


@dataclass(slots=True)
class AccountFigures:
    """One account's stored figures for ``period`` and the period before it.

    ``daily[metric][day]`` holds the plain daily values (dimensions ``{}``) of
    both periods; ``taps[button][day]`` the ``profile_links_taps`` parts by
    ``contact_button_type``; ``hours[hour]`` the ``online_followers`` of each
    day of ``period`` that has them; ``empty`` the metrics the API was asked for
    days of ``period`` (or as a snapshot) and answered without a value (from the
    ledger: asked, answered, nothing stored).
    """

    account_id: str
    label: str
    period: Period
    daily: dict[str, dict[dt.date, Number]] = field(default_factory=dict)
    taps: dict[str, dict[dt.date, Number]] = field(default_factory=dict)
    hours: dict[int, list[Number]] = field(default_factory=dict)
    audience: list[Breakdown] = field(default_factory=list)
    empty: frozenset[str] = frozenset()

    def series(self, metric: str, *, previous: bool = False) -> dict[dt.date, Number]:
        """``metric``'s daily values in the period (or the one before), by day; missing
        days are absent."""
        period = self.period.before() if previous else self.period
        return {d: v for d, v in self.daily.get(metric, {}).items() if d in period}

    def has(self, metric: str) -> bool:
        """Whether any value of ``metric`` is stored for this period."""
        return bool(self.series(metric))

    def hourly_average(self) -> dict[int, float]:
        """Online followers per hour of day, averaged over the days that have the hour."""
        return {h: sum(v) / len(v) for h, v in sorted(self.hours.items())}

    def days_with_hours(self) -> int:
        """How many days of the period have online_followers values."""
        return max((len(v) for v in self.hours.values()), default=0)


async def read_account(
    reader: PointReader, account_id: str, label: str, period: Period
) -> AccountFigures:
    """The account's figures for ``period`` (and the one before), read through ``reader``."""
    figures = AccountFigures(account_id, label, period)
    earliest = period.before()
    query = point_query(earliest.first, period.last, accounts=(account_id,))
    lifetime: dict[tuple[str, str], dict[str, dict[str, Number]]] = {}
    seen: set[str] = set()  # metrics with a value for the period (or a snapshot)
    async for chunk in reader.chunks(query):
        for p in chunk:
            day = day_of(p.end_time)
            dims = p.dimensions
            if day is None or day in period:
                seen.add(p.metric)
            if day is None:  # a lifetime snapshot: audience maps, demographics
                for key, value in dims.items():
                    if key != "timeframe" and len(dims) <= 2:
                        frame = dims.get("timeframe", "")
                        lifetime.setdefault((p.metric, key), {}).setdefault(frame, {})[value] = (
                            p.value
                        )
            elif p.metric == "online_followers":
                if day in period and "hour" in dims:
                    figures.hours.setdefault(int(dims["hour"]), []).append(p.value)
            elif p.period != "day":
                continue  # week and days_28 are rolling sums of the daily values
            elif not dims:
                figures.daily.setdefault(p.metric, {})[day] = p.value
            elif p.metric == "profile_links_taps" and "contact_button_type" in dims:
                figures.taps.setdefault(dims["contact_button_type"], {})[day] = p.value
    figures.audience = list(_breakdowns(lifetime))
    answers = await reader.answered(account_id)
    figures.empty = frozenset(
        m for a in answers if _covers(a, period) for m in a.metrics if m not in seen
    )
    return figures


def _covers(answer: Answer, period: Period) -> bool:
    """Whether an answered request asked for any day of ``period`` (a snapshot: always).

    Its ``since`` falls on the first day it describes and its ``until`` on the day after
    the last (:mod:`collector.graph.pacific`: edges mid-day, end_times a day later).
    """
    if answer.since is None or answer.until is None:
        return True
    first = pacific_date(dt.datetime.fromtimestamp(answer.since, dt.UTC))
    last = pacific_date(dt.datetime.fromtimestamp(answer.until, dt.UTC)) - dt.timedelta(days=1)
    return first <= period.last and last >= period.first


def _breakdowns(
    lifetime: dict[tuple[str, str], dict[str, dict[str, Number]]],
) -> Iterator[Breakdown]:
    for metric, key, limit in AUDIENCE:
        frames = lifetime.get((metric, key))
        if not frames:
            continue
        frame = next((f for f in _TIMEFRAMES if f in frames), min(frames))
        parts = sorted(frames[frame].items(), key=lambda kv: (-kv[1], kv[0]))
        yield Breakdown(metric, key, tuple(parts[:limit]), len(parts), frame)
