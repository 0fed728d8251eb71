"""The emulator's catalogue: which metrics each API version serves, and how.

Written from SPEC section 2 on its own, never from ``collector/catalogue.py``: the
collector and the emulator each hold their reading of Meta's reference, so a mistake
in one shows up as a failure over HTTP instead of hiding in a shared table.

Versions (a change reaches every version from the one named on, SPEC 2):

- up to v17: 14 legacy metrics; ``metric_type``, ``breakdown``, ``timeframe`` unknown.
- v18: ``audience_*`` retired; ``follower_demographics`` and
  ``engaged_audience_demographics`` (lifetime, total_value, timeframe) and the
  total-value metrics arrive; ``reach`` takes ``metric_type`` ``time_series``
  (default) or ``total_value``; ``impressions`` keeps day/week/days_28.
  ``reach`` with ``period=week``/``days_28`` is disputed (Meta's v18+ reference
  table lists ``day``; Airbyte's production connector, source-instagram 4.x, sends
  both on v21.0 and its recorded fixtures ``user_insights_for_week.json`` and
  ``user_insights_for_days_28.json`` answer 200): kept by default, refused with
  scenario ``[fidelity] reach_long_periods = false`` (docs/emulator.md).
- v20: demographic timeframes reduced to ``this_week`` and ``this_month``.
- v21: ``profile_views`` and the five profile taps retired.
- v22: ``impressions`` retired; ``views`` and ``reposts`` added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Kind(StrEnum):
    """The shape of a metric's answer; one request serves a single kind."""

    SERIES = "series"  # one scalar per day, with end_time
    HOURLY = "hourly"  # online_followers: per day an hour -> followers map
    AUDIENCE = "audience"  # legacy audience_*: one lifetime map, no end_time, no range
    TOTAL = "total"  # total_value: one number for the whole since..until range
    DEMOGRAPHIC = "demographic"  # lifetime, total_value, timeframe and breakdown


TIME_SERIES = "time_series"
TOTAL_VALUE = "total_value"
METRIC_TYPES: tuple[str, ...] = (TIME_SERIES, TOTAL_VALUE)
PERIODS: tuple[str, ...] = ("day", "week", "days_28", "lifetime")

MIN_FOLLOWERS = 100  # SPEC 2: below this, the audience metrics answer empty data
HISTORY_DAYS = 30  # SPEC 2: follower_count / online_followers, today excluded
MAX_RANGE_S = 2_592_000  # SPEC 1: since and until at most 30 days apart
TOP_KEYS = 45  # SPEC 2: audience maps and demographics keep the top 45 keys

BREAKDOWN_VALUES: Mapping[str, tuple[str, ...]] = {
    "media_product_type": ("AD", "FEED", "REELS", "STORY"),
    "follow_type": ("FOLLOWER", "NON_FOLLOWER", "UNKNOWN"),
    "contact_button_type": (
        "BOOK_NOW",
        "CALL",
        "DIRECTION",
        "EMAIL",
        "INSTANT_EXPERIENCE",
        "TEXT",
        "UNDEFINED",
    ),
}
DEMOGRAPHIC_BREAKDOWNS: tuple[str, ...] = ("age", "city", "country", "gender")
OLD_TIMEFRAMES: tuple[str, ...] = (
    "last_14_days",
    "last_30_days",
    "last_90_days",
    "prev_month",
    "this_week",
    "this_month",
)
NEW_TIMEFRAMES: tuple[str, ...] = ("this_week", "this_month")
# The hash salt of a demographic asked without timeframe (follower_demographics only).
NO_TIMEFRAME = "lifetime"

PROFILE_TAPS: tuple[str, ...] = (
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
)
AUDIENCE_METRICS: tuple[str, ...] = (
    "audience_gender_age",
    "audience_locale",
    "audience_country",
    "audience_city",
)
# The dimension name each audience map's keys are recorded under (records.py).
AUDIENCE_DIMENSION: Mapping[str, str] = {
    "audience_city": "city",
    "audience_country": "country",
    "audience_locale": "locale",
    "audience_gender_age": "gender_age",
}

