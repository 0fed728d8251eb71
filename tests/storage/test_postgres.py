"""What only the PostgreSQL store does: NUMERIC values, the commit sequence across
connections, opening, schema versions and the redacted location (the behaviour both stores
share, on both write methods, is in test_store_contract.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import psycopg
import pytest

from collector.clock import ManualClock
from collector.errors import OutputError
from collector.storage.postgres import PostgresStore, redact_url
from collector.storage.postgres_schema import SCHEMA_VERSION, migrate
from collector.storage.schema import SchemaError
from tests.storage.helpers import Abandon, commit, outcome, point

# -- values and the commit sequence -------------------------------------------------------


async def test_an_integer_beyond_64_bits_reads_back_exactly(pg_store: PostgresStore) -> None:
    """NUMERIC keeps an integer wider than 64 bits, and it reads back as that int."""
    await commit(pg_store, outcome("k1", (point(12345678901234567890),)))
    [read] = await pg_store.points()
    assert (type(read.value), read.value) == (int, 12345678901234567890)


async def test_commit_sequence_follows_commit_order_across_connections(
    pg_url: str, pg_schema: str, manual_clock: ManualClock
) -> None:
    """Of two transactions on two stores, the one that commits first gets the lower
    sequence numbers, whichever began first; a reader sees them in commit order."""
    early = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    late = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    try:
        first = contextlib.AsyncExitStack()
        tx = await first.enter_async_context(early.transaction())
        await tx.record_outcomes([outcome("a", (point(1, metric="began_first"),))])
        async with late.transaction() as other:
            await other.record_outcomes([outcome("b", (point(2, metric="committed_first"),))])
        assert [p.metric for _, p in await late.committed_after(0, 10)] == ["committed_first"]
        await first.aclose()
        seen = await late.committed_after(0, 10)
        assert [p.metric for _, p in seen] == ["committed_first", "began_first"]
        assert seen[0][0] < seen[1][0]
        assert await late.committed_after(seen[0][0], 10) == seen[1:]
    finally:
        await early.close()
        await late.close()


# -- series ids (schema version 3) ---------------------------------------------------------


async def test_a_series_of_a_rolled_back_transaction_is_stored_again(
    pg_store: PostgresStore,
) -> None:
    """A series first met in a transaction that rolls back is not remembered: the next
    transaction with it inserts it again, and its point is stored."""
    with pytest.raises(Abandon):
        async with pg_store.transaction() as tx:
            await tx.record_outcomes([outcome("k1", (point(1, metric="fresh"),))])
            raise Abandon
    assert await commit(pg_store, outcome("k2", (point(2, metric="fresh"),))) == (
        point(2, metric="fresh"),
    )
    assert await pg_store.points() == [point(2, metric="fresh")]


async def test_two_stores_adding_one_new_series_at_once_share_it(
    pg_url: str, pg_schema: str, manual_clock: ManualClock
) -> None:
    """While one store's transaction holds a new series uncommitted, another store adding
    the same series waits, then finds it: one series row, both points' values kept."""
    first = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    second = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    try:
        async with first.transaction() as tx:
            await tx.record_outcomes([outcome("a", (point(1, metric="shared"),))])
            other = asyncio.create_task(
                commit(second, outcome("b", (point(2, metric="shared", end_time=None),)))
            )
            await _until_waiting_on_a_lock(pg_url)
        assert await other == (point(2, metric="shared", end_time=None),)
        with psycopg.connect(pg_url, options=f"-c search_path={pg_schema}") as conn:
            assert conn.execute("SELECT count(*) FROM series").fetchone() == (1,)
        assert {p.value for p in await first.points()} == {1, 2}
    finally:
        await first.close()
        await second.close()


