"""Deterministic insight values: a pure function of (seed, account, metric, day, dimension).

Every number comes from a stable hash (BLAKE2b, never Python's salted ``hash()``) of
the scenario seed, the account id, the metric, the Pacific day and the dimension, so
two emulators with one seed serve the same bytes. Magnitudes scale with the account's
followers and keep the relations a collector may rely on:

- ``reach <= impressions`` every day, and so for every rolling sum;
- ``week`` / ``days_28`` are exactly the sums of the 7 / 28 *served* daily values
  ending that day (SPEC 3: rolling sums);
- today's value is partial, ``floor(full * elapsed fraction of the day)``;
- a day whose end_time is less than ``revision_hours`` old is served as
  ``full - floor(full * k)`` with ``k`` shrinking hour by hour to 0, so a value fetched
  again later can differ (SPEC 3: data may lag up to 48 hours); older days are final.
  One ``k`` per (account, day) is shared by every metric, so served values keep the
  order of full values (reach stays under impressions while revised).
- breakdown results partition a value exactly (largest remainder), so they sum to it.

``online_followers`` hour maps and lifetime maps are never partial or revised.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TypeVar

from collector.emulator import pacific
from collector.emulator.dimensions import AGES, CITIES, COUNTRIES, GENDER_AGE, GENDERS, LOCALES
from collector.emulator.rules import TOP_KEYS

# Share of followers an engaged-audience demographic covers, per timeframe.
_ENGAGED_SHARE: Mapping[str, float] = {
    "this_week": 0.08,
    "last_14_days": 0.14,
    "this_month": 0.25,
    "last_30_days": 0.28,
    "prev_month": 0.27,
    "last_90_days": 0.5,
}
_DEMOGRAPHIC_KEYS: Mapping[str, tuple[str, ...]] = {
    "age": AGES,
    "gender": GENDERS,
    "country": COUNTRIES,
    "city": CITIES,
}
_AUDIENCE_KEYS: Mapping[str, tuple[str, ...]] = {
    "audience_city": CITIES,
    "audience_country": COUNTRIES,
    "audience_locale": LOCALES,
    "audience_gender_age": GENDER_AGE,
}
K = TypeVar("K", str, tuple[str, ...])


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by ``parts`` (BLAKE2b of their text)."""
    return _unit_of_text("|".join(map(str, parts)))


