"""Schema version 3 (the narrow identity) takes over a version-2 SQLite file and loses nothing.

``tests/fixtures/store_v2.sqlite.gz`` was written by the collector at schema
version 2 (commit 0426078, ``ig-collector demo`` on four demo accounts, seven
days, both catalogues: dated and undated points, breakdowns, demographics,
hour maps), with the NDJSON file of the same run beside it. The tests read
the file's ``insights`` table with the standard library before migrating, then
open it with today's store.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from collector.clock import SystemClock
from collector.model.records import Point
from collector.model.rows import row_of
from collector.storage.ndjson import decode_line
from collector.storage.schema import SCHEMA_VERSION
from collector.storage.sqlite import Store
from collector.storage.writer import SinkWriter
from tests.storage.helpers import outcome

FIXTURES = Path(__file__).parent.parent / "fixtures"
COLUMNS = "account_id, metric, period, end_time, dimensions, value, api_version, fetched_at, seq"


@pytest.fixture
def v2_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    with gzip.open(FIXTURES / "store_v2.sqlite.gz") as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return path


def _rows(path: Path) -> list[tuple[object, ...]]:
    """Every row of ``insights`` (a table at version 2, a view at 3), with its seq."""
    with sqlite3.connect(path) as db:
        return sorted(db.execute(f"SELECT {COLUMNS} FROM insights").fetchall(), key=str)


def _ndjson_points() -> list[Point]:
    with gzip.open(FIXTURES / "store_v2.ndjson.gz") as lines:
        return [decode_line(line) for line in lines]


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_the_fixture_is_a_version_2_file_that_matches_its_ndjson(v2_file: Path) -> None:
    """The premise: a version-2 file whose every point is a line of the same run's NDJSON."""
    rows = _rows(v2_file)
    assert _version(v2_file) == 2 and len(rows) == len(_ndjson_points()) == 2187


async def test_opening_a_version_2_file_keeps_every_row_through_the_insights_view(
    v2_file: Path,
) -> None:
    """After migration the view gives back every version-2 row: same identity, value,
    payload and commit sequence (end_time text and NULLs included)."""
    before = _rows(v2_file)
    store = await Store.open(v2_file)
    await store.close()
    assert _version(v2_file) == SCHEMA_VERSION == 3
    assert _rows(v2_file) == before


async def test_the_migrated_store_reads_every_point_of_the_ndjson(v2_file: Path) -> None:
    """The store's own reader finds every point the version-2 run wrote, value for value."""
    store = await Store.open(v2_file)
    try:
        stored = await store.points()
    finally:
        await store.close()
    key = row_of
    assert sorted(map(key, stored)) == sorted(map(key, _ndjson_points()))


async def test_a_write_after_migration_upserts_into_the_old_identities(v2_file: Path) -> None:
    """An unchanged value is not written again and a changed one is, in place: the migrated
    points keep their identities."""
    old = _ndjson_points()
    same, moved = old[0], old[1]
    changed = Point(
        moved.account_id, moved.metric, moved.period, moved.end_time, moved.dimensions,
        moved.value + 1, moved.api_version, "2026-12-06T00:00:00.000Z",
    )  # fmt: skip
    store = await Store.open(v2_file)
    try:
        writer = SinkWriter(store, None, SystemClock())
        await writer.start()
        await writer.put(outcome("after-migration", (same, changed)))
        await writer.close()
        stats = writer.stats
        points = await store.points()
    finally:
        await store.close()
    assert (stats.points_written, stats.points_unchanged, len(points)) == (1, 1, len(old))
    assert changed in points and moved not in points


async def test_series_are_stored_once_per_account_metric_period_and_dimensions(
    v2_file: Path,
) -> None:
    """The narrow identity: one series row per distinct (account, metric, period,
    dimensions) of the old table, and each point refers to one by an integer."""
    distinct = {
        (
            p.account_id,
            p.metric,
            p.period,
            orjson.dumps(dict(p.dimensions), option=orjson.OPT_SORT_KEYS),
        )
        for p in _ndjson_points()
    }
    store = await Store.open(v2_file)
    await store.close()
    with sqlite3.connect(v2_file) as db:
        series = db.execute("SELECT count(*) FROM series").fetchone()[0]
        kinds = db.execute(
            "SELECT DISTINCT typeof(series_id), typeof(end_ts) FROM points"
        ).fetchall()
    assert series == len(distinct)
    assert kinds == [("integer", "integer")]
