"""The insights answer: validate a request (SPEC 1-5) and build the body Meta would send.

Pure functions of (scenario, request, caller, now), called by the server after
:func:`collector.emulator.edge.authenticate`.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from collector.emulator import data, pacific
from collector.emulator import rules as R
from collector.emulator.edge import Caller, EdgeAnswer, EdgeRequest, graph_error
from collector.emulator.query import InsightsQuery, Rejection, parse_query
from collector.emulator.rules import Kind, MetricRule
from collector.emulator.scenario import Account, Scenario


def answer_insights(scenario: Scenario, req: EdgeRequest, caller: Caller, now: float) -> EdgeAnswer:
    """Validate the request (SPEC 1-5) and answer it as Meta would at ``now``.

    One ``data`` entry per metric in the requested order; a metric with nothing to
    serve (under 100 followers, or no day of the range begun) has no entry, so a
    single-metric request answers ``{"data": []}``.
    """
    query = parse_query(
        req.version, req.params, now, scenario.retired_metrics, fidelity=scenario.fidelity
    )
    if isinstance(query, Rejection):
        return graph_error(query.code, query.message, subcode=query.subcode)
    entries = [
        entry
        for rule in query.metrics
        if (entry := _entry(scenario, caller.account, query, rule, now)) is not None
    ]
    body: dict[str, Any] = {"data": entries}
    if query.window is not None:
        stop_at = now if scenario.fidelity.paging_stops_at_now else None
        body["paging"] = paging_links(req, caller.token, query.window, stop_at)
    return EdgeAnswer(200, body)


def served_days(
    query: InsightsQuery, rule: MetricRule, since_edge: str, now: float
) -> list[dt.date]:
    """The days a ranged query serves for ``rule``: end_time in the window by the
    scenario's edge rule, begun by ``now``, and before today for the 30-day metrics."""
    assert query.window is not None
    since, until = query.window
    days = pacific.days_in_range(since, until, since_inclusive=since_edge == "inclusive")
    today = pacific.pacific_date(now)
    last = today - dt.timedelta(days=1) if rule.history_days is not None else today
    return [day for day in days if day <= last and pacific.day_start(day) <= now]


def _entry(
    scenario: Scenario, account: Account, query: InsightsQuery, rule: MetricRule, now: float
) -> dict[str, Any] | None:
    if account.followers < rule.min_followers:
        return None  # SPEC 4: unavailable data is an empty list, never 0
    head: dict[str, Any] = {"name": rule.name, "period": query.period}
    ident = f"{account.id}/insights/{rule.name}/{query.period}"
    seed, today = scenario.seed, pacific.pacific_date(now)
    if query.kind is Kind.AUDIENCE:
        amap = data.audience_map(seed, account.id, account.followers, rule.name, today)
        return {
            **head,
            "values": [{"value": amap}],
            "title": rule.title,
            "description": rule.description,
            "id": ident,
        }
    if query.kind is Kind.DEMOGRAPHIC:
        # No timeframe (follower_demographics only): the lifetime split, keyed by the
        # breakdowns alone, as in Airbyte's recorded fixture user_lifetime_insights.json.
        frame = query.timeframe or R.NO_TIMEFRAME
        results = data.demographic_map(
            seed, account.id, account.followers, rule.name, query.breakdowns, frame, today
        )
        label = [query.timeframe.upper()] if query.timeframe else []
        breakdown = {
            "dimension_keys": (["timeframe"] if query.timeframe else []) + list(query.breakdowns),
            "results": [
                {"dimension_values": [*label, *key], "value": value}
                for key, value in results.items()
            ],
        }
        return {
            **head,
            "title": rule.title,
            "description": rule.description,
            "total_value": {"breakdowns": [breakdown]},
            "id": ident,
        }
    days = served_days(query, rule, scenario.since_edge, now)
    if not days:
        return None
    if query.kind is Kind.TOTAL:
        return {
            **head,
            "title": rule.title,
            "description": rule.description,
            "total_value": _total(scenario, account, rule, query.breakdowns, days, now),
            "id": ident,
        }
    series = _series_values(scenario, account, rule.name, query.period, days, now)
    values = [
        {"value": value, "end_time": _end_time_text(day)}
        for day, value in zip(days, series, strict=True)
    ]
    return {
        **head,
        "values": values,
        "title": rule.title,
        "description": rule.description,
        "id": ident,
    }


