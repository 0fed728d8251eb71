"""The SQLite store: upsert semantics, ledger transitions, checkpoint, schema guards."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.clock import ManualClock
from collector.model.outcome import Checkpoint, Outcome, OutcomeState
from collector.model.records import Point
from collector.storage.sqlite import SchemaError, Store

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def _point(
    value: int | float,
    *,
    account: str = "111",
    metric: str = "reach",
    end_time: str | None = "2024-02-20T08:00:00Z",
    dimensions: dict[str, str] | None = None,
    fetched_at: str = "2024-03-01T10:00:00Z",
    api_version: str = "v17.0",
) -> Point:
    return Point(account, metric, "day", end_time, dimensions or {}, value, api_version, fetched_at)


def _outcome(
    key: str,
    points: tuple[Point, ...] = (),
    *,
    state: OutcomeState = "done",
    account: str = "111",
    attempts: int = 1,
    reason: str | None = None,
) -> Outcome:
    return Outcome(
        key, account, "app-a", ("reach",), "day", 100, 200, state, points, attempts, reason
    )


@dataclass(frozen=True)
class _Window:
    since: int
    until: int


@dataclass(frozen=True)
class _Planned:
    key: str
    account_id: str
    app: str = "app-a"
    metrics: tuple[str, ...] = ("reach", "impressions")
    period: str = "day"
    window: _Window | None = _Window(1_700_000_000, 1_702_000_000)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "out.sqlite", clock=ManualClock(NOW))
    yield opened
    await opened.close()


async def _commit(store: Store, *outcomes: Outcome) -> tuple[Point, ...]:
    async with store.transaction() as tx:
        changes = await tx.record_outcomes(list(outcomes))
    return changes.changed


class _Abandon(Exception):
    """Raised inside a transaction's block to roll it back."""


def _rows(path: Path) -> list[tuple[object, ...]]:
    """The insights table read by a separate stdlib connection (independent of Store)."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT account_id, metric, period, end_time, dimensions, value, api_version,"
            " fetched_at FROM insights ORDER BY rowid"
        ).fetchall()


async def test_null_end_time_points_with_same_identity_leave_one_row(store: Store) -> None:
    """Two points without end_time and the same identity, in two batches, are stored once."""
    await _commit(store, _outcome("k1", (_point(10, end_time=None),)))
    await _commit(store, _outcome("k2", (_point(10, end_time=None),)))
    assert len(_rows(store.path)) == 1


async def test_null_end_time_change_updates_the_one_row(store: Store) -> None:
    """A new value for a null-end_time identity replaces the old one instead of adding a row."""
    await _commit(store, _outcome("k1", (_point(10, end_time=None),)))
    await _commit(
        store, _outcome("k2", (_point(11, end_time=None, fetched_at="2024-03-02T00:00:00Z"),))
    )
    assert [(r[3], r[5], r[7]) for r in _rows(store.path)] == [(None, 11, "2024-03-02T00:00:00Z")]


async def test_null_and_real_end_time_are_distinct(store: Store) -> None:
    """A point with end_time and one without, otherwise equal, are two rows."""
    await _commit(store, _outcome("k1", (_point(1, end_time=None), _point(1))))
    assert len(_rows(store.path)) == 2


async def test_duplicate_identity_within_a_batch_keeps_the_last(store: Store) -> None:
    """Two copies of one identity in one batch store one row with the later value."""
    first, last = (
        _point(1, fetched_at="2024-03-01T10:00:00Z"),
        _point(2, fetched_at="2024-03-01T11:00:00Z"),
    )
    changed = await _commit(store, _outcome("k1", (first,)), _outcome("k2", (last,)))
    assert changed == (last,)
    assert [r[5] for r in _rows(store.path)] == [2]


async def test_dimension_order_does_not_change_identity(store: Store) -> None:
    """The same dimensions given in another key order are the same point."""
    a = _point(5, dimensions={"follow_type": "FOLLOWER", "media_product_type": "REELS"})
    b = _point(5, dimensions={"media_product_type": "REELS", "follow_type": "FOLLOWER"})
    await _commit(store, _outcome("k1", (a,)))
    assert await _commit(store, _outcome("k2", (b,))) == ()


async def test_integer_value_reads_back_as_integer(store: Store) -> None:
    """A value of 5 is stored as the SQLite integer 5, not 5.0."""
    await _commit(store, _outcome("k1", (_point(5),)))
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT value, typeof(value) FROM insights").fetchone() == (5, "integer")
    [read] = await store.points()
    assert (type(read.value), read.value) == (int, 5)


async def test_fractional_value_reads_back_as_float(store: Store) -> None:
    """A fractional value keeps its fraction."""
    await _commit(store, _outcome("k1", (_point(2.5),)))
    [read] = await store.points()
    assert read.value == 2.5


async def test_new_points_are_reported_changed(store: Store) -> None:
    """Points never stored before come back as the batch's changed points, in order."""
    points = (_point(1), _point(2, metric="impressions"))
    assert await _commit(store, _outcome("k1", points)) == points


