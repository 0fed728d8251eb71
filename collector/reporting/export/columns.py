"""The two shapes of an export, as typed columns: long (a row per point) and wide.

Both are pure Python and know nothing of files: a shape turns the reader's
sorted chunks of :class:`~collector.model.records.Point` into column batches
(``{name: [values]}``) whose cells are ``str``, ``datetime.date``, aware UTC
``datetime``, ``int``, ``float`` or ``None``, matching its :class:`Column`
kinds; :mod:`collector.reporting.export.formats` writes them.

``date`` is the Pacific day a value describes. Meta stamps a daily value with
``end_time``, the midnight that *ends* its day (SPEC section 3), so ``date`` is
the day before the end_time's Pacific date: reach with end_time
``2025-11-04T08:00:00Z`` is the reach of 3 November. Points without an end_time
(audience maps, demographics: lifetime snapshots) have no date.

Wide: one row per account and date, a column per series. A series is a
(metric, period, dimensions) triple; its column is the metric, then the period
unless ``day`` or ``lifetime``, then the dimension values in key order, joined
with dots: ``reach``, ``impressions.week``, ``reach.REELS``,
``online_followers.13``, ``follower_demographics.US.THIS_MONTH``. Where two series
would share a name, theirs spell every part out (``metric.period.key=value``).
A column is ``int`` when every value of its series is whole, else ``float``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import orjson

from collector.graph.pacific import end_time_date
from collector.model.records import Point, dimensions_json
from collector.storage.reader import Series

__all__ = ["Batch", "Column", "LongShape", "WideShape", "day_of", "instant"]

# timestamp: whole seconds (end_time); timestamp_ms: milliseconds (fetched_at, as stored).
Kind = Literal["string", "json", "date", "timestamp", "timestamp_ms", "int", "float"]
Batch = dict[str, list[object]]

_ONE_DAY: Final = dt.timedelta(days=1)
_UNDATED_PERIODS: Final = frozenset({"day", "lifetime"})  # not spelled in a wide column name


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its name and the kind of its cells (``json``: JSON text)."""

    name: str
    kind: Kind


@lru_cache(maxsize=4096)
def day_of(end_time: str | None) -> dt.date | None:
    """The Pacific day a value with this ``end_time`` describes (``None`` without one)."""
    if end_time is None:
        return None
    return end_time_date(end_time) - _ONE_DAY


@lru_cache(maxsize=8192)
def instant(stamp: str | None) -> dt.datetime | None:
    """A stored RFC 3339 UTC text (``...Z``) as an aware UTC datetime."""
    if stamp is None:
        return None
    return dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)


def _batch(columns: Sequence[Column]) -> Batch:
    return {column.name: [] for column in columns}


class LongShape:
    """A row per stored point: the store's columns, typed, plus the ``date`` it describes."""

    def __init__(self, series: Iterable[Series]) -> None:
        whole = all(s.whole for s in series)
        self.columns: tuple[Column, ...] = (
            Column("account_id", "string"), Column("metric", "string"),
            Column("period", "string"), Column("date", "date"),
            Column("end_time", "timestamp"), Column("dimensions", "json"),
            Column("value", "int" if whole else "float"),
            Column("api_version", "string"), Column("fetched_at", "timestamp_ms"),
        )  # fmt: skip
        self._float = not whole

    def batch(self, points: Sequence[Point]) -> Batch:
        """The rows of ``points``, in their order."""
        out = _batch(self.columns)
        for p in points:
            out["account_id"].append(p.account_id)
            out["metric"].append(p.metric)
            out["period"].append(p.period)
            out["date"].append(day_of(p.end_time))
            out["end_time"].append(instant(p.end_time))
            out["dimensions"].append(dimensions_json(p.dimensions))
            out["value"].append(float(p.value) if self._float else p.value)
            out["api_version"].append(p.api_version)
            out["fetched_at"].append(instant(p.fetched_at))
        return out


class WideShape:
    """A row per account and date, a column per series (see the module's header).

    Fed the reader's chunks in order (sorted by account, then end_time), it
    yields full batches of ``rows`` rows as account-days complete, then the
    rest from :meth:`finish`; memory holds one batch.
    """

    def __init__(self, series: Sequence[Series], *, rows: int = 2_000) -> None:
        ordered = sorted(series, key=_series_order)
        names = column_names(ordered)
        # keyed by canonical dimensions text: a store may keep its JSON spelled otherwise
        self._name = {
            (s.metric, s.period, dimensions_json(orjson.loads(s.dimensions))): names[i]
            for i, s in enumerate(ordered)
        }
        self._float = {names[i] for i, s in enumerate(ordered) if not s.whole}
        self.columns: tuple[Column, ...] = (
            Column("account_id", "string"),
            Column("date", "date"),
            *(Column(n, "float" if n in self._float else "int") for n in names),
        )
        self._rows = rows
        self._out = _batch(self.columns)
        self._count = 0
        self._key: tuple[str, str | None] | None = None
        self._row: dict[str, object] = {}

    def feed(self, points: Sequence[Point]) -> Iterator[Batch]:
        """Take the next sorted points; yield each batch that fills up."""
        for p in points:
            key = (p.account_id, p.end_time)
            if key != self._key:
                if self._key is not None and self._end_row():
                    yield self._take()
                self._key = key
            name = self._name[(p.metric, p.period, dimensions_json(p.dimensions))]
            self._row[name] = float(p.value) if name in self._float else p.value

    def finish(self) -> Iterator[Batch]:
        """The last row and the last, partly filled batch (nothing if empty)."""
        if self._key is not None:
            self._end_row()
            self._key = None
        if self._count:
            yield self._take()

    def _end_row(self) -> bool:
        """Append the current row; whether the batch is now full."""
        assert self._key is not None
        account, end_time = self._key
        row, out = self._row, self._out
        out["account_id"].append(account)
        out["date"].append(day_of(end_time))
        for column in self.columns[2:]:
            out[column.name].append(row.get(column.name))
        self._row = {}
        self._count += 1
        return self._count >= self._rows

    def _take(self) -> Batch:
        out, self._out, self._count = self._out, _batch(self.columns), 0
        return out


def column_names(series: Sequence[Series]) -> list[str]:
    """The wide column of each series, in order: short where unique, else spelled out."""
    short = [_column_name(s, spelled=False) for s in series]
    seen: dict[str, int] = {}
    for name in short:
        seen[name] = seen.get(name, 0) + 1
    return [
        name if seen[name] == 1 else _column_name(s, spelled=True)
        for name, s in zip(short, series, strict=True)
    ]


def _column_name(series: Series, *, spelled: bool) -> str:
    parts = [series.metric]
    if spelled or series.period not in _UNDATED_PERIODS:
        parts.append(series.period)
    dimensions: dict[str, str] = orjson.loads(series.dimensions)
    for key in sorted(dimensions):
        parts.append(f"{key}={dimensions[key]}" if spelled else str(dimensions[key]))
    return ".".join(parts)


def _series_order(series: Series) -> tuple[object, ...]:
    """Metric, period, dimension keys, then their values, numbers in numeric order (hour 2
    before hour 10)."""
    dimensions: dict[str, str] = orjson.loads(series.dimensions)
    keys = tuple(sorted(dimensions))
    values = tuple(
        (0, int(v), "") if str(v).isdigit() else (1, 0, str(v))
        for v in (dimensions[k] for k in keys)
    )
    return (series.metric, series.period, keys, values)
