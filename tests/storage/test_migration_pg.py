"""PostgreSQL schema version 2 -> 3 (the narrow identity, issue 17): a store written by
version 2's ``insights`` table reads back whole through the store, its readers and the
``insights`` view, and later writes land on the same identities."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from collector.clock import ManualClock
from collector.model.records import Point
from collector.storage.postgres import PostgresStore
from collector.storage.postgres_reader import PostgresPointReader
from collector.storage.postgres_schema import SCHEMA_VERSION, migrate
from collector.storage.reader import PointQuery
from tests.storage.helpers import commit, outcome, point

# Version-2 rows as a version-2 writer left them, inserted in this order (the old id);
# their commit sequence is another order. Values as NUMERIC text.
_V2_ROWS = [
    # account, metric, period, end_time, dimensions, value, api_version, fetched_at, seq
    ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", "7", "v17.0", "F1", 3),
    ("111", "reach", "day", "2024-02-21T08:00:00Z", "{}", "2.5", "v17.0", "F1", 1),
    ("111", "follower_demographics", "lifetime", None, '{"city":"Oslo"}', "12", "v18.0", "F2", 2),
    ("222", "reach", "day", "2024-02-20T08:00:00Z", "{}", "12345678901234567890", "v17.0", "F3", 5),
    ("111", "follower_demographics", "lifetime", None, '{"city":"Rome"}', "0.30000000000000004",
     "v18.0", "F2", 4),
    ("111", "reach", "day", "1970-01-02T00:00:00Z", "{}", "-3", "v17.0", "F1", 6),
]  # fmt: skip
_BY_SEQ = sorted(_V2_ROWS, key=lambda r: r[8])


def _as_point(row: tuple[object, ...]) -> Point:
    """The point a version-2 row stands for, as the store reads it back."""
    account, metric, period, end_time, dims, value, api_version, fetched_at, _seq = row
    number = float(str(value)) if "." in str(value) else int(str(value))
    return Point(
        str(account), str(metric), str(period), end_time if end_time is None else str(end_time),
        orjson.loads(str(dims)), number, str(api_version), str(fetched_at),
    )  # fmt: skip


@pytest.fixture
async def conn(pg_url: str, pg_schema: str) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
    """A connection of the test's own to its schema (autocommit, rows by column name)."""
    async with await psycopg.AsyncConnection.connect(
        pg_url, autocommit=True, options=f"-c search_path={pg_schema}", row_factory=dict_row
    ) as opened:
        yield opened


@pytest.fixture
async def migrated(
    conn: psycopg.AsyncConnection[DictRow], pg_url: str, pg_schema: str, manual_clock: ManualClock
) -> AsyncIterator[PostgresStore]:
    """A store built at version 2 with :data:`_V2_ROWS`, migrated to the current version."""
    assert await migrate(conn, "test", pg_schema, target=2) == 0
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO insights (account_id, metric, period, end_time, dimensions, value,"
            " api_version, fetched_at, seq) VALUES (%s, %s, %s, %s, %s, %s::numeric, %s, %s, %s)",
            _V2_ROWS,
        )
    await conn.execute("UPDATE counters SET value = 6 WHERE name = 'insights'")
    assert await migrate(conn, "test", pg_schema) == 2
    store = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    yield store
    await store.close()


async def test_the_migration_reaches_the_current_version(
    migrated: PostgresStore, conn: psycopg.AsyncConnection[DictRow]
) -> None:
    """After the step the stored version is the current one, and insights is a view."""
    cur = await conn.execute(
        "SELECT (SELECT version FROM schema_version) AS version,"
        " (SELECT relkind::text FROM pg_class WHERE oid = 'insights'::regclass) AS kind"
    )
    assert await cur.fetchone() == {"version": SCHEMA_VERSION, "kind": "v"}


