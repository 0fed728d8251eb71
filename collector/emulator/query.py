"""Parse and validate one ``GET /{ig-user-id}/insights`` request (SPEC sections 1-5).

:func:`parse_query` turns the raw query parameters into an :class:`InsightsQuery`
or a :class:`Rejection` carrying Meta's error (code 100 unless said otherwise). It
is pure: the version's rules come from :mod:`collector.emulator.rules`, time from the
``now`` argument. The checks run in one fixed order so a request with several faults
always gets the same error:

version -> metric present -> metric list -> metric names -> period present -> period
name -> v18 parameters in older versions -> metric_type -> period per metric -> one
answer kind -> breakdown -> timeframe -> since/until syntax -> no range for lifetime
maps -> since <= until -> since != until (if refused) -> 30-day span -> since not in
the future / not too old (if refused) -> 30-day history.

Where Meta's behaviour is disputed, the scenario's :class:`Fidelity` decides
(docs/emulator.md); ``parse_query`` without one uses the defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import orjson

from collector.emulator import messages as M
from collector.emulator import pacific
from collector.emulator import rules as R
from collector.emulator.rules import Kind, MetricRule
from collector.emulator.scenario import Fidelity
from collector.emulator.timeparse import parse_time

DEFAULT_FIDELITY = Fidelity()


@dataclass(frozen=True)
class Rejection:
    """A request the edge refuses: Graph error ``code`` with ``message``."""

    message: str
    code: int = 100
    subcode: int | None = None


@dataclass(frozen=True)
class InsightsQuery:
    """A valid request. ``window`` is the resolved ``(since, until)`` in unix seconds,
    ``None`` for lifetime maps (audience_*, demographics), which take no range.
    ``metric_type`` is the effective one (``None`` before v18)."""

    version: str
    metrics: tuple[MetricRule, ...]
    period: str
    kind: Kind
    metric_type: str | None
    breakdowns: tuple[str, ...]
    timeframe: str | None
    window: tuple[int, int] | None


def default_window(now: float) -> tuple[int, int]:
    """SPEC 1: no since/until means yesterday and today: [midnight starting
    yesterday, midnight ending today]."""
    today = pacific.pacific_date(now)
    return pacific.day_start(today - dt.timedelta(days=1)), pacific.day_end(today)


def parse_metric_list(raw: str) -> list[str] | None:
    """``a,b`` or a JSON array ``["a","b"]`` (SPEC 1) -> names; ``None`` if malformed."""
    text = raw.strip()
    if text.startswith("["):
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(decoded, list) or not all(isinstance(x, str) for x in decoded):
            return None
        names = [x.strip() for x in decoded]
    else:
        names = [x.strip() for x in text.split(",")]
    # Meta answers a metric named twice once; keep the first position.
    return list(dict.fromkeys(names))


def _timestamp(raw: str | None, name: str, now: float) -> int | Rejection | None:
    """Unix seconds or a strtotime value (:mod:`collector.emulator.timeparse`)."""
    if raw is None or raw.strip() == "":
        return None
    moment = parse_time(raw, now)
    if moment is None:
        return Rejection(M.msg_bad_time(name))
    return moment


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def parse_query(
    version: str,
    params: Mapping[str, str],
    now: float,
    retired: Collection[str] = (),
    *,
    fidelity: Fidelity = DEFAULT_FIDELITY,
) -> InsightsQuery | Rejection:
    """Validate ``params`` against ``version``'s rules at ``now``; see the module doc for order.

    ``retired`` names metrics refused as unknown whatever the version (a scenario's
    "Meta retired it yesterday"); ``fidelity`` settles the disputed behaviours.
    """
    if R.version_major(version) is None:
        return Rejection(M.msg_bad_version(version), code=2500)
    catalogue = R.catalogue(version, fidelity.reach_long_periods)

    raw_metric = _param(params, "metric")
    if raw_metric is None:
        return Rejection(M.msg_metric_required())
    names = parse_metric_list(raw_metric)
    if names is None:
        return Rejection(M.msg_metric_list_invalid())
    for index, name in enumerate(names):
        if name not in catalogue or name in retired:
            return Rejection(M.msg_unknown_metric(index, version, retired))
    metrics = tuple(catalogue[name] for name in names)

    period = _param(params, "period")
    if period is not None and period.startswith("["):
        # facebook-business sends enum parameters as JSON arrays: period=["day"]
        periods = parse_metric_list(period)
        period = periods[0] if periods and len(periods) == 1 else "?"
    if period is None:
        return Rejection(M.msg_period_required())
    if period not in R.PERIODS:
        return Rejection(M.msg_unknown_period())

    metric_type = _param(params, "metric_type")
    breakdown_raw = _param(params, "breakdown")
    timeframe = _param(params, "timeframe")
    if not R.knows_v18_params(version):
        for name, value in (
            ("metric_type", metric_type),
            ("breakdown", breakdown_raw),
            ("timeframe", timeframe),
        ):
            if value is not None:
                return Rejection(M.msg_param_unknown_in_version(name, version))
    else:
        checked = _check_metric_type(metrics, metric_type)
        if isinstance(checked, Rejection):
            return checked
        metric_type = checked

    wrong_period = [m.name for m in metrics if period not in m.periods]
    if wrong_period:
        return Rejection(M.msg_period_unsupported(wrong_period, period))

    kind = metrics[0].kind_for(metric_type)
    others = [m.name for m in metrics if m.kind_for(metric_type) is not kind]
    if others:
        return Rejection(M.msg_kinds_mixed(others, metrics[0].name))

    breakdowns = tuple(dict.fromkeys(b.strip() for b in (breakdown_raw or "").split(",") if b))
    shape = _check_breakdown_and_timeframe(version, metrics, kind, breakdowns, timeframe, fidelity)
    if shape is not None:
        return shape

    window = _check_window(metrics, kind, params, now, fidelity)
    if isinstance(window, Rejection):
        return window
    return InsightsQuery(version, metrics, period, kind, metric_type, breakdowns, timeframe, window)


def _check_metric_type(
    metrics: tuple[MetricRule, ...], metric_type: str | None
) -> str | Rejection | None:
    """v18+: the effective metric_type, or why the metrics refuse the given/omitted one."""
    if metric_type is not None:
        if metric_type not in R.METRIC_TYPES:
            return Rejection(M.msg_unknown_metric_type())
        refusing = [m.name for m in metrics if metric_type not in m.metric_types]
        if refusing:
            return Rejection(M.msg_type_unsupported(refusing, metric_type))
        return metric_type
    # SPEC 5: total-value-only metrics must be asked for with metric_type=total_value.
    insisting = [m.name for m in metrics if m.default_type is None]
    if insisting:
        return Rejection(M.msg_needs_total_value(insisting))
    return R.TIME_SERIES


def _check_breakdown_and_timeframe(
    version: str,
    metrics: tuple[MetricRule, ...],
    kind: Kind,
    breakdowns: tuple[str, ...],
    timeframe: str | None,
    fidelity: Fidelity,
) -> Rejection | None:
    names = [m.name for m in metrics]
    if breakdowns:
        # SPEC 2: breakdown only works with total_value.
        if kind not in (Kind.TOTAL, Kind.DEMOGRAPHIC):
            return Rejection(M.msg_breakdown_needs_total_value())
        for breakdown in breakdowns:
            lacking = [m.name for m in metrics if breakdown not in m.breakdowns]
            if lacking:
                return Rejection(M.msg_breakdown_unsupported(lacking, breakdown))
    if kind is Kind.DEMOGRAPHIC:
        if not breakdowns:
            return Rejection(M.msg_breakdown_required(names))
        # follower_demographics without timeframe: Airbyte source-instagram 4.x sends
        # none (user_lifetime_insights) and its recorded fixture answers 200 with
        # dimension_keys ["city"]; engaged_audience_demographics still needs one.
        lenient = fidelity.follower_demographics_timeframe == "optional"
        if timeframe is None and lenient and set(names) == {"follower_demographics"}:
            return None
        if timeframe is None:
            return Rejection(M.msg_timeframe_required(names))
        if timeframe not in R.timeframes(version):
            return Rejection(M.msg_timeframe_invalid(version))
    elif timeframe is not None:
        return Rejection(M.msg_timeframe_unsupported(names))
    return None


def _check_window(
    metrics: tuple[MetricRule, ...],
    kind: Kind,
    params: Mapping[str, str],
    now: float,
    fidelity: Fidelity,
) -> tuple[int, int] | Rejection | None:
    since = _timestamp(params.get("since"), "since", now)
    if isinstance(since, Rejection):
        return since
    until = _timestamp(params.get("until"), "until", now)
    if isinstance(until, Rejection):
        return until
    if kind in (Kind.AUDIENCE, Kind.DEMOGRAPHIC):
        # Lifetime maps have no time range (SPEC 2: "no since/until").
        if since is not None or until is not None:
            return Rejection(M.msg_no_range([m.name for m in metrics]))
        return None
    default_since, default_until = default_window(now)
    if until is None:
        until = default_until
    if since is None:
        # Only until given: the same two-day span, ending there.
        since = default_since if until == default_until else until - 2 * 86400
    if since > until:
        return Rejection(M.msg_since_after_until())
    # since == until: no public record of Meta's answer; accepted (an empty range) by
    # default, refused with scenario since_equal_until = "reject" (docs/emulator.md).
    if since == until and fidelity.since_equal_until == "reject":
        return Rejection(M.msg_since_equals_until())
    if until - since > R.MAX_RANGE_S:
        return Rejection(M.msg_range_too_long())
    # Meta refuses a since in the future, and one older than two years, with the same
    # message: Airbyte source-instagram records it for a future window
    # (unit_tests/mock_server/test_user_insights.py, "oncall #11701"); public projects
    # that probed the live API day by day report day -730 refused with it. The age
    # limit is off by default (docs/emulator.md).
    if since > now and fidelity.future_since == "reject":
        return Rejection(M.msg_since_not_valid())
    if fidelity.max_since_age_days > 0 and since < now - fidelity.max_since_age_days * 86400:
        return Rejection(M.msg_since_not_valid())
    today = pacific.pacific_date(now)
    for metric in metrics:
        if metric.history_days is None:
            continue
        # SPEC 2: only the last 30 days, today excluded; a since earlier than the
        # midnight starting (today - 30 days) is refused.
        oldest = pacific.day_start(today - dt.timedelta(days=metric.history_days))
        if since < oldest:
            return Rejection(M.msg_history(metric.name))
    return since, until