async def _until_waiting_on_a_lock(pg_url: str) -> None:
    """Return once a session waits on a lock to insert a series (give up after 10 s)."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        for _ in range(1_000):
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND query LIKE '%INSERT INTO series%'"
            )
            row = await cur.fetchone()
            if row is not None and row[0] > 0:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("no session waited on a lock")


# -- opening, schema and location --------------------------------------------------------


def test_location_never_shows_the_password() -> None:
    """The store's location drops the password from URLs and key=value strings alike."""
    assert redact_url("postgresql://igc:s3cret@db:5432/x?sslmode=require&password=p2") == (
        "postgresql://igc:***@db:5432/x?sslmode=require&password=%2A%2A%2A"
    )
    assert redact_url("host=db user=igc password='a b' dbname=x") == (
        "host=db user=igc password=*** dbname=x"
    )
    assert redact_url("postgresql://igc@db/x") == "postgresql://igc@db/x"


async def test_a_wrong_password_is_an_output_error_without_it(pg_url: str) -> None:
    """A refused login is one OutputError naming the redacted URL, never the password."""
    wrong = pg_url.replace("igc:igc@", "igc:Wr0ngPassw0rd@")
    with pytest.raises(OutputError, match="cannot connect to") as caught:
        await PostgresStore.open(wrong)
    assert "Wr0ngPassw0rd" not in str(caught.value)


async def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg installed, opening says which extra to install."""
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(OutputError, match=r"pip install 'ig-collector\[postgres\]'"):
        await PostgresStore.open("postgresql://igc@127.0.0.1/none")


async def test_a_newer_schema_is_refused(pg_url: str, pg_schema: str) -> None:
    """A store whose schema_version is newer than the code knows raises SchemaError."""
    store = await PostgresStore.open(pg_url, schema=pg_schema)
    await store.close()
    with psycopg.connect(pg_url, options=f"-c search_path={pg_schema}") as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(SchemaError, match="schema 99"):
        await PostgresStore.open(pg_url, schema=pg_schema)


async def test_version_1_is_upgraded_keeping_its_rows(pg_url: str, pg_schema: str) -> None:
    """A version-1 store is migrated to the current version with its points and ledger; its
    points are numbered in insertion order and new commits follow them."""
    async with await psycopg.AsyncConnection.connect(
        pg_url, autocommit=True, options=f"-c search_path={pg_schema}",
        row_factory=psycopg.rows.dict_row,
    ) as conn:  # fmt: skip
        assert await migrate(conn, "test", pg_schema, target=1) == 0
        await conn.execute(
            "INSERT INTO insights (account_id, metric, period, end_time, dimensions, value,"
            " api_version, fetched_at) VALUES ('111', 'reach', 'day', NULL, '{}', 4, 'v17.0', 'T')"
        )
        await conn.execute(
            "INSERT INTO ledger (key, account_id, app, metrics, period, state, updated_at)"
            " VALUES ('k', '111', 'app-a', 'reach', 'day', 'done', 'T')"
        )
        assert await migrate(conn, "test", pg_schema) == 1
        assert await migrate(conn, "test", pg_schema) == SCHEMA_VERSION
    store = await PostgresStore.open(pg_url, schema=pg_schema)
    try:
        assert [p.value for p in await store.points()] == [4]
        entry = await store.ledger_entry("k")
        assert entry is not None and entry.state == "done"
        assert [(seq, p.value) for seq, p in await store.committed_after(0, 9)] == [(1, 4)]
        await commit(store, outcome("k2", (point(5),)))
        assert [seq for seq, _ in await store.committed_after(1, 9)] == [2]
    finally:
        await store.close()


async def test_two_stores_migrating_at_once_both_open(pg_url: str, pg_schema: str) -> None:
    """Two processes opening a new schema together migrate it once; both stores work."""
    stores = await asyncio.gather(*(PostgresStore.open(pg_url, schema=pg_schema) for _ in "ab"))
    try:
        with psycopg.connect(pg_url, options=f"-c search_path={pg_schema}") as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchall() == [
                (SCHEMA_VERSION,)
            ]
        assert [await s.checkpoint() for s in stores] == [None, None]
    finally:
        for s in stores:
            await s.close()
