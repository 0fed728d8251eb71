"""Planned requests to queue rows and back: what the work queue keeps of a request.

The queue (:mod:`collector.storage.queue`) stores a request as plain columns;
a worker that claims it rebuilds the same :class:`PlannedRequest` the planner
made, window dates included, so the pool sends exactly what was planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, urlencode

from collector.graph.pacific import Window, pacific_date
from collector.planning.planner import PlannedRequest
from collector.storage.queue import Claim, QueuedRequest

__all__ = ["from_claim", "queued", "ranked"]

_ONE_DAY = dt.timedelta(days=1)


def queued(request: PlannedRequest, rank: int, *, force: bool = False) -> QueuedRequest:
    """The queue row of ``request``, ``rank``-th of its account's plan."""
    window = request.window
    return QueuedRequest(
        key=request.key,
        account_id=request.account_id,
        app=request.app,
        metrics=request.metrics,
        period=request.period,
        since=None if window is None else window.since,
        until=None if window is None else window.until,
        params=urlencode(request.params),
        rank=rank,
        force=force,
    )


def ranked(requests: Iterable[PlannedRequest], *, force: bool = False) -> Iterator[QueuedRequest]:
    """Queue rows for requests given account after account, each ranked within its account.

    Claims are taken in rank order, so the queue interleaves accounts: the
    first request of every account goes before the second of any.
    """
    rank = 0
    account: str | None = None
    for request in requests:
        if request.account_id != account:
            account, rank = request.account_id, 0
        yield queued(request, rank, force=force)
        rank += 1


def from_claim(claim: Claim) -> PlannedRequest:
    """The request a claim stands for, as the planner made it.

    A window's ``since`` lies on the day before its first end_time date and its
    ``until`` on its last (the planner's mid-day edges, see
    :func:`collector.graph.pacific.window_of`), so the dates follow from them.
    """
    window = None
    if claim.since is not None and claim.until is not None:
        first = _pacific_day(claim.since) + _ONE_DAY
        last = _pacific_day(claim.until)
        window = Window(first, last, claim.since, claim.until)
    return PlannedRequest(
        key=claim.key,
        account_id=claim.account_id,
        app=claim.app,
        metrics=claim.metrics,
        period=claim.period,
        window=window,
        params=tuple(parse_qsl(claim.params, keep_blank_values=True)),
    )


def _pacific_day(unix: int) -> dt.date:
    return pacific_date(dt.datetime.fromtimestamp(unix, dt.UTC))
