"""Which metrics each Graph API version serves, with which periods and types.

Written from SPEC section 2 (Meta's IG User Insights reference and changelogs),
independently of the emulator's own rules: a table shared by both would hide one
mistake in both, so the two meet only over HTTP in the tests.

Version ranges (a change reaches every version from the one named on):

- up to v17: the legacy catalogue, 14 metrics, no ``metric_type``.
- v18: ``audience_*`` retired for ``follower_demographics``; total-value metrics
  and ``engaged_audience_demographics`` arrive; ``reach`` takes ``metric_type``.
- v20: demographic ``timeframe`` keeps only ``this_week`` and ``this_month``.
- v21: the profile-tap series and ``profile_views`` retired.
- v22: ``impressions`` retired, ``views`` added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

# metric -> breakdown entries ("media_product_type", "age,gender"); hashable for caching
Breakdowns = tuple[tuple[str, tuple[str, ...]], ...]


class Shape(StrEnum):
    """How a metric's values come back, which decides how it is planned."""

    SERIES = "series"  # one value per day with an end_time (time_series)
    HOURLY_MAP = "hourly_map"  # online_followers: per day, hour -> followers
    AUDIENCE = "audience"  # legacy audience_*: one lifetime map, no end_time, no range
    TOTAL = "total"  # total_value: one total for the requested range
    DEMOGRAPHIC = "demographic"  # follower/engaged demographics: lifetime, timeframe


@dataclass(frozen=True)
class MetricSpec:
    """One metric as a given API version serves it.

    ``history_days`` is how far back the API still serves it (``None``: no limit).
    ``metric_types`` is empty for versions that take no ``metric_type``.
    ``min_followers`` is the audience size below which the API answers empty data.
    """

    name: str
    periods: tuple[str, ...]
    shape: Shape
    metric_types: tuple[str, ...] = ()
    breakdowns: tuple[str, ...] = ()
    history_days: int | None = None
    min_followers: int = 0


@dataclass(frozen=True)
class Retirement:
    """Why a metric is not in a version: the version that retired it, and its heir.

    ``replacement`` is the sentence a config error prints after "use". The
    structured fields say how ``check-config --suggest`` rewrites a config:
    ``heir`` is the metric to collect instead (``None``: nothing equivalent
    remains), ``breakdown`` the breakdown of the heir that recovers the old
    figure (``None``: the heir's plain value), ``key`` the breakdown value that
    stands for the old metric (``None``: all of them).
    """

    metric: str
    retired_in: str
    replacement: str
    heir: str | None = None
    breakdown: str | None = None
    key: str | None = None


LEGACY_METRICS: tuple[str, ...] = (
    "impressions",
    "reach",
    "profile_views",
    "follower_count",
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
    "online_followers",
    "audience_city",
    "audience_country",
    "audience_locale",
    "audience_gender_age",
)

PROFILE_TAPS: tuple[str, ...] = (
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
)

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
    "age": (),
    "city": (),
    "country": (),
    "gender": (),
}

ALL_TIMEFRAMES: tuple[str, ...] = (
    "last_14_days",
    "last_30_days",
    "last_90_days",
    "prev_month",
    "this_week",
    "this_month",
)
CURRENT_TIMEFRAMES: tuple[str, ...] = ("this_week", "this_month")

