"""The IG User Insights edge, as pure functions of (scenario, request, now).

The HTTP server (``collector.emulator.server``) calls :func:`authenticate` and then
:func:`answer_insights`; both return plain data, so every rule of SPEC sections 1-5
is testable without a socket. :func:`graph_error` builds Meta's error body for any
code and is shared with the server's rate-limit and fault answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from collector.emulator import data, pacific
from collector.emulator import rules as R
from collector.emulator.directory import directory
from collector.emulator.query import InsightsQuery, Rejection, parse_query
from collector.emulator.rules import Kind, MetricRule
from collector.emulator.scenario import Account, App, Scenario, TokenInfo

PROOF_TTL_S = 300  # SPEC 1: a proof signed with appsecret_time expires after 5 minutes
REQUIRED_SCOPES: tuple[str, ...] = ("instagram_basic", "instagram_manage_insights")


@dataclass(frozen=True)
class EdgeRequest:
    """One insights request as the server received it (values are raw strings)."""

    version: str
    ig_user_id: str
    params: Mapping[str, str]
    authorization: str | None
    base_url: str


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its token, the token's app, the IG user addressed."""

    token: str
    app: App
    account: Account


@dataclass(frozen=True)
class EdgeAnswer:
    """An HTTP status and the JSON body to send."""

    status: int
    body: dict[str, Any]


_trace_counter = itertools.count(1)


def _status_for(code: int) -> int:
    # SPEC 5 (observed): 500 for #1/#2, 403 for #4, 400 for everything else.
    if code in (1, 2):
        return 500
    if code == 4:
        return 403
    return 400


def graph_error(
    code: int,
    message: str,
    *,
    status: int | None = None,
    subcode: int | None = None,
    type_: str = "OAuthException",
    is_transient: bool | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> EdgeAnswer:
    """Meta's error body (SPEC 5) with a deterministic ``fbtrace_id``.

    ``status`` defaults by code (500 for 1/2, 403 for 4, else 400). Optional fields
    appear only when given. The trace id is a hash of a per-process call counter and
    the error, so a fresh process gives the same ids for the same sequence of errors.
    """
    serial = next(_trace_counter)
    digest = hashlib.blake2b(f"{serial}|{code}|{message}".encode(), digest_size=17).hexdigest()
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + digest[:22]
    return EdgeAnswer(status if status is not None else _status_for(code), {"error": error})


def token_of(req: EdgeRequest) -> str | None:
    """The access token: the ``access_token`` parameter, else ``Authorization: Bearer|OAuth X``."""
    token = req.params.get("access_token")
    if token:
        return token
    if req.authorization:
        scheme, _, value = req.authorization.strip().partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
    return None


def proof_for(app_secret: str, token: str, appsecret_time: str | None = None) -> str:
    """``appsecret_proof``: hex HMAC-SHA256 keyed by the app secret of the token, or of
    ``token|appsecret_time`` in the newer, time-limited form (SPEC 1)."""
    message = token if appsecret_time is None else f"{token}|{appsecret_time}"
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _proof_error(app: App, token: str, params: Mapping[str, str], now: float) -> EdgeAnswer | None:
    proof = params.get("appsecret_proof")
    if not proof:
        if app.require_proof:
            return graph_error(100, "API calls from the server require an appsecret_proof argument")
        return None
    invalid = graph_error(100, "Invalid appsecret_proof provided in the API argument")
    signed_at = params.get("appsecret_time")
    if signed_at is None:
        expected = proof_for(app.app_secret, token)
    else:
        if not signed_at.isdigit():
            return invalid
        age = now - int(signed_at)
        if age > PROOF_TTL_S or age < -PROOF_TTL_S:
            return graph_error(
                100,
                "The appsecret_proof has expired: appsecret_time is more "
                "than 5 minutes away from the server time",
            )
        expected = proof_for(app.app_secret, token, signed_at)
    if not hmac.compare_digest(proof.lower().encode(), expected.encode()):
        return invalid
    return None


def unsupported_get(object_id: str) -> EdgeAnswer:
    """Meta's answer for an object that does not exist or that the token may not see
    (Graph API error reference: code 100, subcode 33, GraphMethodException)."""
    return graph_error(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. Please "
        "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type_="GraphMethodException",
    )


@dataclass(frozen=True)
class Bearer:
    """A token that passed :func:`check_token`: the token, its facts and its app."""

    token: str
    info: TokenInfo
    app: App


def check_token(scenario: Scenario, req: EdgeRequest, now: float) -> Bearer | EdgeAnswer:
    """Token present (104) -> known (190) -> not expired (190/463) -> appsecret_proof (100)."""
    token = token_of(req)
    if token is None:
        return graph_error(104, "An access token is required to request this resource.")
    info = directory(scenario).token_info(token)
    if info is None:
        return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
    if info.expires_at != 0 and info.expires_at <= now:
        return graph_error(
            190,
            "Error validating access token: Session has expired on "
            f"{pacific.pacific_text(info.expires_at)}. The current time is "
            f"{pacific.pacific_text(now)}.",
            subcode=463,
        )
    app = scenario.app(info.app)
    refused = _proof_error(app, token, req.params, now)
    if refused is not None:
        return refused
    return Bearer(token, info, app)


def authenticate(scenario: Scenario, req: EdgeRequest, now: float) -> Caller | EdgeAnswer:
    """Check token, expiry, appsecret_proof, the IG user and the token's access to it.

    Order: :func:`check_token` -> IG user exists (100/33) -> access, scopes, not
    revoked (10). Access follows :mod:`collector.emulator.directory` (own token, same
    user, a user token with a role on the account's Page, or that Page's token).
    """
    bearer = check_token(scenario, req, now)
    if isinstance(bearer, EdgeAnswer):
        return bearer
    people = directory(scenario)
    account = people.account(req.ig_user_id)
    if account is None:
        return unsupported_get(req.ig_user_id)
    revoked = account.revoked_at is not None and account.revoked_at <= now
    scoped = all(scope in bearer.info.scopes for scope in REQUIRED_SCOPES)
    if revoked or not scoped or not people.sees_account(bearer.token, account):
        return graph_error(10, "(#10) Application does not have permission for this action")
    return Caller(token=bearer.token, app=bearer.app, account=account)


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
    (SPEC 3; the Graph API paging reference shows ``access_token`` in ``next``), so a
    client can follow them as they are, and a logged paging URL leaks the token: the
    client must redact it. The token is written even when it came in an
    ``Authorization`` header. ``appsecret_proof``/``appsecret_time`` are repeated as
    sent (they sign the same token). With ``stop_at`` (scenario
    ``paging_stops_at_now``), ``next`` is left out once its window would start after
    ``stop_at``.
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