@lru_cache(maxsize=4096)
def _end_time_text(day: dt.date) -> str:
    """``day``'s end_time as Graph writes it (cached: every answer repeats the same days)."""
    return pacific.graph_time(pacific.day_end(day))


_SPAN = {"day": 1, "week": 7, "days_28": 28}


def _series_values(
    scenario: Scenario,
    account: Account,
    metric: str,
    period: str,
    days: list[dt.date],
    now: float,
) -> list[int] | list[dict[str, int]]:
    """Per selected day: the hour map (online_followers) or the daily / rolling value.

    ``days`` are consecutive; week and days_28 are the sums of the 7 / 28 served
    daily values ending each day (SPEC 3), computed once over the whole stretch.
    """
    seed, acc, fol, rev = scenario.seed, account.id, account.followers, scenario.revision_hours
    if metric == "online_followers":
        return [data.hour_map(seed, acc, fol, day) for day in days]
    span = _SPAN[period]
    first = days[0] - dt.timedelta(days=span - 1)
    count = (days[-1] - first).days + 1
    daily = [
        data.served_value(seed, acc, fol, metric, first + dt.timedelta(days=i), now, rev) or 0
        for i in range(count)
    ]
    return [sum(daily[i : i + span]) for i in range(count - span + 1)]


def _total(
    scenario: Scenario,
    account: Account,
    rule: MetricRule,
    breakdowns: tuple[str, ...],
    days: list[dt.date],
    now: float,
) -> dict[str, Any]:
    """SPEC 4 total_value: the sum of the served daily values of the selected days
    (reach too, kept simple); breakdown results partition each day and sum to it."""
    total = 0
    parts: dict[tuple[str, ...], int] = {}
    for day in days:
        value = (
            data.served_value(
                scenario.seed,
                account.id,
                account.followers,
                rule.name,
                day,
                now,
                scenario.revision_hours,
            )
            or 0
        )
        total += value
        if breakdowns:
            split = data.split_value(
                scenario.seed, account.id, rule.name, day, value, breakdowns, R.BREAKDOWN_VALUES
            )
            for key, part in split.items():
                parts[key] = parts.get(key, 0) + part
    answer: dict[str, Any] = {"value": total}
    if breakdowns:
        answer["breakdowns"] = [
            {
                "dimension_keys": list(breakdowns),
                # Meta lists only the dimension values that have data.
                "results": [
                    {"dimension_values": list(key), "value": part}
                    for key, part in parts.items()
                    if part > 0
                ],
            }
        ]
    return answer


def paging_links(
    req: EdgeRequest, token: str, window: tuple[int, int], stop_at: float | None = None
) -> dict[str, str]:
    """URLs of the adjacent windows of the same length (SPEC 3), as Meta writes them.

    Meta repeats the request's parameters in these links, ``access_token`` included
    (SPEC 3; the Graph API paging reference shows ``access_token`` in ``next``;
    tap-instagram 0.4.6 follows ``next`` as it is and needs the token there), so a
    client can follow them as they are, and a logged paging URL leaks the token: the
    client must redact it. The token is written even when it came in an
    ``Authorization`` header. ``appsecret_proof``/``appsecret_time`` are repeated as
    sent (they sign the same token). With ``stop_at`` (scenario
    ``paging_stops_at_now``), ``next`` is left out once its window would start after
    ``stop_at``; by default it runs on into the future (SPEC 3: "following next
    forever walks into the future", as tap-instagram's endless loop shows).
    """
    since, until = window
    span = until - since
    kept = [(k, v) for k, v in req.params.items() if k not in ("since", "until", "access_token")]
    kept.append(("access_token", token))
    base = f"{req.base_url}/{req.version}/{req.ig_user_id}/insights?"

    def url(start: int, end: int) -> str:
        return base + urlencode([*kept, ("since", str(start)), ("until", str(end))])

    links = {"previous": url(since - span, since)}
    if stop_at is None or until <= stop_at:
        links["next"] = url(until, until + span)
    return links
