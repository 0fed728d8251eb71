"""From an insights answer to points in the record schema (collector/records.py).

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
from collections.abc import Container, Iterator
from typing import Any

from collector.errors import BadResponse
from collector.model.records import Point, graph_time_to_rfc3339

# Legacy audience metrics: the key of their map is this dimension.
AUDIENCE_DIMENSION = {
    "audience_city": "city",
    "audience_country": "country",
    "audience_locale": "locale",
    "audience_gender_age": "gender_age",
}


def points_from_body(
    body: Any,
    *,
    account_id: str,
    metrics: Container[str],
    api_version: str,
    fetched_at: str,
    end_times: Container[str] | None,
    total_end_time: str | None = None,
) -> list[Point]:
    """Every point of an insights answer.

    ``end_times`` is the set of RFC 3339 end_times the request was planned for
    (``None``: keep whatever comes, for requests without a range).
    ``total_end_time`` is the end_time given to a ``total_value`` answer, which
    carries none of its own (``None`` for demographics).
    Raises :class:`BadResponse` when the body does not have the documented shape.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadResponse("insights answer without a 'data' list")
    points: list[Point] = []
    for entry in body["data"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadResponse("insights entry without a name")
        name = entry["name"]
        if name not in metrics:
            raise BadResponse(f"insights answer carries unrequested metric {name!r}")
        period = entry.get("period")
        if not isinstance(period, str):
            raise BadResponse(f"insights entry {name!r} without a period")
        if "total_value" in entry:
            for end_time, dims, value in _total(entry["total_value"], total_end_time):
                points.append(
                    Point(account_id, name, period, end_time, dims, value, api_version, fetched_at)
                )
            continue
        values = entry.get("values")
        if not isinstance(values, list):
            raise BadResponse(f"insights entry {name!r} without values")
        _append_values(points, name, period, values, account_id, api_version, fetched_at, end_times)
    return points


def _append_values(
    points: list[Point],
    name: str,
    period: str,
    values: list[Any],
    account_id: str,
    api_version: str,
    fetched_at: str,
    end_times: Container[str] | None,
) -> None:
    """Append the points of one entry's ``values``: the hot loop, so plain numbers
    are recognised by ``type()`` first and anything else goes through ``_number``."""
    append = points.append
    for item in values:
        if not isinstance(item, dict) or "value" not in item:
            raise BadResponse(f"a value of {name!r} has no 'value'")
        raw_end = item.get("end_time")
        end_time: str | None = None
        if raw_end is not None:
            end_time = _end_time(name, raw_end)
            if end_times is not None and end_time not in end_times:
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
                    dims = {dimension: key if type(key) is str else str(key)}
                    append(
                        Point(
                            account_id,
                            name,
                            period,
                            end_time,
                            dims,
                            number,
                            api_version,
                            fetched_at,
                        )
                    )
                continue
            value = _number(value, name)
        append(Point(account_id, name, period, end_time, {}, value, api_version, fetched_at))


def _end_time(name: str, raw_end: Any) -> str:
    try:
        return graph_time_to_rfc3339(str(raw_end))
    except ValueError:
        raise BadResponse(f"a value of {name!r} has a malformed end_time") from None


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadResponse(f"{what} is not a number")
    return value


def _total(
    total: Any, end_time: str | None
) -> Iterator[tuple[str | None, dict[str, str], int | float]]:
    # Demographic answers carry only breakdowns; a plain total carries a value.
    if not isinstance(total, dict) or ("value" not in total and not total.get("breakdowns")):
        raise BadResponse("total_value without a value or breakdowns")
    breakdowns = total.get("breakdowns") or []
    if not breakdowns:
        yield end_time, {}, _number(total["value"], "total_value")
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
            yield end_time, dims, _number(result.get("value"), "breakdown value")


def fetched_now(now: dt.datetime) -> str:
    """``fetched_at`` for an answer received at ``now``, with millisecond precision."""
    return now.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
