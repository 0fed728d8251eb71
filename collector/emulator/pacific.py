"""Pacific calendar-day arithmetic for the emulator (SPEC section 3).

Meta's daily insights are Pacific-time days (America/Los_Angeles, DST included): the
value of day ``D`` carries ``end_time`` = the Pacific midnight that *ends* ``D``, i.e.
the start of ``D + 1``, written in UTC (``08:00Z`` in winter, ``07:00Z`` in summer).
Everything here works on unix seconds (ints) so the emulator never holds naive times.
Days are 23, 24 or 25 hours long; nothing here assumes 86400.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")

ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=8192)
def day_start(day: dt.date) -> int:
    """Unix seconds of the Pacific midnight that starts ``day``."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=PACIFIC)
    return int(midnight.timestamp())


def day_end(day: dt.date) -> int:
    """Unix seconds of the Pacific midnight that ends ``day``: its ``end_time``."""
    return day_start(day + ONE_DAY)


def noon(day: dt.date) -> int:
    """Unix seconds of Pacific noon on ``day`` (the collector's window edge)."""
    return int(dt.datetime(day.year, day.month, day.day, 12, tzinfo=PACIFIC).timestamp())


def pacific_date(moment: float) -> dt.date:
    """The Pacific calendar date containing the instant ``moment`` (unix seconds)."""
    return dt.datetime.fromtimestamp(moment, PACIFIC).date()


def day_of_end_time(end_time: int) -> dt.date:
    """The day whose ``end_time`` is ``end_time`` (the date *before* the one it falls on)."""
    return pacific_date(end_time) - ONE_DAY


def end_date(day: dt.date) -> dt.date:
    """The Pacific date on which ``day``'s end_time falls (``day + 1``)."""
    return day + ONE_DAY


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every date from ``first`` to ``last`` inclusive (empty when ``last < first``)."""
    count = (last - first).days + 1
    return [first + dt.timedelta(days=i) for i in range(max(0, count))]


def days_in_range(since: int, until: int, *, since_inclusive: bool = False) -> list[dt.date]:
    """The days whose end_time ``e`` satisfies ``since < e <= until`` (SPEC 3, observed).

    With ``since_inclusive`` the rule is ``since <= e <= until`` (scenario
    ``since_edge = "inclusive"``). Days are returned oldest first; whether they have
    begun is the caller's concern.
    """
    if until < since:
        return []
    # The candidate days end between pacific_date(since) and pacific_date(until) + 1.
    first = pacific_date(since) - ONE_DAY
    last = pacific_date(until)
    chosen: list[dt.date] = []
    for day in days_between(first, last):
        end = day_end(day)
        lower_ok = since <= end if since_inclusive else since < end
        if lower_ok and end <= until:
            chosen.append(day)
    return chosen


def graph_time(moment: int) -> str:
    """Graph's timestamp form: ``2019-12-20T08:00:00+0000``."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def rfc3339(moment: int) -> str:
    """RFC 3339 UTC with ``Z``: ``2019-12-20T08:00:00Z`` (the records' form)."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pacific_text(moment: float) -> str:
    """Meta's human form in token errors: ``Friday, 19-Jul-19 12:00:00 PDT``."""
    return dt.datetime.fromtimestamp(moment, PACIFIC).strftime("%A, %d-%b-%y %H:%M:%S %Z")