_TITLES: Mapping[str, tuple[str, str]] = {
    "impressions": ("Impressions", "Total number of times the account's media were seen"),
    "reach": ("Accounts reached", "Number of unique accounts that saw any of the media"),
    "profile_views": ("Profile views", "Number of times the account's profile was viewed"),
    "follower_count": ("Follower count", "New followers gained per day"),
    "email_contacts": ("Email contacts", "Taps on the email link in the profile"),
    "phone_call_clicks": ("Phone call clicks", "Taps on the call link in the profile"),
    "text_message_clicks": ("Text message clicks", "Taps on the text link in the profile"),
    "get_directions_clicks": ("Get directions clicks", "Taps on the directions link"),
    "website_clicks": ("Website clicks", "Taps on the website link in the profile"),
    "online_followers": ("Online followers", "Followers online in each hour of the day"),
    "audience_city": ("Audience city", "Followers by city (top 45)"),
    "audience_country": ("Audience country", "Followers by country (top 45)"),
    "audience_locale": ("Audience locale", "Followers by locale (top 45)"),
    "audience_gender_age": ("Gender and age", "Followers by gender and age group"),
    "accounts_engaged": ("Accounts engaged", "Accounts that interacted with the content"),
    "replies": ("Replies", "Replies to stories"),
    "total_interactions": ("Content interactions", "Likes, comments, shares and saves"),
    "likes": ("Likes", "Likes on posts, reels and videos"),
    "comments": ("Comments", "Comments on posts, reels and videos"),
    "shares": ("Shares", "Shares of posts, reels and videos"),
    "saves": ("Saves", "Saves of posts, reels and videos"),
    "profile_links_taps": ("Profile links taps", "Taps on the contact buttons of the profile"),
    "follows_and_unfollows": ("Follows and unfollows", "Accounts that followed or unfollowed"),
    "follower_demographics": ("Follower demographics", "Followers by the chosen breakdown"),
    "engaged_audience_demographics": (
        "Engaged audience demographics",
        "Engaged accounts by the chosen breakdown",
    ),
    "views": ("Views", "Times the account's content was played or displayed"),
    "reposts": ("Reposts", "Reposts of the account's content"),
}


@dataclass(frozen=True)
class MetricRule:
    """One metric as one API version serves it.

    ``metric_types`` lists the accepted ``metric_type`` values; empty means the
    version knows no such parameter (<= v17). ``default_type`` is what an omitted
    ``metric_type`` means; ``None`` means the metric insists on an explicit
    ``metric_type=total_value``. ``history_days`` limits how far back ``since`` may
    reach (today excluded); ``min_followers`` is the audience size below which the
    metric answers no data at all.
    """

    name: str
    kind: Kind
    periods: tuple[str, ...]
    metric_types: tuple[str, ...] = ()
    default_type: str | None = TIME_SERIES
    breakdowns: tuple[str, ...] = ()
    history_days: int | None = None
    min_followers: int = 0

    @property
    def title(self) -> str:
        return _TITLES[self.name][0]

    @property
    def description(self) -> str:
        return _TITLES[self.name][1]

    def kind_for(self, metric_type: str | None) -> Kind:
        """The answer's shape once ``metric_type`` (already validated) is applied."""
        if self.kind is Kind.SERIES and metric_type == TOTAL_VALUE:
            return Kind.TOTAL
        return self.kind


_VERSION_RE = re.compile(r"^v(\d+)\.(\d+)$")


def version_major(version: str) -> int | None:
    """``"v18.0"`` -> 18; ``None`` when ``version`` is not of the form ``vN.N``."""
    match = _VERSION_RE.match(version)
    return int(match.group(1)) if match else None


def _legacy() -> list[MetricRule]:
    day = ("day",)
    rules = [
        MetricRule("impressions", Kind.SERIES, ("day", "week", "days_28")),
        MetricRule("reach", Kind.SERIES, ("day", "week", "days_28")),
        MetricRule(
            "follower_count",
            Kind.SERIES,
            day,
            history_days=HISTORY_DAYS,
            min_followers=MIN_FOLLOWERS,
        ),
    ]
    rules += [MetricRule(name, Kind.SERIES, day) for name in PROFILE_TAPS]
    rules.append(MetricRule("profile_views", Kind.SERIES, day))
    rules += [
        MetricRule(name, Kind.AUDIENCE, ("lifetime",), min_followers=MIN_FOLLOWERS)
        for name in AUDIENCE_METRICS
    ]
    rules.append(
        MetricRule(
            "online_followers",
            Kind.HOURLY,
            ("lifetime",),
            history_days=HISTORY_DAYS,
            min_followers=MIN_FOLLOWERS,
        )
    )
    return rules