def _unit_of_text(text: str) -> float:
    """:func:`unit` of parts already joined with ``|``."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _between(low: float, high: float, *parts: object) -> float:
    return low + (high - low) * unit(*parts)


@lru_cache(maxsize=65536)
def full_value(seed: int, account_id: str, followers: int, metric: str, day: dt.date) -> int:
    """The final (fully counted) value of a scalar daily metric on ``day``.

    Derived metrics are built from their bases so their relations hold exactly
    (reach <= impressions, total_interactions = likes + comments + shares + saves,
    profile_links_taps = the five profile taps).
    """
    key = (seed, account_id, metric, day.isoformat())
    if metric == "impressions":
        return math.floor(followers * _between(0.3, 2.5, *key))
    if metric == "views":
        return math.floor(
            full_value(seed, account_id, followers, "impressions", day) * _between(1.0, 1.6, *key)
        )
    if metric == "reach":
        return math.floor(
            full_value(seed, account_id, followers, "impressions", day) * _between(0.35, 0.9, *key)
        )
    if metric == "accounts_engaged":
        return math.floor(
            full_value(seed, account_id, followers, "reach", day) * _between(0.01, 0.1, *key)
        )
    if metric == "profile_views":
        return math.floor(
            full_value(seed, account_id, followers, "reach", day) * _between(0.005, 0.05, *key)
        )
    if metric == "follower_count":
        return math.floor(followers * _between(0.0, 0.02, *key))
    if metric == "follows_and_unfollows":
        unfollows = math.floor(followers * _between(0.0, 0.008, *key))
        return full_value(seed, account_id, followers, "follower_count", day) + unfollows
    if metric in (
        "email_contacts",
        "phone_call_clicks",
        "text_message_clicks",
        "get_directions_clicks",
        "website_clicks",
    ):
        # Small counts, often 0: half the days see no tap at all.
        if unit(*key, "any") < 0.5:
            return 0
        return 1 + math.floor(min(followers * 0.002, 25.0) * unit(*key))
    if metric == "profile_links_taps":
        return sum(
            full_value(seed, account_id, followers, tap, day)
            for tap in (
                "email_contacts",
                "phone_call_clicks",
                "text_message_clicks",
                "get_directions_clicks",
                "website_clicks",
            )
        )
    if metric == "likes":
        return math.floor(
            full_value(seed, account_id, followers, "reach", day) * _between(0.02, 0.1, *key)
        )
    if metric in ("comments", "shares", "saves", "reposts"):
        return math.floor(
            full_value(seed, account_id, followers, "likes", day) * _between(0.0, 0.15, *key)
        )
    if metric == "total_interactions":
        return sum(
            full_value(seed, account_id, followers, part, day)
            for part in ("likes", "comments", "shares", "saves")
        )
    if metric == "replies":
        return math.floor(followers * _between(0.0, 0.002, *key))
    raise KeyError(f"no daily values for metric {metric!r}")


def revision_factor(
    seed: int, account_id: str, day: dt.date, now: float, revision_hours: float
) -> float:
    """The share ``k`` withheld from ``day``'s full value at ``now`` (0 once final).

    ``k`` starts in [2%, 10%) when the day ends and falls linearly with each whole hour
    that passes, reaching 0 at ``revision_hours`` after the day's end_time.
    """
    age_s = now - pacific.day_end(day)
    if age_s < 0 or revision_hours <= 0 or age_s >= revision_hours * 3600:
        return 0.0
    hours = math.floor(age_s / 3600)
    start = _between(0.02, 0.1, seed, account_id, "revision", day.isoformat())
    return start * max(0.0, 1.0 - hours / revision_hours)


def served_value(
    seed: int,
    account_id: str,
    followers: int,
    metric: str,
    day: dt.date,
    now: float,
    revision_hours: float,
) -> int | None:
    """``metric`` for ``day`` as served at ``now``; ``None`` if the day has not begun."""
    start, end = _bounds(day)
    if now < start:
        return None
    full = full_value(seed, account_id, followers, metric, day)
    if now < end:  # today: partial, grows with the clock
        return math.floor(full * (now - start) / (end - start))
    if revision_hours <= 0 or now - end >= revision_hours * 3600:
        return full  # final: revision_factor would be 0
    k = revision_factor(seed, account_id, day, now, revision_hours)
    return full - math.floor(full * k)


@lru_cache(maxsize=8192)
def _bounds(day: dt.date) -> tuple[int, int]:
    """The Pacific midnights that start and end ``day`` (unix seconds)."""
    return pacific.day_start(day), pacific.day_end(day)


def rolling_value(
    seed: int,
    account_id: str,
    followers: int,
    metric: str,
    day: dt.date,
    span: int,
    now: float,
    revision_hours: float,
) -> int:
    """Sum of the served daily values of the ``span`` days ending with ``day`` (7 or 28)."""
    total = 0
    for back in range(span):
        value = served_value(
            seed, account_id, followers, metric, day - dt.timedelta(days=back), now, revision_hours
        )
        total += value or 0
    return total


def hour_map(seed: int, account_id: str, followers: int, day: dt.date) -> dict[str, int]:
    """``online_followers`` for ``day``: hour "0".."23" -> followers online (<= followers)."""
    prefix = f"{seed}|{account_id}|online|{day.isoformat()}"
    base = 0.05 + (0.3 - 0.05) * _unit_of_text(prefix)
    result: dict[str, int] = {}
    for hour, rhythm in enumerate(_RHYTHM):
        # A daily rhythm peaking in the evening, with per-hour noise: the same draw as
        # _between(0.85, 1.15, seed, account_id, "online", day.isoformat(), hour).
        noise = 0.85 + (1.15 - 0.85) * _unit_of_text(f"{prefix}|{hour}")
        result[str(hour)] = min(followers, math.floor(followers * base * rhythm * noise))
    return result


_RHYTHM: tuple[float, ...] = tuple(
    0.55 + 0.45 * math.sin((hour - 13) * math.pi / 12) for hour in range(24)
)


def top_keys(values: Mapping[K, int], limit: int = TOP_KEYS) -> list[tuple[K, int]]:
    """The ``limit`` largest entries, by value descending then key ascending."""
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    return list(ordered[:limit])


def _shares(total: int, keys: Sequence[K], *salt: object) -> dict[K, int]:
    """Split ``total`` over ``keys`` with hashed, skewed weights (largest remainder: exact sum)."""
    weights = [unit(*salt, key) ** 3 + 0.001 for key in keys]
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    floors = [math.floor(x) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return dict(zip(keys, floors, strict=True))


def audience_map(
    seed: int, account_id: str, followers: int, metric: str, today: dt.date
) -> dict[str, int]:
    """A legacy ``audience_*`` lifetime map as of ``today``, cut to the top 45 keys."""
    keys = _AUDIENCE_KEYS[metric]
    shares = _shares(followers, keys, seed, account_id, metric, today.isoformat())
    return dict(top_keys(shares))


def demographic_map(
    seed: int,
    account_id: str,
    followers: int,
    metric: str,
    breakdowns: Sequence[str],
    timeframe: str,
    today: dt.date,
) -> dict[tuple[str, ...], int]:
    """Demographic results keyed by one value per breakdown, top 45 by value.

    ``follower_demographics`` splits all followers; ``engaged_audience_demographics``
    splits the share of them engaged within ``timeframe``.
    """
    if metric == "follower_demographics":
        total = followers
    else:
        total = math.floor(followers * _ENGAGED_SHARE[timeframe])
    combos = [tuple(c) for c in itertools.product(*(_DEMOGRAPHIC_KEYS[b] for b in breakdowns))]
    shares = _shares(total, combos, seed, account_id, metric, timeframe, today.isoformat())
    return dict(top_keys(shares))


def split_value(
    seed: int,
    account_id: str,
    metric: str,
    day: dt.date,
    value: int,
    breakdowns: Sequence[str],
    values_of: Mapping[str, tuple[str, ...]],
) -> dict[tuple[str, ...], int]:
    """``value`` of ``day`` partitioned over every combination of the breakdowns' values."""
    combos = [tuple(c) for c in itertools.product(*(values_of[b] for b in breakdowns))]
    return _shares(value, combos, seed, account_id, metric, day.isoformat(), *breakdowns)
