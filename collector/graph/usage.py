"""Meta's usage headers, parsed: ``X-App-Usage`` and ``X-Business-Use-Case-Usage``.

SPEC section 6. Both headers are JSON. ``X-App-Usage`` is one object of whole-number
percentages of the app's rolling one-hour allowance. ``X-Business-Use-Case-Usage``
is keyed by business id (up to 32 keys; one call may be reported under both the
business id and the IG user id), each key holding a *list* of entries; so every key
and every item is read, and nothing is read from the top level.

Leniency, because "new fields appear without notice" (SPEC 6):

- unknown fields are ignored; a known field that is missing counts as 0, but an
  object with none of the known numeric fields is not a usage report;
- numbers may be JSON ints, floats or numeric strings (``"28"``, ``"28.5"``);
  percentages are rounded *up*, so a fractional usage never reads lower than it is;
- an absent (``None``) or blank header means "no report yet" (SPEC 6: "A header may
  be absent until enough calls have been made").

Anything else (not JSON, wrong shape, a negative, non-finite or non-numeric value)
raises :class:`MalformedUsage`. Its message never quotes the header, which could be
huge; the caller logs it once per (app, header name) and goes on without it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

APP_HEADER = "X-App-Usage"
BUC_HEADER = "X-Business-Use-Case-Usage"
# Far beyond 32 keys of a few entries (~10 KB); bounds the work garbage can cause.
MAX_HEADER_CHARS = 1 << 20

_PERCENT_FIELDS = ("call_count", "total_time", "total_cputime")
_REGAIN_FIELD = "estimated_time_to_regain_access"
_NUMERIC_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class MalformedUsage(ValueError):
    """A usage header that is present but unreadable; the message never quotes it."""


@dataclass(frozen=True, slots=True)
class AppUsage:
    """``X-App-Usage``: percentages (may pass 100) of the app's rolling hour."""

    call_count: int
    total_time: int
    total_cputime: int

    @property
    def peak(self) -> int:
        """The highest of the three: throttling may start when any reaches 100."""
        return max(self.call_count, self.total_time, self.total_cputime)


@dataclass(frozen=True, slots=True)
class BucEntry:
    """One item of one key's list in ``X-Business-Use-Case-Usage``."""

    business_id: str
    type: str
    call_count: int
    total_time: int
    total_cputime: int
    regain_minutes: float  # ``estimated_time_to_regain_access``; 0 = not blocked

    @property
    def peak(self) -> int:
        """The highest of the three percentages."""
        return max(self.call_count, self.total_time, self.total_cputime)


def parse_app_usage(raw: str | None) -> AppUsage | None:
    """The app usage in ``raw``; ``None`` when absent or blank.

    Raises :class:`MalformedUsage` when the header is not a JSON object carrying at
    least one of ``call_count``, ``total_time``, ``total_cputime`` as valid numbers.
    """
    doc = _load(raw, APP_HEADER)
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise MalformedUsage(f"{APP_HEADER} is not a JSON object")
    counts = _percentages(doc, APP_HEADER)
    if counts is None:
        raise MalformedUsage(f"{APP_HEADER} has none of {', '.join(_PERCENT_FIELDS)}")
    return AppUsage(*counts)


def parse_buc_usage(raw: str | None) -> tuple[BucEntry, ...]:
    """Every entry of every key in ``raw``, in header order; ``()`` when absent or blank.

    Raises :class:`MalformedUsage` unless the header is a JSON object whose every
    value is a list of objects, each with at least one known numeric field.
    """
    doc = _load(raw, BUC_HEADER)
    if doc is None:
        return ()
    if not isinstance(doc, dict):
        raise MalformedUsage(f"{BUC_HEADER} is not a JSON object")
    entries: list[BucEntry] = []
    for key_no, (business_id, items) in enumerate(doc.items(), start=1):
        # The classic bug reads ``call_count`` here, at the top level: a top-level
        # number is a wrong shape, never a usage figure.
        if not isinstance(items, list):
            raise MalformedUsage(f"{BUC_HEADER}: key #{key_no} does not hold a list")
        for item_no, item in enumerate(items, start=1):
            where = f"{BUC_HEADER}: key #{key_no}, item #{item_no}"
            entries.append(_buc_entry(business_id, item, where))
    return tuple(entries)


def _buc_entry(business_id: str, item: Any, where: str) -> BucEntry:
    if not isinstance(item, dict):
        raise MalformedUsage(f"{where} is not an object")
    kind = item.get("type", "")
    if not isinstance(kind, str):
        raise MalformedUsage(f"{where}: type is not a string")
    counts = _percentages(item, where)
    regain_raw = item.get(_REGAIN_FIELD)
    regain = 0.0 if regain_raw is None else _number(regain_raw, f"{where}: {_REGAIN_FIELD}")
    if counts is None:
        if regain_raw is None:
            raise MalformedUsage(f"{where} has no usage field")
        counts = (0, 0, 0)
    return BucEntry(business_id, kind, *counts, regain_minutes=regain)


def _load(raw: str | None, header: str) -> Any:
    """The parsed JSON, ``None`` for an absent or blank header."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_HEADER_CHARS:
        raise MalformedUsage(f"{header} is longer than {MAX_HEADER_CHARS} characters")
    try:
        return orjson.loads(raw)
    except (ValueError, TypeError):
        pass
    # Raised outside the ``except``: the decoder's error keeps the whole document
    # (``JSONDecodeError.doc``), which must not ride along as ``__context__``.
    raise MalformedUsage(f"{header} is not JSON")


def _percentages(obj: dict[str, Any], where: str) -> tuple[int, int, int] | None:
    """The three percentages rounded up (missing ones 0); ``None`` if all are missing."""
    if all(name not in obj for name in _PERCENT_FIELDS):
        return None
    c, t, cpu = (
        math.ceil(_number(obj[name], f"{where}: {name}")) if name in obj else 0
        for name in _PERCENT_FIELDS
    )
    return c, t, cpu


def _number(value: Any, where: str) -> float:
    """A finite, non-negative number from a JSON int, float or numeric string."""
    if isinstance(value, bool):  # JSON true/false: ``bool`` is an ``int`` in Python
        raise MalformedUsage(f"{where} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            raise MalformedUsage(f"{where} is not a number")
        value = float(text)
    if not isinstance(value, int | float):
        raise MalformedUsage(f"{where} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise MalformedUsage(f"{where} is not finite")
    if value < 0:
        raise MalformedUsage(f"{where} is negative")
    return value