# SPEC section 2, "What changed". Heirs: Meta's changelogs name follower_demographics
# for audience_* and profile_links_taps for the profile taps; contact_button_type has
# no WEBSITE value and no breakdown carries locale, so those two have no exact heir.
_TAP = "profile_links_taps with breakdown=contact_button_type"
_RETIREMENTS: tuple[Retirement, ...] = (
    Retirement(
        "audience_city",
        "v18.0",
        "follower_demographics with breakdown=city",
        "follower_demographics",
        "city",
    ),
    Retirement(
        "audience_country",
        "v18.0",
        "follower_demographics with breakdown=country",
        "follower_demographics",
        "country",
    ),
    Retirement(
        "audience_gender_age",
        "v18.0",
        "follower_demographics with breakdown=age,gender",
        "follower_demographics",
        "age,gender",
    ),
    Retirement(
        "audience_locale",
        "v18.0",
        "nothing equivalent (follower_demographics has no locale breakdown; "
        "country is the closest)",
    ),
    Retirement(
        "profile_views",
        "v21.0",
        "nothing equivalent (no profile-view metric remains; "
        "profile_links_taps counts taps on the profile's buttons)",
    ),
    Retirement(
        "email_contacts",
        "v21.0",
        f"{_TAP} (EMAIL)",
        "profile_links_taps",
        "contact_button_type",
        "EMAIL",
    ),
    Retirement(
        "phone_call_clicks",
        "v21.0",
        f"{_TAP} (CALL)",
        "profile_links_taps",
        "contact_button_type",
        "CALL",
    ),
    Retirement(
        "text_message_clicks",
        "v21.0",
        f"{_TAP} (TEXT)",
        "profile_links_taps",
        "contact_button_type",
        "TEXT",
    ),
    Retirement(
        "get_directions_clicks",
        "v21.0",
        f"{_TAP} (DIRECTION)",
        "profile_links_taps",
        "contact_button_type",
        "DIRECTION",
    ),
    Retirement(
        "website_clicks",
        "v21.0",
        "profile_links_taps (contact_button_type has no WEBSITE value: "
        "website taps are not separable)",
        "profile_links_taps",
    ),
    Retirement("impressions", "v22.0", "views", "views"),
)

# Periods a metric kept under its name but lost (SPEC 2: from v18 reach is period=day
# only); impressions lost its periods with the metric itself.
_RETIRED_PERIODS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("reach", "v18.0", ("week", "days_28")),
)

_VERSION_RE = re.compile(r"^v(\d+)\.(\d+)$")


def parse_version(version: str) -> tuple[int, int]:
    """``"v17.0"`` -> ``(17, 0)``; raises ``ValueError`` for anything else."""
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"API version {version!r} is not of the form vNN.N (e.g. v17.0)")
    return int(match.group(1)), int(match.group(2))


def _legacy() -> dict[str, MetricSpec]:
    specs = {
        "impressions": MetricSpec("impressions", ("day", "week", "days_28"), Shape.SERIES),
        "reach": MetricSpec("reach", ("day", "week", "days_28"), Shape.SERIES),
        "profile_views": MetricSpec("profile_views", ("day",), Shape.SERIES),
        "follower_count": MetricSpec(
            "follower_count", ("day",), Shape.SERIES, history_days=30, min_followers=100
        ),
        "online_followers": MetricSpec(
            "online_followers",
            ("lifetime",),
            Shape.HOURLY_MAP,
            history_days=30,
            min_followers=100,
        ),
    }
    for name in PROFILE_TAPS:
        specs[name] = MetricSpec(name, ("day",), Shape.SERIES)
    for name in ("audience_city", "audience_country", "audience_locale", "audience_gender_age"):
        specs[name] = MetricSpec(name, ("lifetime",), Shape.AUDIENCE, min_followers=100)
    return specs