def _current(major: int, reach_long_periods: bool) -> list[MetricRule]:
    """v18 onward, before the per-version retirements are applied."""
    day = ("day",)
    series = (TIME_SERIES,)
    total = (TOTAL_VALUE,)
    rules = [
        MetricRule("impressions", Kind.SERIES, ("day", "week", "days_28"), series),
        MetricRule(
            "reach",
            Kind.SERIES,
            ("day", "week", "days_28") if reach_long_periods else day,
            METRIC_TYPES,
            TIME_SERIES,
            ("media_product_type", "follow_type"),
        ),
        MetricRule(
            "follower_count",
            Kind.SERIES,
            day,
            series,
            history_days=HISTORY_DAYS,
            min_followers=MIN_FOLLOWERS,
        ),
    ]
    rules += [MetricRule(name, Kind.SERIES, day, series) for name in PROFILE_TAPS]
    rules.append(MetricRule("profile_views", Kind.SERIES, day, series))
    rules.append(
        MetricRule(
            "online_followers",
            Kind.HOURLY,
            ("lifetime",),
            series,
            history_days=HISTORY_DAYS,
            min_followers=MIN_FOLLOWERS,
        )
    )
    rules.append(MetricRule("accounts_engaged", Kind.TOTAL, day, total, None))
    for name in ("total_interactions", "likes", "comments", "shares", "saves"):
        rules.append(MetricRule(name, Kind.TOTAL, day, total, None, ("media_product_type",)))
    rules.append(MetricRule("replies", Kind.TOTAL, day, total, None))
    for name in ("engaged_audience_demographics", "follower_demographics"):
        rules.append(
            MetricRule(
                name,
                Kind.DEMOGRAPHIC,
                ("lifetime",),
                total,
                None,
                DEMOGRAPHIC_BREAKDOWNS,
                min_followers=MIN_FOLLOWERS,
            )
        )
    rules.append(
        MetricRule(
            "follows_and_unfollows",
            Kind.TOTAL,
            day,
            total,
            None,
            ("follow_type",),
            min_followers=MIN_FOLLOWERS,
        )
    )
    rules.append(
        MetricRule("profile_links_taps", Kind.TOTAL, day, total, None, ("contact_button_type",))
    )
    if major >= 22:
        rules.append(
            MetricRule("views", Kind.TOTAL, day, total, None, ("follow_type", "media_product_type"))
        )
        rules.append(MetricRule("reposts", Kind.TOTAL, day, total, None))
    return rules


@cache
def catalogue(version: str, reach_long_periods: bool = True) -> Mapping[str, MetricRule]:
    """Every metric ``version`` serves, in the order Meta lists them in errors.

    ``reach_long_periods`` (scenario ``[fidelity]``) lets v18+ ``reach`` take
    ``week``/``days_28``. Raises ``ValueError`` for a version not of the form
    ``vN.N``; any well-formed version past the newest known one follows the newest rules.
    """
    major = version_major(version)
    if major is None:
        raise ValueError(f"not an API version: {version!r}")
    if major < 18:
        return {rule.name: rule for rule in _legacy()}
    retired: set[str] = set()
    if major >= 21:
        retired.update(PROFILE_TAPS, {"profile_views"})
    if major >= 22:
        retired.add("impressions")
    return {
        rule.name: rule for rule in _current(major, reach_long_periods) if rule.name not in retired
    }


def timeframes(version: str) -> tuple[str, ...]:
    """The demographic ``timeframe`` values ``version`` accepts (SPEC 2: v20 reduced them)."""
    major = version_major(version)
    if major is None or major < 18:
        return ()
    return OLD_TIMEFRAMES if major < 20 else NEW_TIMEFRAMES


def knows_v18_params(version: str) -> bool:
    """Whether ``version`` has ``metric_type``, ``breakdown`` and ``timeframe`` (v18+)."""
    major = version_major(version)
    return major is not None and major >= 18


def breakdown_values(breakdown: str) -> tuple[str, ...]:
    """The fixed values of a non-demographic breakdown (SPEC 2); demographics have open sets."""
    return BREAKDOWN_VALUES.get(breakdown, ())
