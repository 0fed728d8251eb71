"""The job as a short script around an SDK does it; shared by the two pull scripts.

Runs inside a client's own venv (standard library only; nothing of the collector).
The script finds the agency's accounts through ``/me/accounts``, then per account
asks in plain loops, 30 end_time dates a request (the API's limit), each window's
edges at 12:30 Pacific the day before its first date and 11:30 Pacific on its last
(SPEC 3: away from every end_time, so neither the edge rule nor a DST change moves a
day): ``reach`` daily (with ``follower_count`` on the last 30 dates, the only ones
served), weekly and 28-day; ``online_followers`` on the last 30 dates; the follower
demographics by city, country and age with gender, timeframe ``this_month``.

Output, on stdout: one JSON line per point ``{"account", "metric", "period",
"end_time", "dimensions", "value"}`` (an hour map and a demographic breakdown are
flattened, one point per key), then one line ``{"done": {"requests": N, "accounts": M}}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

LA = ZoneInfo("America/Los_Angeles")
WINDOW_DATES = 30
HISTORY_DATES = 30


@dataclass(frozen=True)
class Ask:
    """One insights request: the account, its parameters."""

    account: str
    params: dict[str, Any] = field(default_factory=dict)


def _at(day: dt.date, hour: int, minute: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA).timestamp())


def windows(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date, int, int]]:
    """(first date, last date, since, until) of each 30-date window of ``first..last``."""
    out = []
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=WINDOW_DATES - 1))
        out.append((start, end, _at(start - dt.timedelta(days=1), 12, 30), _at(end, 11, 30)))
        start = end + dt.timedelta(days=1)
    return out


def asks(account: str, first: dt.date, last: dt.date) -> list[Ask]:
    """The requests for one account over end_time dates ``first..last``."""
    history = last - dt.timedelta(days=HISTORY_DATES - 1)
    out: list[Ask] = []
    for lo, _hi, since, until in windows(first, last):
        span = {"since": since, "until": until}
        daily = ["reach", "follower_count"] if lo >= history else ["reach"]
        out.append(Ask(account, {"metric": daily, "period": "day", **span}))
        for period in ("week", "days_28"):
            out.append(Ask(account, {"metric": ["reach"], "period": period, **span}))
        if lo >= history:
            out.append(Ask(account, {"metric": ["online_followers"], "period": "lifetime", **span}))
    for breakdown in ("city", "country", "age,gender"):
        out.append(
            Ask(
                account,
                {
                    "metric": ["follower_demographics"],
                    "period": "lifetime",
                    "metric_type": "total_value",
                    "breakdown": breakdown,
                    "timeframe": "this_month",
                },
            )
        )
    return out


def points(account: str, entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Flatten one answer's ``data`` entries into points."""
    for entry in entries:
        base = {"account": account, "metric": entry["name"], "period": entry["period"]}
        for item in entry.get("values", []):
            value = item["value"]
            if isinstance(value, dict):
                for hour, count in value.items():
                    yield {
                        **base,
                        "end_time": item.get("end_time"),
                        "dimensions": {"hour": hour},
                        "value": count,
                    }
            else:
                yield {**base, "end_time": item.get("end_time"), "dimensions": {}, "value": value}
        for breakdown in (entry.get("total_value") or {}).get("breakdowns", []):
            keys = breakdown["dimension_keys"]
            for result in breakdown["results"]:
                dims = dict(zip(keys, result["dimension_values"], strict=True))
                yield {**base, "end_time": None, "dimensions": dims, "value": result["value"]}


def main(
    accounts_of: Callable[[str], list[str]],
    fetch: Callable[[str, Ask], list[dict[str, Any]]],
) -> int:
    """Parse ``--token-env NAME --first D --last D``, run the job, print the points.

    ``accounts_of(token)`` lists the IG account ids the token reaches (``/me/accounts``);
    ``fetch(token, ask)`` sends one insights request and returns its ``data`` entries.
    """
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--token-env", required=True, help="the variable holding the token")
    parser.add_argument("--first", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--last", required=True, type=dt.date.fromisoformat)
    args = parser.parse_args()
    token = os.environ[args.token_env]
    accounts = accounts_of(token)
    sent = 0
    for account in accounts:
        for ask in asks(account, args.first, args.last):
            sent += 1
            for point in points(account, fetch(token, ask)):
                sys.stdout.write(json.dumps(point) + "\n")
    sys.stdout.write(json.dumps({"done": {"requests": sent, "accounts": len(accounts)}}) + "\n")
    return 0