def _current_additions(major: int) -> dict[str, MetricSpec]:
    timeframes = ALL_TIMEFRAMES if major < 20 else CURRENT_TIMEFRAMES
    demographic_breakdowns = ("age", "city", "country", "gender")
    total = ("total_value",)
    specs = {
        "reach": MetricSpec(
            "reach",
            ("day",),
            Shape.SERIES,
            ("time_series", "total_value"),
            ("media_product_type", "follow_type"),
        ),
        "accounts_engaged": MetricSpec("accounts_engaged", ("day",), Shape.TOTAL, total),
        "replies": MetricSpec("replies", ("day",), Shape.TOTAL, total),
        "profile_links_taps": MetricSpec(
            "profile_links_taps", ("day",), Shape.TOTAL, total, ("contact_button_type",)
        ),
        "follows_and_unfollows": MetricSpec(
            "follows_and_unfollows",
            ("day",),
            Shape.TOTAL,
            total,
            ("follow_type",),
            min_followers=100,
        ),
        "follower_count": MetricSpec(
            "follower_count",
            ("day",),
            Shape.SERIES,
            ("time_series",),
            history_days=30,
            min_followers=100,
        ),
        "online_followers": MetricSpec(
            "online_followers",
            ("lifetime",),
            Shape.HOURLY_MAP,
            ("time_series",),
            history_days=30,
            min_followers=100,
        ),
    }
    for name in ("total_interactions", "likes", "comments", "shares", "saves"):
        specs[name] = MetricSpec(name, ("day",), Shape.TOTAL, total, ("media_product_type",))
    for name in ("follower_demographics", "engaged_audience_demographics"):
        specs[name] = MetricSpec(
            name,
            ("lifetime",),
            Shape.DEMOGRAPHIC,
            total,
            demographic_breakdowns,
            min_followers=100,
        )
    specs["_timeframes"] = MetricSpec("_timeframes", timeframes, Shape.DEMOGRAPHIC)
    return specs


@cache
def catalogue(version: str) -> Mapping[str, MetricSpec]:
    """Every metric ``version`` serves, by name (``ValueError`` for a malformed version)."""
    major, _ = parse_version(version)
    specs = _legacy()
    if major >= 18:
        specs.update(_current_additions(major))
        specs.pop("_timeframes")
        if major >= 22:
            specs["views"] = MetricSpec(
                "views",
                ("day",),
                Shape.TOTAL,
                ("total_value",),
                ("follow_type", "media_product_type"),
            )
            specs["reposts"] = MetricSpec("reposts", ("day",), Shape.TOTAL, ("total_value",))
        if "impressions" in specs:
            # impressions kept its legacy periods until it was retired
            specs["impressions"] = MetricSpec(
                "impressions", ("day", "week", "days_28"), Shape.SERIES, ("time_series",)
            )
    for gone in _RETIREMENTS:
        if major >= parse_version(gone.retired_in)[0]:
            specs.pop(gone.metric, None)
    return specs


def timeframes(version: str) -> tuple[str, ...]:
    """The demographic ``timeframe`` values ``version`` accepts (empty before v18)."""
    major, _ = parse_version(version)
    if major < 18:
        return ()
    return ALL_TIMEFRAMES if major < 20 else CURRENT_TIMEFRAMES


def retirement(metric: str, version: str) -> Retirement | None:
    """Why ``metric`` is missing from ``version``, if it was retired at or before it."""
    major, _ = parse_version(version)
    for gone in _RETIREMENTS:
        if gone.metric == metric and major >= parse_version(gone.retired_in)[0]:
            return gone
    return None


def retirements() -> tuple[Retirement, ...]:
    """Every metric retirement of SPEC section 2, oldest first (the README's table)."""
    return _RETIREMENTS


def retired_periods(metric: str, version: str) -> tuple[str, tuple[str, ...]] | None:
    """The version that took periods from ``metric`` while keeping it, and those periods."""
    major, _ = parse_version(version)
    for name, retired_in, periods in _RETIRED_PERIODS:
        if name == metric and major >= parse_version(retired_in)[0]:
            return retired_in, periods
    return None


def breakdown_choices(spec: MetricSpec) -> tuple[str, ...]:
    """The breakdowns a config may ask of ``spec`` (empty: none, or not total_value)."""
    return spec.breakdowns if "total_value" in spec.metric_types else ()


def default_metrics(version: str) -> tuple[str, ...]:
    """The metric list used when a config names none: every metric ``version`` serves."""
    return tuple(catalogue(version))
