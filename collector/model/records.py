"""The one record schema every sink writes: a single insight point.

Fields (NDJSON keys and SQLite columns alike):

- ``account_id``: the IG user id, as a string.
- ``metric``, ``period``: as the API names them.
- ``end_time``: RFC 3339 UTC (``2019-12-20T08:00:00Z``), or ``None`` where the
  API gives none (lifetime audience maps, demographics).
- ``dimensions``: ``{}`` for a plain value; ``{"hour": "13"}`` for
  ``online_followers``; ``{"city": ...}`` etc. for ``audience_*``; breakdown
  key -> value for ``total_value`` metrics.
- ``value``: a number.
- ``api_version``: e.g. ``v17.0``.
- ``fetched_at``: RFC 3339 UTC time the answer was received.

The identity of a point is (account_id, metric, period, end_time, dimensions);
``value``, ``api_version`` and ``fetched_at`` are its payload.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import orjson


@dataclass(frozen=True, slots=True, init=False)
class Point:
    """One insight point (the fields are described at the top of this module). Frozen."""

    account_id: str
    metric: str
    period: str
    end_time: str | None
    dimensions: Mapping[str, str]
    value: int | float
    api_version: str
    fetched_at: str

    def __init__(
        self,
        account_id: str,
        metric: str,
        period: str,
        end_time: str | None,
        dimensions: Mapping[str, str],
        value: int | float,
        api_version: str,
        fetched_at: str,
    ) -> None:
        # The parser makes ~150 points per answer. A frozen dataclass's generated
        # __init__ sets each field with object.__setattr__ (1.4 us a point);
        # calling the slots' own setters directly keeps the class frozen at half
        # the cost. Slots, not __dict__: one GC-tracked object per point instead
        # of two, and less memory (docs/benchmarks.md, "Profile and fixes").
        _set_account_id(self, account_id)
        _set_metric(self, metric)
        _set_period(self, period)
        _set_end_time(self, end_time)
        _set_dimensions(self, dimensions)
        _set_value(self, value)
        _set_api_version(self, api_version)
        _set_fetched_at(self, fetched_at)

    def key(self) -> tuple[str, str, str, str | None, str]:
        """The identity of the point: equal keys mean the same observation."""
        return (
            self.account_id,
            self.metric,
            self.period,
            self.end_time,
            dimensions_json(self.dimensions),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "metric": self.metric,
            "period": self.period,
            "end_time": self.end_time,
            "dimensions": dict(self.dimensions),
            "value": self.value,
            "api_version": self.api_version,
            "fetched_at": self.fetched_at,
        }


# The slot descriptors' setters, for Point.__init__ (they bypass the frozen __setattr__).
_Setter = Callable[[Point, object], None]


def _setter(field: str) -> _Setter:
    setter: _Setter = vars(Point)[field].__set__
    return setter


_set_account_id = _setter("account_id")
_set_metric = _setter("metric")
_set_period = _setter("period")
_set_end_time = _setter("end_time")
_set_dimensions = _setter("dimensions")
_set_value = _setter("value")
_set_api_version = _setter("api_version")
_set_fetched_at = _setter("fetched_at")


def dimensions_json(dimensions: Mapping[str, str]) -> str:
    """Canonical JSON text of a dimensions object (sorted keys), as stored in SQLite."""
    if not dimensions:
        return "{}"
    if len(dimensions) == 1:
        # One key: the common case (hour, city, ...). The few distinct ones recur in
        # every request, so their text is kept rather than encoded each time.
        ((key, value),) = dimensions.items()
        text = _SINGLE_DIMENSION.get((key, value))
        if text is None:
            if len(_SINGLE_DIMENSION) >= _SINGLE_DIMENSION_MAX:
                _SINGLE_DIMENSION.clear()
            text = _SINGLE_DIMENSION[(key, value)] = orjson.dumps({key: value}).decode()
        return text
    return orjson.dumps(dict(dimensions), option=orjson.OPT_SORT_KEYS).decode()


_SINGLE_DIMENSION: dict[tuple[str, str], str] = {}
_SINGLE_DIMENSION_MAX = 4096


def rfc3339(moment: dt.datetime) -> str:
    """An aware datetime as RFC 3339 UTC with a ``Z``: ``2019-12-20T08:00:00Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ASCII digits only: ``\d`` would also take other scripts' digits.
_UTC_GRAPH_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+0000")


@lru_cache(maxsize=8192)
def graph_time_to_rfc3339(end_time: str) -> str:
    """Graph's ``2019-12-20T08:00:00+0000`` as ``2019-12-20T08:00:00Z``.

    Raises ``ValueError`` for text that is not such a timestamp. The common
    ``+0000`` form is rewritten without strptime (a run sees the same few
    hundred end_times millions of times, hence the cache too).
    """
    if _UTC_GRAPH_TIME.fullmatch(end_time):
        # The shape alone lets month 13 or hour 99 through: fromisoformat checks the
        # ranges (cheap, and the cache makes it once per distinct end_time).
        dt.datetime.fromisoformat(end_time[:19])
        return end_time[:19] + "Z"
    return rfc3339(dt.datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z"))