async def test_every_point_reads_back_in_commit_order_with_its_seq(
    migrated: PostgresStore,
) -> None:
    """points() and committed_after() return every version-2 point, value for value,
    in the order of the sequence each kept."""
    expected = [_as_point(r) for r in _BY_SEQ]
    assert await migrated.points() == expected
    assert await migrated.committed_after(0, 100) == [(r[8], p) for r, p in zip(
        _BY_SEQ, expected, strict=True)]  # fmt: skip
    assert await migrated.points("222") == [_as_point(_V2_ROWS[3])]


async def test_the_view_has_version_2_columns_and_rows(
    migrated: PostgresStore, conn: psycopg.AsyncConnection[DictRow]
) -> None:
    """The insights view shows each row as version 2's table held it (value as text,
    end_time as RFC 3339 or NULL), ordered by its id column."""
    cur = await conn.execute(
        "SELECT account_id, metric, period, end_time, dimensions, value::text AS value,"
        " api_version, fetched_at, seq FROM insights ORDER BY id"
    )
    assert [tuple(r.values()) for r in await cur.fetchall()] == _BY_SEQ


async def test_series_are_numbered_in_the_order_they_were_first_stored(
    migrated: PostgresStore, conn: psycopg.AsyncConnection[DictRow]
) -> None:
    """One series row per (account, metric, period, dimensions), numbered by the old id
    of its first point, and the next new series gets the next number."""
    cur = await conn.execute("SELECT id, account_id, metric, dimensions FROM series ORDER BY id")
    assert [tuple(r.values()) for r in await cur.fetchall()] == [
        (1, "111", "reach", "{}"),
        (2, "111", "follower_demographics", '{"city":"Oslo"}'),
        (3, "222", "reach", "{}"),
        (4, "111", "follower_demographics", '{"city":"Rome"}'),
    ]
    await commit(migrated, outcome("k", (point(1, metric="new_metric"),)))
    cur = await conn.execute("SELECT max(id) AS id FROM series")
    assert await cur.fetchone() == {"id": 5}


async def test_the_export_reader_finds_every_point(
    migrated: PostgresStore, conn: psycopg.AsyncConnection[DictRow]
) -> None:
    """The export seam reads every migrated point and account, and a bounded query only
    the dated ones."""
    reader = PostgresPointReader(conn)
    assert await reader.accounts() == ["111", "222"]
    read = [p async for chunk in reader.chunks(PointQuery()) for p in chunk]
    assert sorted(read, key=repr) == sorted(map(_as_point, _V2_ROWS), key=repr)
    bounded = PointQuery(end_from="2024-02-21T00:00:00Z", undated=False)
    assert [p async for chunk in reader.chunks(bounded) for p in chunk] == [_as_point(_V2_ROWS[1])]


async def test_freshness_names_each_accounts_newest_end_time(migrated: PostgresStore) -> None:
    """freshness() reports the newest end_time per account from the migrated points."""
    newest = {f.account_id: f.newest_end_time for f in await migrated.freshness()}
    assert newest == {"111": "2024-02-21T08:00:00Z", "222": "2024-02-20T08:00:00Z"}


async def test_a_write_after_the_migration_upserts_the_same_identities(
    migrated: PostgresStore, conn: psycopg.AsyncConnection[DictRow]
) -> None:
    """An equal value for a migrated point is unchanged, a new one replaces it (with a
    sequence number past the migrated ones), and neither adds a point or a series."""
    same = point(7, end_time="2024-02-20T08:00:00Z", fetched_at="F9")
    undated = Point("111", "follower_demographics", "lifetime", None, {"city": "Oslo"}, 13,
                    "v18.0", "F9")  # fmt: skip
    async with migrated.transaction() as tx:
        changes = await tx.record_outcomes([outcome("k", (same, undated))])
    assert (len(changes.changed), changes.unchanged) == (1, 1)
    [(seq, read)] = await migrated.committed_after(6, 10)
    assert (seq > 6, read) == (True, undated)
    cur = await conn.execute(
        "SELECT (SELECT count(*) FROM points) AS points, (SELECT count(*) FROM series) AS series"
    )
    assert await cur.fetchone() == {"points": 6, "series": 4}
