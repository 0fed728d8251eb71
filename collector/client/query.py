"""The library call's arguments, checked before anything is sent, and its ranges split.

:func:`insights_query` turns the arguments of
:meth:`collector.client.client.InsightsClient.get_user_insights` into an
:class:`InsightsQuery`, or raises ``ValueError`` naming what does not fit: a
metric the version does not serve (or retired), a period the metric does not
take, a ``metric_type``/``breakdown``/``timeframe`` it refuses (SPEC 2), a
malformed timestamp. The checks read the collector's own catalogue
(:mod:`collector.graph.catalogue`), not the emulator's.

:func:`split_range` cuts a long ``since..until`` into requests the API accepts
(Meta: "There cannot be more than 30 days (2592000 s) between since and until").

**The splitting rule.** The API returns the values whose ``end_time`` ``e``
satisfies ``since < e <= until`` (or ``since <= e <= until``: the edge at
``since`` is undocumented, SPEC 3). Sub-ranges that share their edges,
``[s0, s1], [s1, s2], ..., [s(k-1), sk]`` with ``s0 = since`` and ``sk = until``,
return together exactly the values of ``since..until`` under either rule, since
the half-open pieces ``(s(i), s(i+1)]`` tile ``(since, until]``. Only a value whose
end_time equals an inner cut could come back twice (under the inclusive rule):
no cut is put on a Pacific midnight (every end_time is one, DST included), and
the merge still keeps the first value per end_time, so the rule would hold for
any cut. The cuts are greedy (``max_span`` apart), so a range takes the fewest
requests: ``ceil((until - since) / 2592000)``, rarely one more.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from collector.graph import catalogue as cat
from collector.graph.catalogue import Shape
from collector.graph.pacific import MAX_SPAN_S, PACIFIC

_USER_ID = re.compile(r"[0-9A-Za-z_]+")
# Answers that are one total or one lifetime map for the whole request: two
# windows' answers cannot be merged into the answer for their union.
_UNSPLITTABLE = (Shape.TOTAL, Shape.DEMOGRAPHIC, Shape.AUDIENCE)


@dataclass(frozen=True)
class InsightsQuery:
    """One checked library call.

    ``since``/``until`` are unix seconds or ``None`` (omitted: the API's default).
    ``extra`` holds ``metric_type``, ``breakdown`` and ``timeframe`` when given,
    as query parameters in that order.
    """

    user_id: str
    period: str
    metrics: tuple[str, ...]
    since: int | None
    until: int | None
    extra: tuple[tuple[str, str], ...] = ()
    splittable: bool = True

    def windows(self, max_span: int = MAX_SPAN_S) -> list[tuple[int | None, int | None]]:
        """The ``(since, until)`` of each request, oldest first (see :func:`split_range`).

        One window, as given, unless both edges are set and more than ``max_span``
        apart. Raises ``ValueError`` when such a range would need splitting but
        the metrics answer one total or map per request.
        """
        if self.since is None or self.until is None or self.until - self.since <= max_span:
            return [(self.since, self.until)]
        if not self.splittable:
            raise ValueError(
                f"since..until spans {self.until - self.since} s, more than {max_span} s: "
                "a total_value or lifetime answer is one figure per request and cannot be "
                "merged across windows; ask for at most 30 days"
            )
        return list(split_range(self.since, self.until, max_span))


def metric_names(metrics: str | Iterable[str], what: str = "metrics") -> tuple[str, ...]:
    """``"a,b"`` or a list, tuple or set of names -> names in order, duplicates dropped.

    A set has no order: its names are sent sorted. Raises ``ValueError`` when no
    name is left, ``TypeError`` for anything that is not text or a collection of
    text; ``what`` names the argument in those messages.
    """
    if isinstance(metrics, str):
        names = [part.strip() for part in metrics.split(",")]
    elif isinstance(metrics, list | tuple | set | frozenset):
        items = sorted(metrics) if isinstance(metrics, set | frozenset) else list(metrics)
        if not all(isinstance(item, str) for item in items):
            raise TypeError(f"{what} must be a comma-separated str, or a list, tuple or set of str")
        names = [item.strip() for item in items]
    else:
        raise TypeError(f"{what} must be a comma-separated str, or a list, tuple or set of str")
    kept = tuple(dict.fromkeys(name for name in names if name))
    if not kept:
        raise ValueError(f"{what} names nothing")
    return kept


def timestamp(value: object, name: str) -> int | None:
    """A Unix timestamp given as ``int`` or digit text (pyfacebook's form); ``None`` stays."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a Unix timestamp (int seconds), not a bool")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name} must be a Unix timestamp >= 0, got {value}")
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"{name} must be a Unix timestamp (int seconds), got {value!r}")


def insights_query(
    version: str,
    user_id: str | int,
    period: str,
    metrics: str | Iterable[str],
    since: object = None,
    until: object = None,
    *,
    metric_type: str | None = None,
    breakdown: str | Iterable[str] | None = None,
    timeframe: str | None = None,
) -> InsightsQuery:
    """Check a library call against ``version``'s catalogue; ``ValueError`` says what is wrong."""
    uid = str(user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else user_id
    if not isinstance(uid, str) or not _USER_ID.fullmatch(uid):
        raise ValueError(f"user_id must be an IG user id (digits), got {user_id!r}")
    names = metric_names(metrics)
    specs = cat.catalogue(version)
    for name in names:
        if name not in specs:
            raise ValueError(_unknown(name, version))
    chosen = [specs[name] for name in names]
    for spec in chosen:
        if period not in spec.periods:
            raise ValueError(
                f"metric {spec.name!r} does not take period={period!r} in {version}; "
                f"it takes {', '.join(spec.periods)}"
            )
    cuts = metric_names(breakdown, "breakdown") if breakdown is not None else ()
    extra = _v18_params(version, chosen, metric_type, cuts, timeframe)
    first, last = timestamp(since, "since"), timestamp(until, "until")
    splittable = metric_type != "total_value" and all(s.shape not in _UNSPLITTABLE for s in chosen)
    return InsightsQuery(uid, period, names, first, last, extra, splittable)


def _unknown(name: str, version: str) -> str:
    gone = cat.retirement(name, version)
    if gone is not None:
        return (
            f"metric {name!r} was retired in {gone.retired_in} and {version} does not serve "
            f"it; use {gone.replacement}"
        )
    return f"{version} serves no metric {name!r}"


def _v18_params(
    version: str,
    chosen: list[cat.MetricSpec],
    metric_type: str | None,
    cuts: tuple[str, ...],
    timeframe: str | None,
) -> tuple[tuple[str, str], ...]:
    """SPEC 2: ``metric_type``, ``breakdown`` and ``timeframe`` exist from v18 on."""
    major, _ = cat.parse_version(version)
    if major < 18:
        for param, value in (
            ("metric_type", metric_type),
            ("breakdown", cuts),
            ("timeframe", timeframe),
        ):
            if value:
                raise ValueError(f"{param} does not exist in {version} (it arrived in v18.0)")
        return ()
    for spec in chosen:
        if metric_type is None and "time_series" not in spec.metric_types:
            # Meta: "The following metrics (...) should be specified with parameter
            # metric_type=total_value" (SPEC 5).
            raise ValueError(f"metric {spec.name!r} needs metric_type='total_value' in {version}")
        if metric_type is not None and metric_type not in spec.metric_types:
            raise ValueError(
                f"metric {spec.name!r} does not take metric_type={metric_type!r} in {version}; "
                f"it takes {', '.join(spec.metric_types)}"
            )
        for cut in cuts:
            if cut not in spec.breakdowns:
                raise ValueError(f"metric {spec.name!r} has no breakdown {cut!r} in {version}")
    if cuts and metric_type != "total_value":
        raise ValueError("breakdown only works with metric_type='total_value' (SPEC 2)")
    demographic = any(spec.shape is Shape.DEMOGRAPHIC for spec in chosen)
    if timeframe is not None and timeframe not in cat.timeframes(version):
        raise ValueError(
            f"timeframe {timeframe!r} is not one {version} accepts: "
            f"{', '.join(cat.timeframes(version))}"
        )
    if demographic and (timeframe is None or not cuts):
        raise ValueError("demographic metrics need a timeframe and a breakdown")
    if timeframe is not None and not demographic:
        raise ValueError("timeframe only applies to demographic metrics")
    extra: list[tuple[str, str]] = []
    if metric_type is not None:
        extra.append(("metric_type", metric_type))
    if cuts:
        extra.append(("breakdown", ",".join(cuts)))
    if timeframe is not None:
        extra.append(("timeframe", timeframe))
    return tuple(extra)


def _is_pacific_midnight(moment: int) -> bool:
    local = dt.datetime.fromtimestamp(moment, tz=dt.UTC).astimezone(PACIFIC)
    return (local.hour, local.minute, local.second) == (0, 0, 0)


def split_range(since: int, until: int, max_span: int = MAX_SPAN_S) -> Iterator[tuple[int, int]]:
    """Consecutive ``(since, until)`` pieces of ``since..until``, each at most ``max_span`` long.

    The first starts at ``since``, the last ends at ``until``, each starts where
    the previous ends. Greedy, so as few requests as possible: every inner cut
    is ``max_span`` after its piece's start, one second earlier when that
    instant is a Pacific midnight (an end_time). The module docstring says why
    the pieces return exactly the values of one unsplit request.
    ``until - since <= max_span`` (also ``since >= until``) gives one piece, as given.
    Raises ``ValueError`` for ``max_span < 2``.
    """
    if max_span < 2:
        raise ValueError("max_span must be >= 2 s")
    start = since
    while until - start > max_span:
        cut = start + max_span
        if _is_pacific_midnight(cut):
            cut -= 1
        yield start, cut
        start = cut
    yield start, until
