"""What only the SQLite store does: its file's WAL mode, integer storage and schema guard
(the behaviour both stores share is in test_store_contract.py; ``store`` is conftest's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.storage.sqlite import SchemaError, Store
from tests.storage.helpers import commit, outcome, point


async def test_integer_value_is_stored_as_a_sqlite_integer(store: Store) -> None:
    """A value of 5 is stored as the SQLite integer 5, not 5.0, and reads back as int."""
    await commit(store, outcome("k1", (point(5),)))
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT value, typeof(value) FROM insights").fetchone() == (5, "integer")
    [read] = await store.points()
    assert (type(read.value), read.value) == (int, 5)


async def test_store_uses_wal(store: Store) -> None:
    """The file is in WAL mode (commits durable across a killed process, one writer)."""
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file whose user_version is newer than the code knows raises SchemaError."""
    path = tmp_path / "future.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaError, match="schema 99"):
        await Store.open(path)


async def test_a_series_first_met_in_a_rolled_back_transaction_is_stored_by_the_next(
    tmp_path: Path,
) -> None:
    """The series id cache forgets ids whose INSERT rolled back: the point of a new series
    recorded again after a rollback is stored and read back under its series."""
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        with pytest.raises(RuntimeError, match="boom"):
            async with store.transaction() as tx:
                await tx.record_outcomes([outcome("k1", (point(7, metric="new_metric"),))])
                raise RuntimeError("boom")
        async with store.transaction() as tx:
            await tx.record_outcomes([outcome("k1", (point(7, metric="new_metric"),))])
        assert await store.points() == [point(7, metric="new_metric")]
    finally:
        await store.close()
