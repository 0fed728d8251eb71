"""A point on the hot path: one plain tuple, from the parser to both sinks.

The parser makes ~150 points per answer and each is written twice (the store
and NDJSON): an object per point, its ``__init__`` and the dicts the sinks
built from it were a third of the collector's CPU (docs/benchmarks.md,
section 5). A :data:`PointRow` carries the same fields as
:class:`~collector.model.records.Point` as a tuple, in the order the store's
narrow identity wants them:

``(account_id, metric, period, dimensions, end_ts, value, api_version, fetched_at)``

- ``row[:4]`` (:func:`series_of`) is the point's *series*: the store keeps each
  series once and a point as (series id, ``end_ts``);
- ``dimensions`` is already the canonical JSON text
  (:func:`~collector.model.records.dimensions_json`);
- ``end_ts`` is the end_time as Unix seconds, :data:`NO_END_TIME` (``0``) for a
  point without one (lifetime audience maps, demographics): no Instagram end_time
  is the epoch itself, and an integer key cannot be NULL.

:func:`point_of` and :func:`row_of` convert between the two forms; they are
inverse to each other (a property test holds them to it). Readers, the library
and tests use :class:`Point`; only the engine, the writer and the stores use rows.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from functools import lru_cache
from typing import Final

import orjson

from collector.model.records import Point, dimensions_json

__all__ = [
    "NO_END_TIME", "PointRow", "SeriesKey", "end_time_text", "end_ts_of", "graph_time_to_ts",
    "point_of", "row_of", "series_of",
]  # fmt: skip

# (account_id, metric, period, dimensions, end_ts, value, api_version, fetched_at)
PointRow = tuple[str, str, str, str, int, int | float, str, str]
# (account_id, metric, period, dimensions): what the store keeps once, as an integer id
SeriesKey = tuple[str, str, str, str]

NO_END_TIME: Final = 0


def series_of(row: PointRow) -> SeriesKey:
    """The series a row belongs to: its first four fields."""
    return row[0], row[1], row[2], row[3]


@lru_cache(maxsize=16_384)
def end_time_text(end_ts: int) -> str | None:
    """``end_ts`` as RFC 3339 UTC with ``Z`` (``None`` for :data:`NO_END_TIME`).

    Cached: a run sees the same few hundred end_times millions of times.
    """
    if end_ts == NO_END_TIME:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ts))


@lru_cache(maxsize=16_384)
def end_ts_of(end_time: str | None) -> int:
    """An RFC 3339 UTC end_time (``...Z``) as Unix seconds; ``None`` is :data:`NO_END_TIME`.

    Raises ``ValueError`` for text that is not such a timestamp.
    """
    if end_time is None:
        return NO_END_TIME
    if not _RFC3339_Z.fullmatch(end_time):
        raise ValueError(f"not an RFC 3339 UTC time: {end_time!r}")
    return calendar.timegm(dt.datetime.fromisoformat(end_time[:19]).timetuple())


# ASCII digits only: ``\d`` would also take other scripts' digits.
_RFC3339_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_GRAPH_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+0000")


@lru_cache(maxsize=16_384)
def graph_time_to_ts(end_time: str) -> int:
    """Graph's ``2019-12-20T08:00:00+0000`` (any UTC offset) as Unix seconds.

    Raises ``ValueError`` for text that is not such a timestamp. The common
    ``+0000`` form skips strptime; fromisoformat still checks the ranges
    (month 13 or hour 99 match the shape).
    """
    if _GRAPH_UTC.fullmatch(end_time):
        return calendar.timegm(dt.datetime.fromisoformat(end_time[:19]).timetuple())
    return int(dt.datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def point_of(row: PointRow) -> Point:
    """The :class:`Point` a row stands for."""
    account_id, metric, period, dimensions, end_ts, value, api_version, fetched_at = row
    return Point(
        account_id, metric, period, end_time_text(end_ts), _dimensions(dimensions), value,
        api_version, fetched_at,
    )  # fmt: skip


def row_of(point: Point) -> PointRow:
    """The row of a :class:`Point` (its end_time must be RFC 3339 UTC with ``Z``, or ``None``)."""
    return (
        point.account_id, point.metric, point.period, dimensions_json(point.dimensions),
        end_ts_of(point.end_time), point.value, point.api_version, point.fetched_at,
    )  # fmt: skip


@lru_cache(maxsize=4_096)
def _dimensions_cached(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(orjson.loads(text).items())


def _dimensions(text: str) -> dict[str, str]:
    """The dimensions object of its canonical JSON text (a fresh dict each time)."""
    return dict(_dimensions_cached(text))
