"""Ground truth: what the emulator serves, computed without the edge.

Tests compare the edge's answers and the collector's output against these
functions. They read the same value functions (:mod:`collector.emulator.data`) but
select days and shape results with their own code, written from the shared time
rules (common brief, SPEC 3) rather than through :mod:`collector.emulator.edge`,
:mod:`collector.emulator.query` or :mod:`collector.emulator.pacific`: a selection or
formatting slip in the edge then shows up as a difference. Rolling sums are summed
here from the daily values too.

CLI (``ig-collector emulator truth``)::

    --scenario FILE --account ID --metric M --period P [--since S --until U]
    [--version v17.0] [--now UNIX] [--seed N] [--metric-type T] [--breakdown B]
    [--timeframe F]

``--since``/``--until`` as unix seconds print :func:`truth_values`; as
``YYYY-MM-DD`` end_time dates they print :func:`truth_points`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from collector.emulator import data
from collector.emulator import rules as R
from collector.emulator.rules import Kind, MetricRule
from collector.emulator.scenario import Account, Scenario, ScenarioError, load_scenario

LA = ZoneInfo("America/Los_Angeles")
Point = tuple[str | None, dict[str, str], int]


def _midnight(day: dt.date) -> int:
    """Pacific midnight starting ``day``, unix seconds."""
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=LA).timestamp())


def _la_date(moment: float) -> dt.date:
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).astimezone(LA).date()


def _utc_text(moment: int, *, graph: bool) -> str:
    text = dt.datetime.fromtimestamp(moment, tz=dt.UTC).isoformat()  # ...+00:00
    return text.replace("+00:00", "+0000" if graph else "Z")


def _lookup(
    scenario: Scenario, account_id: str, metric: str, version: str
) -> tuple[Account, MetricRule]:
    account = scenario.account(account_id)
    if account is None:
        raise ValueError(f"no account {account_id!r} in the scenario")
    rule = R.catalogue(version).get(metric)
    if rule is None:
        raise ValueError(f"{version} serves no metric {metric!r}")
    return account, rule


def _kind(rule: MetricRule, metric_type: str | None) -> Kind:
    if rule.kind is Kind.SERIES and metric_type == R.TOTAL_VALUE:
        return Kind.TOTAL
    return rule.kind


def _breakdowns(breakdown: str | None) -> tuple[str, ...]:
    return tuple(b.strip() for b in (breakdown or "").split(",") if b.strip())


def _servable(rule: MetricRule, day: dt.date, now: float) -> bool:
    """Begun by ``now``; the 30-day metrics never serve today (common brief)."""
    if _midnight(day) > now:
        return False
    return rule.history_days is None or day < _la_date(now)


def _daily(scenario: Scenario, account: Account, metric: str, day: dt.date, now: float) -> int:
    value = data.served_value(
        scenario.seed, account.id, account.followers, metric, day, now, scenario.revision_hours
    )
    return value or 0


def _series_value(
    scenario: Scenario, account: Account, metric: str, period: str, day: dt.date, now: float
) -> int:
    span = {"day": 1, "week": 7, "days_28": 28}[period]
    return sum(
        _daily(scenario, account, metric, day - dt.timedelta(days=i), now) for i in range(span)
    )


def _parts(
    scenario: Scenario,
    account: Account,
    metric: str,
    breakdowns: tuple[str, ...],
    days: list[dt.date],
    now: float,
) -> dict[tuple[str, ...], int]:
    parts: dict[tuple[str, ...], int] = {}
    for day in days:
        value = _daily(scenario, account, metric, day, now)
        split = data.split_value(
            scenario.seed, account.id, metric, day, value, breakdowns, R.BREAKDOWN_VALUES
        )
        for key, part in split.items():
            parts[key] = parts.get(key, 0) + part
    return {key: part for key, part in parts.items() if part > 0}


def _demographic(
    scenario: Scenario,
    account: Account,
    metric: str,
    breakdowns: tuple[str, ...],
    timeframe: str | None,
    now: float,
) -> dict[tuple[str, ...], int]:
    if not breakdowns or (timeframe is None and metric != "follower_demographics"):
        raise ValueError("demographics need a breakdown, and a timeframe but for followers")
    frame = timeframe if timeframe is not None else R.NO_TIMEFRAME
    return data.demographic_map(
        scenario.seed, account.id, account.followers, metric, breakdowns, frame, _la_date(now)
    )


def truth_values(
    scenario: Scenario,
    *,
    account_id: str,
    metric: str,
    period: str,
    since: int | None,
    until: int | None,
    now: float,
    version: str = "v17.0",
    metric_type: str | None = None,
    breakdown: str | None = None,
    timeframe: str | None = None,
) -> list[dict[str, Any]]:
    """The ``values`` list (or ``[total_value]``) the edge serves for one metric; ``[]``
    where it serves no entry. Assumes a request the edge accepts."""
    account, rule = _lookup(scenario, account_id, metric, version)
    if account.followers < rule.min_followers:
        return []
    kind, cuts = _kind(rule, metric_type), _breakdowns(breakdown)
    if kind is Kind.AUDIENCE:
        amap = data.audience_map(
            scenario.seed, account.id, account.followers, metric, _la_date(now)
        )
        return [{"value": amap}]
    if kind is Kind.DEMOGRAPHIC:
        results = _demographic(scenario, account, metric, cuts, timeframe, now)
        # Without a timeframe (follower_demographics) the keys are the breakdowns alone.
        head = ["timeframe"] if timeframe is not None else []
        label = [str(timeframe).upper()] if timeframe is not None else []
        return [
            {
                "breakdowns": [
                    {
                        "dimension_keys": [*head, *cuts],
                        "results": [
                            {"dimension_values": [*label, *k], "value": v}
                            for k, v in results.items()
                        ],
                    }
                ]
            }
        ]
    today = _la_date(now)
    if since is None and until is None:
        since, until = (
            _midnight(today - dt.timedelta(days=1)),
            _midnight(today + dt.timedelta(days=1)),
        )
    elif until is None or since is None:
        raise ValueError("give both since and until, or neither")
    inclusive = scenario.since_edge == "inclusive"
    days = []
    day = _la_date(since) - dt.timedelta(days=2)
    while _midnight(day) <= until:
        end = _midnight(day + dt.timedelta(days=1))
        after_since = end >= since if inclusive else end > since
        if after_since and end <= until and _servable(rule, day, now):
            days.append(day)
        day += dt.timedelta(days=1)
    if not days:
        return []
    if kind is Kind.TOTAL:
        total: dict[str, Any] = {
            "value": sum(_daily(scenario, account, metric, d, now) for d in days)
        }
        if cuts:
            parts = _parts(scenario, account, metric, cuts, days, now)
            total["breakdowns"] = [
                {
                    "dimension_keys": list(cuts),
                    "results": [
                        {"dimension_values": list(k), "value": v} for k, v in parts.items()
                    ],
                }
            ]
        return [total]
    values: list[dict[str, Any]] = []
    for d in days:
        end_text = _utc_text(_midnight(d + dt.timedelta(days=1)), graph=True)
        if kind is Kind.HOURLY:
            value: Any = data.hour_map(scenario.seed, account.id, account.followers, d)
        else:
            value = _series_value(scenario, account, metric, period, d, now)
        values.append({"value": value, "end_time": end_text})
    return values


def truth_points(
    scenario: Scenario,
    *,
    account_id: str,
    metric: str,
    period: str,
    first_end_date: dt.date,
    last_end_date: dt.date,
    now: float,
    version: str = "v17.0",
    metric_type: str | None = None,
    breakdown: str | None = None,
    timeframe: str | None = None,
) -> list[Point]:
    """Flattened points ``(end_time 'Z' | None, dimensions, value)`` for every served day
    whose end_time falls on a Pacific date in ``first_end_date..last_end_date``,
    ignoring the 30-day request limit (for comparing a whole pull).

    Dimensions: ``{}`` for a plain value; ``{"hour": "13"}`` for online_followers;
    ``{"city"|"country"|"locale"|"gender_age": key}`` for audience_* (one lifetime map,
    dates ignored, end_time None); demographics ``{"timeframe": "THIS_MONTH", <breakdown>:
    value}`` (end_time None). A total_value metric, asked one day per request (SPEC 2),
    gives per day, with that day's end_time, its total with ``{}``, or with a breakdown
    one point per non-zero result keyed by breakdown name (and no plain total).
    """
    account, rule = _lookup(scenario, account_id, metric, version)
    if account.followers < rule.min_followers:
        return []
    kind, cuts = _kind(rule, metric_type), _breakdowns(breakdown)
    if kind is Kind.AUDIENCE:
        amap = data.audience_map(
            scenario.seed, account.id, account.followers, metric, _la_date(now)
        )
        dim = R.AUDIENCE_DIMENSION[metric]
        return [(None, {dim: key}, value) for key, value in amap.items()]
    if kind is Kind.DEMOGRAPHIC:
        results = _demographic(scenario, account, metric, cuts, timeframe, now)
        frame = {"timeframe": str(timeframe).upper()} if timeframe is not None else {}
        return [
            (None, {**frame, **dict(zip(cuts, key, strict=True))}, value)
            for key, value in results.items()
        ]
    points: list[Point] = []
    day = first_end_date - dt.timedelta(days=1)
    while day < last_end_date:
        if _servable(rule, day, now):
            end_text = _utc_text(_midnight(day + dt.timedelta(days=1)), graph=False)
            points.extend(
                _day_points(scenario, account, rule, kind, period, cuts, day, end_text, now)
            )
        day += dt.timedelta(days=1)
    return points


def _day_points(
    scenario: Scenario,
    account: Account,
    rule: MetricRule,
    kind: Kind,
    period: str,
    cuts: tuple[str, ...],
    day: dt.date,
    end_text: str,
    now: float,
) -> list[Point]:
    if kind is Kind.HOURLY:
        hours = data.hour_map(scenario.seed, account.id, account.followers, day)
        return [(end_text, {"hour": hour}, value) for hour, value in hours.items()]
    if kind is Kind.TOTAL:
        if not cuts:
            return [(end_text, {}, _daily(scenario, account, rule.name, day, now))]
        parts = _parts(scenario, account, rule.name, cuts, [day], now)
        return [
            (end_text, dict(zip(cuts, key, strict=True)), value) for key, value in parts.items()
        ]
    return [(end_text, {}, _series_value(scenario, account, rule.name, period, day, now))]


def _moment_or_date(text: str) -> int | dt.date:
    if text.isdigit():
        return int(text)
    return dt.date.fromisoformat(text)


def main(argv: list[str]) -> int:
    """``ig-collector emulator truth``: print ground truth as JSON; 0 if done, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="ig-collector emulator truth",
        description="Print what the emulator serves (ground truth).",
    )
    parser.add_argument("--scenario", help="scenario TOML (default: the built-in scenario)")
    parser.add_argument("--account", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--period", required=True)
    parser.add_argument("--since", help="unix seconds, or YYYY-MM-DD (an end_time date)")
    parser.add_argument("--until", help="unix seconds, or YYYY-MM-DD (an end_time date)")
    parser.add_argument("--version", default="v17.0")
    parser.add_argument("--now", type=float, help="unix seconds (default: the current time)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--metric-type", dest="metric_type")
    parser.add_argument("--breakdown")
    parser.add_argument("--timeframe")
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        if args.seed is not None:
            scenario = scenario.with_seed(args.seed)
        now = args.now if args.now is not None else time.time()
        since = _moment_or_date(args.since) if args.since else None
        until = _moment_or_date(args.until) if args.until else None
        common: dict[str, Any] = {
            "account_id": args.account,
            "metric": args.metric,
            "period": args.period,
            "now": now,
            "version": args.version,
            "metric_type": args.metric_type,
            "breakdown": args.breakdown,
            "timeframe": args.timeframe,
        }
        output: Any
        if isinstance(since, dt.date) or isinstance(until, dt.date):
            if not (isinstance(since, dt.date) and isinstance(until, dt.date)):
                raise ValueError("--since and --until must both be dates or both unix seconds")
            points = truth_points(scenario, first_end_date=since, last_end_date=until, **common)
            output = [{"end_time": e, "dimensions": d, "value": v} for e, d, v in points]
        else:
            output = truth_values(scenario, since=since, until=until, **common)
    except (ScenarioError, ValueError) as exc:
        print(f"ig-collector emulator truth: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(orjson.dumps(output) + b"\n")
    sys.stdout.flush()
    return 0
