"""Outcomes, points and readers shared by the sink writer's tests."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

from collector.model.outcome import Outcome, OutcomeState
from collector.model.records import Point
from collector.model.rows import row_of

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def point(value: int | float, day: int, *, account: str = "111", fetched: str = "T1") -> Point:
    return Point(
        account, "reach", "day", f"2024-02-{day:02d}T08:00:00Z", {}, value, "v17.0",
        f"2024-03-01{fetched}",
    )  # fmt: skip


def outcome(key: str, points: tuple[Point, ...] = (), state: OutcomeState = "done") -> Outcome:
    reason = "code 2" if state == "failed" else None
    rows = tuple(row_of(p) for p in points)
    return Outcome(key, "111", "app-a", ("reach",), "day", 1, 2, state, rows, 1, reason)


def lines(path: Path) -> list[dict[str, object]]:
    """The NDJSON file parsed with the stdlib (gzip-aware), one dict per line."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
