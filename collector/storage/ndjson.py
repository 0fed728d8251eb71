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
from collector.model.rows import PointRow, end_time_text, row_of


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


def encode_rows(rows: Iterable[PointRow]) -> bytes:
    """Rows (:mod:`collector.model.rows`) as consecutive NDJSON lines (``b""`` for none).

    The same bytes as joining :func:`encode_point` of each row's point, built
    from byte pieces joined once, without a dict or an orjson call per line. A
    line is ``head + end_time + dimensions + value + tail``: the head (account,
    metric, period) and the tail (api_version, fetched_at) are shared by the
    consecutive rows of one series and one answer, so each is made when it
    changes (an identity check per row); the strings in them are JSON-encoded
    once and kept (:func:`_quoted`), except ``fetched_at``, new with every
    answer, which a cache would only grow on. The dimensions are already
    canonical JSON text; an integer is written with ``%d``, which is its JSON;
    a float goes through orjson (its shortest round-trip form, as
    :func:`encode_point` writes it). Raises ``ValueError`` like :func:`encode_point`.
    """
    parts: list[bytes] = []
    extend = parts.extend
    quoted, dims, ends = _QUOTED, _DIMENSIONS, _END_TIMES
    account = metric_ = period_ = version = fetched = None
    head = tail = b""
    for account_id, metric, period, dimensions, end_ts, value, api_version, fetched_at in rows:
        if type(value) is int:
            number = b"%d" % value
        else:
            if not math.isfinite(value):
                raise ValueError(f"non-finite value for {metric} of {account_id}: {value}")
            number = _compact(orjson.dumps(value))  # kept in parts until the join
        if metric is not metric_ or account_id is not account or period is not period_:
            account, metric_, period_ = account_id, metric, period
            head = _HEAD % (
                quoted.get(account_id) or _quoted(account_id),
                quoted.get(metric) or _quoted(metric),
                quoted.get(period) or _quoted(period),
            )
        if fetched_at is not fetched or api_version is not version:
            version, fetched = api_version, fetched_at
            tail = _TAIL % (
                quoted.get(api_version) or _quoted(api_version),
                orjson.dumps(fetched_at),
            )
        extend(
            (
                head,
                ends.get(end_ts) or _end_time(end_ts),
                _DIMENSIONS_KEY,
                dims.get(dimensions) or _raw(dimensions),
                _VALUE_KEY,
                number,
                tail,
            )
        )
    return b"".join(parts)


def encode_points(points: Iterable[Point]) -> bytes:
    """:func:`encode_rows` of points (the same bytes as joining :func:`encode_point`)."""
    return encode_rows([row_of(point) for point in points])


# The pieces of a line (keys in Point.as_dict order), see encode_rows.
_HEAD = b'{"account_id":%b,"metric":%b,"period":%b,"end_time":'
_DIMENSIONS_KEY = b',"dimensions":'
_VALUE_KEY = b',"value":'
_TAIL = b',"api_version":%b,"fetched_at":%b}\n'
# The JSON of the strings seen and the bytes of the dimension texts; cleared when full
# (a registry of more accounts than that still works, re-encoding as it goes).
_QUOTED: dict[str, bytes] = {}
_DIMENSIONS: dict[str, bytes] = {}
_END_TIMES: dict[int, bytes] = {}
_CACHE_MAX = 16_384


def _quoted(text: str) -> bytes:
    return _keep(_QUOTED, text, _compact(orjson.dumps(text)))


def _compact(encoded: bytes) -> bytes:
    """A copy of exactly its size: orjson's output of a short text holds a 4 KiB block,
    which 10,000 cached account ids made 40 MiB of peak RSS (docs/benchmarks.md)."""
    return bytes(memoryview(encoded))


def _raw(dimensions: str) -> bytes:
    return _keep(_DIMENSIONS, dimensions, dimensions.encode())


def _keep(cache: dict[str, bytes], text: str, encoded: bytes) -> bytes:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[text] = encoded
    return encoded


def _end_time(end_ts: int) -> bytes:
    if len(_END_TIMES) >= _CACHE_MAX:
        _END_TIMES.clear()
    encoded = _END_TIMES[end_ts] = _compact(orjson.dumps(end_time_text(end_ts)))
    return encoded


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
