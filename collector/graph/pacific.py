"""Pacific day math for the collector: midnights, noons, end_times and request windows.

The Graph API labels a daily value with ``end_time``, the Pacific
(America/Los_Angeles) midnight that *ends* its day (SPEC section 3). The collector
thinks in **end_time dates**: the Pacific calendar date on which a value's
end_time falls. The value of day D has end_time date D + 1.

A request for end_time dates A..B puts its edges mid-day, Pacific:
``since`` = 12:30 on A - 1 day, ``until`` = 11:30 on B. Every end_time is a
midnight, so an edge is never within 11 hours of one, and whether the API
treats ``since`` as inclusive or exclusive (undocumented, SPEC section 3) cannot
change which values come back; nor can a DST shift, which moves midnights by an
hour at most.

This module is the collector's own: it deliberately does not import the
emulator's time code, so a mistake in one is caught by the other over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")

# Meta: "There cannot be more than 30 days (2592000 s) between since and until".
MAX_SPAN_S = 2_592_000

_ONE_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)
_NOON = dt.time(12, 0)
# Window edges sit half an hour either side of noon, 11.5 hours from any midnight:
# as safe as noon from the edge rule and DST, and one hour shorter, so that 30
# end_time dates still fit in 2,592,000 s when a 25-hour DST day is among them.
_SINCE_AT = dt.time(12, 30)
_UNTIL_AT = dt.time(11, 30)


def pacific_midnight(d: dt.date) -> int:
    """Unix seconds of the Pacific midnight that starts date ``d``.

    Pacific DST changes happen at 02:00, so midnight always exists exactly once.
    """
    return int(dt.datetime.combine(d, _MIDNIGHT, tzinfo=PACIFIC).timestamp())


def pacific_noon(d: dt.date) -> int:
    """Unix seconds of Pacific noon on date ``d`` (never a DST gap or fold)."""
    return int(dt.datetime.combine(d, _NOON, tzinfo=PACIFIC).timestamp())


@cache  # a run asks for the same few hundred dates once per request
def end_time_of(d: dt.date) -> str:
    """The end_time, RFC 3339 UTC with ``Z``, of the value whose end_time date is ``d``.

    That is the midnight starting ``d`` (which ends day ``d - 1``):
    ``end_time_of(date(2019, 12, 20)) == "2019-12-20T08:00:00Z"``. The format is
    the one :mod:`collector.model.records` stores.
    """
    moment = dt.datetime.fromtimestamp(pacific_midnight(d), tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4_096)  # a run asks for the same few hundred windows once per request
def planned_end_times(first: dt.date, last: dt.date) -> frozenset[int]:
    """The end_times (Unix seconds) of the dates ``first`` to ``last``, both included."""
    days = (last - first).days + 1
    return frozenset(pacific_midnight(first + dt.timedelta(days=i)) for i in range(days))


def pacific_date(moment: dt.datetime) -> dt.date:
    """The Pacific calendar date of an aware instant (``ValueError`` if naive)."""
    if moment.tzinfo is None:
        raise ValueError("pacific_date needs a timezone-aware datetime")
    return moment.astimezone(PACIFIC).date()


def end_time_date(end_time: str) -> dt.date:
    """The end_time date of an API end_time (``+0000`` or ``Z`` form).

    ``"2019-12-20T08:00:00+0000"`` -> ``date(2019, 12, 20)``. Raises ``ValueError``
    for text that is not such a timestamp.
    """
    text = end_time[:-1] + "+0000" if end_time.endswith("Z") else end_time
    return pacific_date(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z"))


@dataclass(frozen=True, slots=True)
class Window:
    """One request's range: end_time dates ``first..last`` (inclusive) and its edges.

    ``since`` is 12:30 Pacific on ``first - 1 day`` and ``until`` 11:30 Pacific on
    ``last``, in unix seconds; ``until - since`` never exceeds the span it was
    planned with (at most 2,592,000 s).
    """

    first: dt.date
    last: dt.date
    since: int
    until: int

    @property
    def days(self) -> int:
        """How many end_time dates the window asks for."""
        return (self.last - self.first).days + 1

    def dates(self) -> Iterator[dt.date]:
        """The window's end_time dates, oldest first."""
        for offset in range(self.days):
            yield self.first + dt.timedelta(days=offset)


def _pacific_at(d: dt.date, at: dt.time) -> int:
    return int(dt.datetime.combine(d, at, tzinfo=PACIFIC).timestamp())


def window_since(first: dt.date) -> int:
    """A window's ``since`` for first end_time date ``first``: 12:30 Pacific the day before."""
    return _pacific_at(first - _ONE_DAY, _SINCE_AT)


def window_until(last: dt.date) -> int:
    """A window's ``until`` for last end_time date ``last``: 11:30 Pacific that day."""
    return _pacific_at(last, _UNTIL_AT)


def window_of(first: dt.date, last: dt.date) -> Window:
    """The window for end_time dates ``first..last`` with mid-day edges (no span check)."""
    return Window(first, last, window_since(first), window_until(last))


def windows(first: dt.date, last: dt.date, max_span: int = MAX_SPAN_S) -> Iterator[Window]:
    """Tile end_time dates ``first..last`` with windows, oldest first, lazily.

    Each window holds as many dates as fit in ``until - since <= max_span``
    (greedy): 30 for the default span, also across either DST change. Windows
    cover ``first..last`` exactly, with no gap and no overlap; nothing is
    yielded when ``first > last``. Raises ``ValueError`` when not even one date
    fits in ``max_span``.
    """
    guess = max(1, max_span // 86_400)
    start = first
    while start <= last:
        since = window_since(start)
        end = min(last, start + dt.timedelta(days=guess - 1))
        # A DST change inside the window makes a day 23 or 25 hours long, so the
        # guess may be one date off either way: step until it is maximal.
        while end > start and window_until(end) - since > max_span:
            end -= _ONE_DAY
        while end < last and window_until(end + _ONE_DAY) - since <= max_span:
            end += _ONE_DAY
        until = window_until(end)
        if until - since > max_span:
            raise ValueError(
                f"max_span {max_span} s cannot hold end_time date {start} "
                f"({until - since} s between the edges)"
            )
        yield Window(start, end, since, until)
        start = end + _ONE_DAY


def count_windows(first: dt.date, last: dt.date, max_span: int = MAX_SPAN_S) -> int:
    """How many windows :func:`windows` yields for ``first..last``."""
    return sum(1 for _ in windows(first, last, max_span))