async def test_unchanged_value_is_left_alone(store: Store) -> None:
    """Storing an equal value again changes nothing, not even fetched_at or api_version."""
    await _commit(store, _outcome("k1", (_point(7),)))
    again = _point(7, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    async with store.transaction() as tx:
        batch = await tx.record_outcomes([_outcome("k2", (again,))])
    assert (batch.changed, batch.unchanged) == ((), 1)
    assert _rows(store.path) == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", 7, "v17.0", "2024-03-01T10:00:00Z")
    ]


async def test_changed_value_updates_value_version_and_fetched_at(store: Store) -> None:
    """A different value replaces value, api_version and fetched_at of the stored row."""
    await _commit(store, _outcome("k1", (_point(7),)))
    newer = _point(9, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    assert await _commit(store, _outcome("k2", (newer,))) == (newer,)
    assert _rows(store.path) == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", 9, "v18.0", "2024-03-05T00:00:00Z")
    ]


async def test_rollback_stores_nothing(store: Store) -> None:
    """A rolled-back batch leaves neither points nor ledger rows behind."""
    with pytest.raises(_Abandon):
        async with store.transaction() as tx:
            await tx.record_outcomes([_outcome("k1", (_point(1),))])
            raise _Abandon
    assert (await store.points(), await store.ledger_entry("k1")) == ([], None)


async def test_batch_holds_out_other_writers_until_commit(store: Store) -> None:
    """register_pending waits while a batch transaction is open and runs after its commit."""
    batch = contextlib.AsyncExitStack()
    tx = await batch.enter_async_context(store.transaction())
    await tx.record_outcomes([_outcome("k1", (_point(1),))])
    pending = asyncio.create_task(store.register_pending([_Planned("p1", "111")]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not pending.done()
    await batch.aclose()  # the block ends: COMMIT
    assert await pending == 1


async def test_register_pending_inserts_pending_rows(store: Store) -> None:
    """Registered requests get a pending row with their window edges and metrics."""
    assert await store.register_pending([_Planned("p1", "111"), _Planned("p2", "222")]) == 2
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.since, entry.until, entry.metrics, entry.attempts) == (
        "pending", 1_700_000_000, 1_702_000_000, ("reach", "impressions"), 0,
    )  # fmt: skip


async def test_register_pending_without_window_stores_null_edges(store: Store) -> None:
    """A request sent without since/until is registered with NULL edges."""
    await store.register_pending([_Planned("aud", "111", period="lifetime", window=None)])
    entry = await store.ledger_entry("aud")
    assert entry is not None and (entry.since, entry.until) == (None, None)


async def test_register_pending_ignores_known_keys(store: Store) -> None:
    """Registering a key already in the ledger keeps its state and counts nothing."""
    await _commit(store, _outcome("p1", (_point(1),)))
    assert await store.register_pending([_Planned("p1", "111")]) == 0
    entry = await store.ledger_entry("p1")
    assert entry is not None and entry.state == "done"


async def test_register_pending_consumes_a_generator_lazily(store: Store) -> None:
    """A generator of more requests than one chunk is registered completely."""
    planned = (_Planned(f"k{i}", "111") for i in range(12_345))
    assert await store.register_pending(planned) == 12_345


async def test_done_outcome_moves_pending_to_done(store: Store) -> None:
    """A done outcome sets state done, its point count and the attempts."""
    await store.register_pending([_Planned("p1", "111")])
    await _commit(store, _outcome("p1", (_point(1), _point(2, metric="impressions")), attempts=2))
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.points, entry.attempts, entry.reason) == ("done", 2, 2, None)


async def test_failed_outcome_records_reason(store: Store) -> None:
    """A failed outcome sets state failed with its reason."""
    await store.register_pending([_Planned("p1", "111")])
    await _commit(store, _outcome("p1", state="failed", attempts=3, reason="code 100"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.reason, entry.attempts) == (
        "failed",
        "code 100",
        3,
    )


async def test_failed_then_done_adds_attempts(store: Store) -> None:
    """A failed request that later succeeds is done, with the attempts of both runs."""
    await _commit(store, _outcome("p1", state="failed", attempts=3, reason="code 2"))
    await _commit(store, _outcome("p1", (_point(1),), attempts=1))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.attempts, entry.reason) == ("done", 4, None)


