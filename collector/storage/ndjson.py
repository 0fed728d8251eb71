"""The NDJSON format: one :class:`~collector.model.records.Point` per line, nothing else.

This module turns points into bytes and back; it knows nothing of files,
offsets or SQLite (the destination is :mod:`collector.storage.files`).

A line is a JSON object with the keys of :meth:`Point.as_dict`, in that order,
``dimensions`` with sorted keys, terminated by ``\\n``. Integers stay integers
(``5``, never ``5.0``), so a reader gets back the number the API sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from collector.model.records import Point


def encode_point(point: Point) -> bytes:
    """One point as one NDJSON line (UTF-8, ending in ``\\n``).

    Raises ``ValueError`` for a non-finite value: JSON has no NaN or infinity,
    and orjson would silently write ``null`` in their place.
    """
    value = point.value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite value for {point.metric} of {point.account_id}: {value}")
    return orjson.dumps(
        {
            "account_id": point.account_id,
            "metric": point.metric,
            "period": point.period,
            "end_time": point.end_time,
            "dimensions": {k: point.dimensions[k] for k in sorted(point.dimensions)},
            "value": value,
            "api_version": point.api_version,
            "fetched_at": point.fetched_at,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def encode_points(points: Iterable[Point]) -> bytes:
    """Many points as consecutive NDJSON lines (empty bytes for no points).

    The same bytes as joining :func:`encode_point` of each, made with one orjson
    call for the whole batch (a call per point costs more than the encoding
    itself): the batch is encoded as a JSON array of line objects, and every
    boundary between two of them is ``},{"account_id":``. That text cannot occur
    inside a line: in a string a quote is always escaped (``\\"``), and the only
    nested object, ``dimensions``, follows a colon. Raises ``ValueError`` like
    :func:`encode_point`.
    """
    lines: list[dict[str, object]] = []
    for point in points:
        value = point.value
        if isinstance(value, float) and not math.isfinite(value):
            encode_point(point)  # raises
        dimensions = point.dimensions
        if type(dimensions) is not dict or len(dimensions) > 1:
            dimensions = {k: dimensions[k] for k in sorted(dimensions)}
        lines.append(
            {
                "account_id": point.account_id,
                "metric": point.metric,
                "period": point.period,
                "end_time": point.end_time,
                "dimensions": dimensions,
                "value": value,
                "api_version": point.api_version,
                "fetched_at": point.fetched_at,
            }
        )
    if not lines:
        return b""
    return orjson.dumps(lines)[1:-1].replace(_BOUNDARY, _NEWLINE_BOUNDARY) + b"\n"


_BOUNDARY = b'},{"account_id":'
_NEWLINE_BOUNDARY = b'}\n{"account_id":'


def decode_line(line: bytes | str) -> Point:
    """Parse one NDJSON line written by :func:`encode_point` back into a point.

    Raises ``orjson.JSONDecodeError`` for bad JSON and ``KeyError`` for a
    missing field.
    """
    raw = orjson.loads(line)
    return Point(
        account_id=raw["account_id"],
        metric=raw["metric"],
        period=raw["period"],
        end_time=raw["end_time"],
        dimensions=raw["dimensions"],
        value=raw["value"],
        api_version=raw["api_version"],
        fetched_at=raw["fetched_at"],
    )
