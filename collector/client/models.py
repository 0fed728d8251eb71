"""What the library call returns: the API's insight entries, checked, merged, and as models.

An insights answer is ``{"data": [entry, ...]}``, one entry per metric (SPEC 4).
:func:`checked_entries` checks an answer's shape (a body the API would never send
is a :class:`~collector.errors.BadResponse`, which the retry policy retries);
:func:`merge_entries` joins the entries of the windows a long range was split
into; :func:`insight_of` turns an entry into a frozen :class:`Insight`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from collector.errors import BadResponse

Number = int | float


@dataclass(frozen=True, slots=True)
class InsightValue:
    """One value of a metric.

    ``value`` is a number, or a read-only mapping for ``online_followers`` (hour
    ``"0".."23"`` -> followers online) and the legacy ``audience_*`` metrics
    (key -> count). ``end_time`` is the aware UTC instant that ends the value's
    day (a Pacific midnight), or ``None`` where the API gives none.
    """

    value: Number | Mapping[str, Number]
    end_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Insight:
    """One metric of an answer, in the API's own terms.

    ``values`` is empty for a ``total_value`` answer, whose figure is in
    ``total_value`` (a read-only view of the API's ``total_value`` object:
    ``value`` and/or ``breakdowns``); ``total_value`` is ``None`` otherwise.
    """

    name: str
    period: str
    title: str | None
    description: str | None
    id: str | None
    values: tuple[InsightValue, ...]
    total_value: Mapping[str, Any] | None = None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(name: str, item: object) -> None:
    if not isinstance(item, dict) or "value" not in item:
        raise BadResponse(f"a value of {name!r} has no 'value'")
    value = item["value"]
    if isinstance(value, dict):
        if not all(_is_number(v) for v in value.values()):
            raise BadResponse(f"a value map of {name!r} holds something that is not a number")
    elif not _is_number(value):
        raise BadResponse(f"a value of {name!r} is not a number")
    end_time = item.get("end_time")
    if end_time is not None:
        if not isinstance(end_time, str):
            raise BadResponse(f"a value of {name!r} has a malformed end_time")
        try:
            parse_end_time(end_time)
        except ValueError:
            raise BadResponse(f"a value of {name!r} has a malformed end_time") from None


def checked_entries(body: Any) -> list[dict[str, Any]]:
    """The ``data`` entries of an insights answer, each checked for the documented shape.

    Every entry needs a ``name`` and a ``period`` (text) and either a ``values``
    list (each item a ``value`` that is a number or a map of numbers, and an
    optional parseable ``end_time``) or a ``total_value`` object. Raises
    :class:`BadResponse` otherwise.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadResponse("insights answer without a 'data' list")
    entries: list[dict[str, Any]] = body["data"]
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadResponse("insights entry without a name")
        name = entry["name"]
        if not isinstance(entry.get("period"), str):
            raise BadResponse(f"insights entry {name!r} without a period")
        if "total_value" in entry:
            if not isinstance(entry["total_value"], dict):
                raise BadResponse(f"insights entry {name!r} with a malformed total_value")
            continue
        values = entry.get("values")
        if not isinstance(values, list):
            raise BadResponse(f"insights entry {name!r} without values")
        for item in values:
            _check_value(name, item)
    return entries


def merge_entries(
    windows: Sequence[Sequence[Mapping[str, Any]]], order: Sequence[str]
) -> list[dict[str, Any]]:
    """One entry per metric from the entries of consecutive windows, oldest window first.

    A metric's title, description and id come from its first entry; its values
    are the windows' values in window order, keeping the first value per
    ``end_time`` (the de-duplication the splitting rule of
    :mod:`collector.client.query` relies on; values without an end_time are all
    kept). Metrics come out in ``order`` (the request's), then any other name in
    order of appearance. The inputs are not modified.
    """
    merged: dict[str, dict[str, Any]] = {}
    seen: dict[str, set[str]] = {}
    for entries in windows:
        for entry in entries:
            name = entry["name"]
            if name not in merged:
                merged[name] = {**entry}
                if "values" in entry:
                    merged[name]["values"] = []
                seen[name] = set()
            target = merged[name]
            for item in entry.get("values", ()):
                end_time = item.get("end_time")
                if end_time is not None:
                    if end_time in seen[name]:
                        continue
                    seen[name].add(end_time)
                target["values"].append(item)
    rank = {name: index for index, name in enumerate(order)}
    return sorted(merged.values(), key=lambda e: rank.get(e["name"], len(rank)))


def parse_end_time(text: str) -> dt.datetime:
    """Graph's ``2019-12-20T08:00:00+0000`` as an aware UTC datetime (``ValueError`` if not one)."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").astimezone(dt.UTC)


def _value_of(item: Mapping[str, Any]) -> InsightValue:
    raw = item["value"]
    value: Number | Mapping[str, Number] = (
        MappingProxyType(dict(raw)) if isinstance(raw, dict) else raw
    )
    end_time = item.get("end_time")
    return InsightValue(value, parse_end_time(end_time) if end_time is not None else None)


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def insight_of(entry: Mapping[str, Any]) -> Insight:
    """The model of one entry that passed :func:`checked_entries`."""
    total = entry.get("total_value")
    return Insight(
        name=entry["name"],
        period=entry["period"],
        title=_text(entry, "title"),
        description=_text(entry, "description"),
        id=_text(entry, "id"),
        values=tuple(_value_of(item) for item in entry.get("values", ())),
        total_value=MappingProxyType(dict(total)) if isinstance(total, dict) else None,
    )