async def test_failure_never_demotes_a_finished_request(store: Store) -> None:
    """A failed outcome for a key already done leaves it done with its point count."""
    await _commit(store, _outcome("p1", (_point(1),)))
    await _commit(store, _outcome("p1", state="failed", reason="code 1"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.points, entry.reason) == ("done", 1, None)


async def test_ledger_updated_at_comes_from_the_clock(tmp_path: Path) -> None:
    """The ledger's updated_at is the injected clock's time."""
    store = await Store.open(tmp_path / "c.sqlite", clock=ManualClock(NOW))
    try:
        await _commit(store, _outcome("p1", state="no_data"))
        entry = await store.ledger_entry("p1")
        assert entry is not None and entry.updated_at == "2024-03-01T12:00:00Z"
    finally:
        await store.close()


async def test_finished_keys_are_done_and_no_data_of_that_account(store: Store) -> None:
    """finished_keys lists done and no_data keys of the account, not failed, pending or others'."""
    await store.register_pending([_Planned(k, "111") for k in ("a", "b", "c", "d")])
    await _commit(
        store,
        _outcome("a", (_point(1),)),
        _outcome("b", state="no_data"),
        _outcome("c", state="failed", reason="code 2"),
        _outcome("e", (_point(1, account="222"),), account="222"),
    )
    assert await store.finished_keys("111") == {"a", "b"}


async def test_ledger_summary_counts_states_and_reasons(store: Store) -> None:
    """The summary gives per-account counts of every state and failures grouped by reason."""
    await store.register_pending([_Planned(k, "111") for k in ("a", "b", "c", "d", "e")])
    await store.register_pending([_Planned("z", "222")])
    await _commit(
        store,
        _outcome("a", (_point(1),)),
        _outcome("b", state="no_data"),
        _outcome("c", state="failed", reason="code 100"),
        _outcome("d", state="failed", reason="code 100"),
    )
    summary = await store.ledger_summary()
    first, second = summary.accounts
    assert (first.account_id, dict(first.counts), dict(first.failures)) == (
        "111", {"pending": 1, "done": 1, "no_data": 1, "failed": 2}, {"code 100": 2},
    )  # fmt: skip
    assert (second.account_id, dict(second.counts)) == (
        "222", {"pending": 1, "done": 0, "no_data": 0, "failed": 0},
    )  # fmt: skip
    assert summary.totals() == {"pending": 2, "done": 1, "no_data": 1, "failed": 2}


async def test_checkpoint_is_none_on_a_new_file(store: Store) -> None:
    """A fresh store has no checkpoint."""
    assert await store.checkpoint() is None


async def test_checkpoint_commits_with_the_batch(store: Store) -> None:
    """The checkpoint given to a batch's commit is stored with it."""
    async with store.transaction() as tx:
        await tx.record_outcomes([_outcome("k1", (_point(1),))])
        await tx.set_checkpoint(Checkpoint("/tmp/x.ndjson", 123))
    assert await store.checkpoint() == Checkpoint("/tmp/x.ndjson", 123)


async def test_set_checkpoint_replaces_the_single_row(store: Store) -> None:
    """A later checkpoint replaces the earlier one: there is only ever one row."""
    await store.set_checkpoint(Checkpoint("/tmp/x.ndjson", 10))
    await store.set_checkpoint(Checkpoint(None, 0))
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT ndjson_path, committed_offset FROM checkpoint").fetchall()
    assert rows == [(None, 0)]


async def test_data_survives_reopening(tmp_path: Path) -> None:
    """Committed points, ledger and checkpoint are there after close and reopen."""
    path = tmp_path / "re.sqlite"
    store = await Store.open(path)
    async with store.transaction() as tx:
        await tx.record_outcomes([_outcome("k1", (_point(3),))])
        await tx.set_checkpoint(Checkpoint(None, 0))
    await store.close()
    store = await Store.open(path)
    try:
        assert [p.value for p in await store.points()] == [3]
        assert await store.finished_keys("111") == {"k1"}
        assert await store.checkpoint() == Checkpoint(None, 0)
    finally:
        await store.close()


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


async def test_points_filters_by_account(store: Store) -> None:
    """points(account_id) returns only that account's points."""
    await _commit(store, _outcome("k1", (_point(1), _point(2, account="222"))))
    assert [p.value for p in await store.points("222")] == [2]


async def test_a_batch_of_many_points_is_stored_once_each_in_order(store: Store) -> None:
    """A batch of more points than one stage statement holds (1,300, some repeated)
    stores each identity once with its last value and reports the changed ones in the
    order their last copies arrived; sent again, none is changed."""
    ends = [f"2024-01-01T{h:02d}:00:00Z" for h in range(24)]
    points = [_point(i, account=str(100 + i // 24), end_time=ends[i % 24]) for i in range(1_300)]
    repeats = [_point(-i, account=str(100 + i // 24), end_time=ends[i % 24]) for i in (3, 700)]
    batch = (_outcome("k1", tuple(points[:650])), _outcome("k2", (*points[650:], *repeats)))
    changed = await _commit(store, *batch)
    expected = [p for i, p in enumerate(points) if i not in (3, 700)] + repeats
    assert list(changed) == expected
    stored = {(r[0], r[3]): r[5] for r in _rows(store.path)}
    assert stored == {(p.account_id, p.end_time): p.value for p in expected}
    assert await _commit(store, *batch) == ()
