"""From an insights answer to points: rows (collector/model/rows.py) in the record schema.

The parser is strict about shape (a body the API would never send is a
:class:`~collector.errors.BadResponse`, worth a retry) and defensive about
content: values whose ``end_time`` falls outside the dates the request was
planned for are dropped, so an edge rule we do not know can never make two
windows deliver the same day twice.

Dimensions (records.py): a ``total_value`` answer without breakdowns is one
point with ``{}``; with breakdowns, each result is one point keyed by the
answer's ``dimension_keys`` (``{"media_product_type": "REELS"}``; demographics
``{"timeframe": "THIS_MONTH", "country": "US"}``, a crossed breakdown one key
more) and the answer's own total is not recorded: the planner asks for the plain
total in a request of its own (collector/planner.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Iterator
from sys import intern
from typing import Any

from collector.errors import BadResponse
from collector.model.records import Point, dimensions_json
from collector.model.rows import (
    NO_END_TIME,
    PointRow,
    end_ts_of,
    graph_time_to_ts,
    point_of,
)

# Legacy audience metrics: the key of their map is this dimension.
AUDIENCE_DIMENSION = {
    "audience_city": "city",
    "audience_country": "country",
    "audience_locale": "locale",
    "audience_gender_age": "gender_age",
}


def rows_from_body(
    body: Any,
    *,
    account_id: str,
    metrics: Container[str],
    api_version: str,
    fetched_at: str,
    end_times: Container[int] | None,
    total_end_ts: int = NO_END_TIME,
) -> list[PointRow]:
    """Every point of an insights answer, as rows (:mod:`collector.model.rows`).

    ``end_times`` is the set of end_times (Unix seconds) the request was planned
    for (``None``: keep whatever comes, for requests without a range).
    ``total_end_ts`` is the end_time given to a ``total_value`` answer, which
    carries none of its own (:data:`NO_END_TIME` for demographics).
    Raises :class:`BadResponse` when the body does not have the documented shape.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadResponse("insights answer without a 'data' list")
    rows: list[PointRow] = []
    for entry in body["data"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadResponse("insights entry without a name")
        name = entry["name"]
        if name not in metrics:
            raise BadResponse(f"insights answer carries unrequested metric {name!r}")
        period = entry.get("period")
        if not isinstance(period, str):
            raise BadResponse(f"insights entry {name!r} without a period")
        # One string object per name across answers: the rows, the store's series cache
        # and the NDJSON encoder's identity checks then share it (orjson makes a new one
        # per answer).
        name, period = intern(name), intern(period)
        if "total_value" in entry:
            for dims, value in _total(entry["total_value"]):
                rows.append(
                    (account_id, name, period, dims, total_end_ts, value, api_version, fetched_at)
                )
            continue
        values = entry.get("values")
        if not isinstance(values, list):
            raise BadResponse(f"insights entry {name!r} without values")
        _append_values(rows, name, period, values, account_id, api_version, fetched_at, end_times)
    return rows


def points_from_body(
    body: Any,
    *,
    account_id: str,
    metrics: Container[str],
    api_version: str,
    fetched_at: str,
    end_times: Iterable[str] | None,
    total_end_time: str | None = None,
) -> list[Point]:
    """:func:`rows_from_body` as :class:`Point` objects, end_times as RFC 3339 text."""
    rows = rows_from_body(
        body,
        account_id=account_id,
        metrics=metrics,
        api_version=api_version,
        fetched_at=fetched_at,
        end_times=None if end_times is None else {end_ts_of(e) for e in end_times},
        total_end_ts=end_ts_of(total_end_time),
    )
    return [point_of(row) for row in rows]


def _append_values(
    rows: list[PointRow],
    name: str,
    period: str,
    values: list[Any],
    account_id: str,
    api_version: str,
    fetched_at: str,
    end_times: Container[int] | None,
) -> None:
    """Append the rows of one entry's ``values``: the hot loop, so plain numbers
    are recognised by ``type()`` first and anything else goes through ``_number``."""
    append = rows.append
    for item in values:
        if type(item) is not dict or "value" not in item:
            raise BadResponse(f"a value of {name!r} has no 'value'")
        raw_end = item.get("end_time")
        end_ts = NO_END_TIME
        if raw_end is not None:
            end_ts = _end_ts(name, raw_end)
            if end_times is not None and end_ts not in end_times:
                continue  # a day the request was not planned for (module docstring)
        value = item["value"]
        # type() rather than isinstance: bool is an int subclass and must be refused.
        if type(value) is not int and type(value) is not float:
            if isinstance(value, dict):
                # online_followers (hour -> followers) and audience_* (key -> followers)
                dimension = AUDIENCE_DIMENSION.get(name, "hour")
                for key, number in value.items():
                    if type(number) is not int and type(number) is not float:
                        number = _number(number, f"{name}[{key}]")
                    dims = dimensions_json({dimension: key if type(key) is str else str(key)})
                    append(
                        (account_id, name, period, dims, end_ts, number, api_version, fetched_at)
                    )
                continue
            value = _number(value, name)
        append((account_id, name, period, "{}", end_ts, value, api_version, fetched_at))


def _end_ts(name: str, raw_end: Any) -> int:
    try:
        return graph_time_to_ts(raw_end if type(raw_end) is str else str(raw_end))
    except ValueError:
        raise BadResponse(f"a value of {name!r} has a malformed end_time") from None


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadResponse(f"{what} is not a number")
    return value


def _total(total: Any) -> Iterator[tuple[str, int | float]]:
    """(dimensions text, value) of each point of a ``total_value``."""
    # Demographic answers carry only breakdowns; a plain total carries a value.
    if not isinstance(total, dict) or ("value" not in total and not total.get("breakdowns")):
        raise BadResponse("total_value without a value or breakdowns")
    breakdowns = total.get("breakdowns") or []
    if not breakdowns:
        yield "{}", _number(total["value"], "total_value")
        return
    for breakdown in breakdowns:
        keys = breakdown.get("dimension_keys") if isinstance(breakdown, dict) else None
        results = breakdown.get("results") if isinstance(breakdown, dict) else None
        if not isinstance(keys, list) or not isinstance(results, list):
            raise BadResponse("total_value breakdown without dimension_keys or results")
        for result in results:
            values = result.get("dimension_values") if isinstance(result, dict) else None
            if not isinstance(values, list) or len(values) != len(keys):
                raise BadResponse("breakdown result whose dimension_values do not match its keys")
            dims = {str(k): str(v) for k, v in zip(keys, values, strict=True)}
            yield dimensions_json(dims), _number(result.get("value"), "breakdown value")


def fetched_now(now: dt.datetime) -> str:
    """``fetched_at`` for an answer received at ``now``, with millisecond precision."""
    return now.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
