"""The one job every client of the bed is given, and its ground truth.

The job (what an agency asks of a connector): the 20 accounts of ``scenario.toml``,
reached with one agency user token, on Graph API v21.0 (Airbyte's version), the
series Airbyte's ``user_insights`` stream reads (``follower_count`` and ``reach``
daily, ``reach`` weekly and 28-day, ``online_followers``) for the 90 end_time dates
ending today, and the follower demographics by city, country and age with gender.
``follower_count`` and ``online_followers`` exist for the last 30 days only
(SPEC 2), and a client may cover less than 90 days by design (Airbyte reads 30):
each client's figures say which dates it covered.

Truth comes from the emulator's own ``collector.emulator.truth``, for the dates and
the parameters a client actually asked for, at the time of comparison. The
scenario's ``revision_hours = 0`` makes every ended day final, so a value fetched a
minute earlier compares equal.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.emulator.pacific import pacific_date
from collector.emulator.scenario import Scenario, load_scenario
from collector.emulator.truth import truth_points

HERE = Path(__file__).resolve().parent
SCENARIO_PATH = HERE / "scenario.toml"
VERSION = "v21.0"
DAYS = 90
HISTORY_DAYS = 30  # SPEC 2: follower_count and online_followers, the last 30 days
# (metric, period) series of the job, in Airbyte's groups.
SERIES: tuple[tuple[str, str], ...] = (
    ("follower_count", "day"),
    ("reach", "day"),
    ("reach", "week"),
    ("reach", "days_28"),
    ("online_followers", "lifetime"),
)
HISTORY_LIMITED = frozenset({"follower_count", "online_followers"})
DEMOGRAPHIC = "follower_demographics"
BREAKDOWNS: tuple[str, ...] = ("city", "country", "age,gender")
TIMEFRAME = "this_month"  # what the SDK scripts and the collector send (Airbyte sends none)


@dataclass(frozen=True)
class Job:
    """The scenario, its accounts and token, and the end_time dates ``first..last``."""

    scenario: Scenario
    accounts: tuple[str, ...]
    token: str
    today: dt.date  # Pacific, when the bed started
    first: dt.date
    last: dt.date

    @property
    def history_first(self) -> dt.date:
        """The first end_time date of the 30-day metrics."""
        return max(self.first, self.today - dt.timedelta(days=HISTORY_DAYS - 1))


def load_job() -> Job:
    """The job over ``scenario.toml``: 90 end_time dates ending today (Pacific)."""
    scenario = load_scenario(SCENARIO_PATH)
    today = pacific_date(time.time())
    return Job(
        scenario=scenario,
        accounts=tuple(a.id for a in scenario.accounts),
        token=scenario.tokens[0].token,  # the agency's system user
        today=today,
        first=today - dt.timedelta(days=DAYS - 1),
        last=today,
    )


def end_key(text: str) -> int:
    """Unix seconds of an end_time written any way a client writes it."""
    moment = dt.datetime.fromisoformat(text.replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def series_truth(
    job: Job,
    account: str,
    metric: str,
    period: str,
    first: dt.date,
    last: dt.date,
) -> dict[int, Any]:
    """end_time (unix) -> value of one series over end_time dates ``first..last``;
    ``online_followers`` values are hour maps (``{"0": 12, ...}``)."""
    points = truth_points(
        job.scenario,
        account_id=account,
        metric=metric,
        period=period,
        first_end_date=first,
        last_end_date=last,
        now=time.time(),
        version=VERSION,
    )
    out: dict[int, Any] = {}
    for end, dims, value in points:
        assert end is not None
        if "hour" in dims:
            out.setdefault(end_key(end), {})[dims["hour"]] = value
        else:
            out[end_key(end)] = value
    return out


def demographic_truth(
    job: Job, account: str, breakdown: str, timeframe: str | None
) -> list[tuple[dict[str, str], int | float]]:
    """The demographic results, in the order Meta lists them: (dimensions, value)."""
    points = truth_points(
        job.scenario,
        account_id=account,
        metric=DEMOGRAPHIC,
        period="lifetime",
        first_end_date=job.today,
        last_end_date=job.today,
        now=time.time(),
        version=VERSION,
        metric_type="total_value",
        breakdown=breakdown,
        timeframe=timeframe,
    )
    return [(dims, value) for _end, dims, value in points]


Key = tuple[str, str, str, int | None, str]  # account, metric, period, end_time, dimensions


def job_truth(job: Job) -> dict[Key, Any]:
    """Every point of the job, flattened as a collector or an SDK script stores points:
    a series value per end_time, an hour of ``online_followers`` per (end_time, hour),
    a demographic result per dimensions (timeframe ``this_month``, no end_time)."""
    out: dict[Key, Any] = {}
    for account in job.accounts:
        for metric, period in SERIES:
            first = job.history_first if metric in HISTORY_LIMITED else job.first
            for end, value in series_truth(job, account, metric, period, first, job.last).items():
                if isinstance(value, dict):
                    for hour, count in value.items():
                        out[(account, metric, period, end, dims_text({"hour": hour}))] = count
                else:
                    out[(account, metric, period, end, "")] = value
        for breakdown in BREAKDOWNS:
            for dims, value in demographic_truth(job, account, breakdown, TIMEFRAME):
                out[(account, DEMOGRAPHIC, "lifetime", None, dims_text(dims))] = value
    return out


def compare(truth: dict[Key, Any], got: dict[Key, Any]) -> tuple[int, int]:
    """(points of ``got`` equal to truth, truth points missing from ``got``)."""
    equal = sum(1 for key, value in got.items() if key in truth and truth[key] == value)
    missing = sum(1 for key in truth if key not in got)
    return equal, missing


def dims_text(dims: dict[str, str]) -> str:
    """A dimensions object as one comparable text, keys sorted."""
    return ",".join(f"{k}={dims[k]}" for k in sorted(dims))
