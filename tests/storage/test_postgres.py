"""The PostgreSQL store: upsert semantics, ledger, checkpoint, transactions (see also
test_postgres_open.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg
import pytest

from collector.clock import ManualClock
from collector.model.outcome import Checkpoint
from collector.storage.postgres import PostgresStore
from collector.storage.postgres_write import WRITE_METHODS
from collector.storage.protocol import InsightStore, StoreTransaction
from collector.storage.queue import WorkQueue
from tests.storage.helpers import Abandon, Planned, commit, outcome, point


@pytest.fixture(params=WRITE_METHODS)
async def store(
    request: pytest.FixtureRequest, pg_url: str, pg_schema: str, manual_clock: ManualClock
) -> AsyncIterator[PostgresStore]:
    """A store in the test's schema, once per write method (copy, values)."""
    opened = await PostgresStore.open(
        pg_url, clock=manual_clock, schema=pg_schema, write_method=request.param
    )
    yield opened
    await opened.close()


def _rows(url: str, schema: str) -> list[tuple[object, ...]]:
    """The insights table read by a connection of its own (independent of the store)."""
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        return conn.execute(
            "SELECT account_id, metric, period, end_time, dimensions, value::text, api_version,"
            " fetched_at FROM insights ORDER BY id"
        ).fetchall()


async def test_null_end_time_points_with_same_identity_leave_one_row(
    store: PostgresStore, pg_url: str, pg_schema: str
) -> None:
    """Two points without end_time and the same identity, in two batches, are stored once."""
    await commit(store, outcome("k1", (point(10, end_time=None),)))
    await commit(store, outcome("k2", (point(10, end_time=None),)))
    assert len(_rows(pg_url, pg_schema)) == 1


async def test_null_end_time_change_updates_the_one_row(store: PostgresStore) -> None:
    """A new value for a null-end_time identity replaces the old one instead of adding a row."""
    await commit(store, outcome("k1", (point(10, end_time=None),)))
    newer = point(11, end_time=None, fetched_at="2024-03-02T00:00:00Z")
    assert await commit(store, outcome("k2", (newer,))) == (newer,)
    assert await store.points() == [newer]


async def test_null_and_real_end_time_are_distinct(store: PostgresStore) -> None:
    """A point with end_time and one without, otherwise equal, are two rows."""
    await commit(store, outcome("k1", (point(1, end_time=None), point(1))))
    assert len(await store.points()) == 2


async def test_duplicate_identity_within_a_batch_keeps_the_last(store: PostgresStore) -> None:
    """Two copies of one identity in one batch store one row with the later value."""
    first, last = point(1), point(2, fetched_at="2024-03-01T11:00:00Z")
    changed = await commit(store, outcome("k1", (first,)), outcome("k2", (last,)))
    assert (changed, await store.points()) == ((last,), [last])


async def test_dimension_order_does_not_change_identity(store: PostgresStore) -> None:
    """The same dimensions given in another key order are the same point."""
    a = point(5, dimensions={"follow_type": "FOLLOWER", "media_product_type": "REELS"})
    b = point(5, dimensions={"media_product_type": "REELS", "follow_type": "FOLLOWER"})
    await commit(store, outcome("k1", (a,)))
    assert await commit(store, outcome("k2", (b,))) == ()


async def test_values_read_back_with_their_type_and_precision(store: PostgresStore) -> None:
    """Integers read back as int, fractions as the same float (all 17 digits kept)."""
    values = (5, 2.5, 0.1 + 0.2, 12345678901234567890, -3)
    points = tuple(point(v, metric=f"m{i}") for i, v in enumerate(values))
    await commit(store, outcome("k1", points))
    read = [p.value for p in await store.points()]
    assert read == list(values)
    assert [type(v) for v in read] == [int, float, float, int, int]


async def test_integral_float_reads_back_as_int(store: PostgresStore) -> None:
    """A value of 5.0 reads back as the int 5, as SQLite's NUMERIC affinity stores it."""
    await commit(store, outcome("k1", (point(5.0),)))
    [read] = await store.points()
    assert (type(read.value), read.value) == (int, 5)


async def test_equal_value_of_another_type_is_unchanged(store: PostgresStore) -> None:
    """5 and 5.0 are the same value: the second is not a change."""
    await commit(store, outcome("k1", (point(5),)))
    async with store.transaction() as tx:
        changes = await tx.record_outcomes([outcome("k2", (point(5.0),))])
    assert (changes.changed, changes.unchanged) == ((), 1)


async def test_new_points_are_reported_changed_in_order(store: PostgresStore) -> None:
    """Points never stored before come back as the batch's changed points, in order."""
    points = (point(2, metric="zeta"), point(1, metric="alpha"))
    assert await commit(store, outcome("k1", points)) == points


async def test_unchanged_value_is_left_alone(
    store: PostgresStore, pg_url: str, pg_schema: str
) -> None:
    """Storing an equal value again changes nothing, not even fetched_at or api_version."""
    await commit(store, outcome("k1", (point(7),)))
    again = point(7, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    async with store.transaction() as tx:
        batch = await tx.record_outcomes([outcome("k2", (again,))])
    assert (batch.changed, batch.unchanged) == ((), 1)
    assert _rows(pg_url, pg_schema) == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", "7", "v17.0", "2024-03-01T10:00:00Z")
    ]


async def test_changed_value_updates_value_version_and_fetched_at(
    store: PostgresStore, pg_url: str, pg_schema: str
) -> None:
    """A different value replaces value, api_version and fetched_at of the stored row."""
    await commit(store, outcome("k1", (point(7),)))
    newer = point(9, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    assert await commit(store, outcome("k2", (newer,))) == (newer,)
    assert _rows(pg_url, pg_schema) == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", "9", "v18.0", "2024-03-05T00:00:00Z")
    ]


async def test_a_nan_value_is_refused(store: PostgresStore) -> None:
    """A NaN cannot be stored: the backend raises and the transaction rolls back."""
    with pytest.raises(psycopg.errors.CheckViolation):
        await commit(store, outcome("k1", (point(float("nan")),)))
    assert (await store.points(), await store.ledger_entry("k1")) == ([], None)


async def test_a_batch_of_many_points_is_stored_once_each_in_order(store: PostgresStore) -> None:
    """A batch of more points than one statement holds (2,300, some repeated) stores each
    identity once with its last value, reports the changed ones in the order their last
    copies arrived, and none again when sent twice."""
    ends = [f"2024-01-01T{h:02d}:00:00Z" for h in range(24)]
    points = [point(i, account=str(100 + i // 24), end_time=ends[i % 24]) for i in range(2_300)]
    repeats = [point(-i, account=str(100 + i // 24), end_time=ends[i % 24]) for i in (3, 1_700)]
    batch = (outcome("k1", tuple(points[:1_150])), outcome("k2", (*points[1_150:], *repeats)))
    changed = await commit(store, *batch)
    expected = [p for i, p in enumerate(points) if i not in (3, 1_700)] + repeats
    assert list(changed) == expected
    stored = {(p.account_id, p.end_time): p.value for p in await store.points()}
    assert stored == {(p.account_id, p.end_time): p.value for p in expected}
    assert await commit(store, *batch) == ()


async def test_two_calls_in_one_transaction_compare_with_the_first(store: PostgresStore) -> None:
    """A second record_outcomes in the same transaction sees the first one's points."""
    async with store.transaction() as tx:
        first = await tx.record_outcomes([outcome("k1", (point(1),))])
        second = await tx.record_outcomes([outcome("k2", (point(1), point(2, metric="m")))])
    assert (len(first.changed), second.changed, second.unchanged) == (
        1, (point(2, metric="m"),), 1,
    )  # fmt: skip


async def test_rollback_stores_nothing(store: PostgresStore) -> None:
    """A rolled-back batch leaves neither points, ledger rows nor checkpoint behind."""
    with pytest.raises(Abandon):
        async with store.transaction() as tx:
            await tx.record_outcomes([outcome("k1", (point(1),))])
            await tx.set_checkpoint(Checkpoint("/tmp/x.ndjson", 9))
            raise Abandon
    assert (await store.points(), await store.ledger_entry("k1")) == ([], None)
    assert await store.checkpoint() is None


async def test_a_cancelled_transaction_rolls_back_and_frees_the_lock(store: PostgresStore) -> None:
    """Cancelling a task inside its transaction rolls it back; the store takes writes again."""
    entered = asyncio.Event()

    async def stalled() -> None:
        async with store.transaction() as tx:
            await tx.record_outcomes([outcome("k1", (point(1),))])
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stalled())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(store.set_checkpoint(Checkpoint(None, 0)), 10)
    assert (await store.points(), await store.checkpoint()) == ([], Checkpoint(None, 0))


async def test_a_transaction_cannot_be_used_after_its_block(store: PostgresStore) -> None:
    """Calls on a transaction whose block has ended raise instead of writing outside it."""
    async with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await tx.record_outcomes([outcome("late", (point(1),))])
    with pytest.raises(RuntimeError, match="ended"):
        await tx.set_checkpoint(Checkpoint(None, 0))
    assert await store.ledger_entry("late") is None


async def test_batch_holds_out_other_writers_untilcommit(store: PostgresStore) -> None:
    """register_pending waits while a batch transaction is open and runs after its commit."""
    batch = contextlib.AsyncExitStack()
    tx = await batch.enter_async_context(store.transaction())
    await tx.record_outcomes([outcome("k1", (point(1),))])
    pending = asyncio.create_task(store.register_pending([Planned("p1", "111")]))
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert not pending.done()
    await batch.aclose()
    assert await pending == 1


async def test_register_pending_inserts_pending_rows(store: PostgresStore) -> None:
    """Registered requests get a pending row with their window edges and metrics."""
    assert await store.register_pending([Planned("p1", "111"), Planned("p2", "222")]) == 2
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.since, entry.until, entry.metrics, entry.attempts) == (
        "pending", 1_700_000_000, 1_702_000_000, ("reach", "impressions"), 0,
    )  # fmt: skip


async def test_register_pending_without_window_stores_null_edges(store: PostgresStore) -> None:
    """A request sent without since/until is registered with NULL edges."""
    await store.register_pending([Planned("aud", "111", period="lifetime", window=None)])
    entry = await store.ledger_entry("aud")
    assert entry is not None and (entry.since, entry.until) == (None, None)


async def test_register_pending_ignores_known_keys(store: PostgresStore) -> None:
    """Registering a key already in the ledger keeps its state and counts nothing."""
    await commit(store, outcome("p1", (point(1),)))
    assert await store.register_pending([Planned("p1", "111")]) == 0
    entry = await store.ledger_entry("p1")
    assert entry is not None and entry.state == "done"


async def test_register_pending_consumes_a_generator_lazily(store: PostgresStore) -> None:
    """A generator of more requests than one chunk is registered completely."""
    planned = (Planned(f"k{i}", "111") for i in range(12_345))
    assert await store.register_pending(planned) == 12_345


async def test_done_outcome_moves_pending_to_done(store: PostgresStore) -> None:
    """A done outcome sets state done, its point count and the attempts."""
    await store.register_pending([Planned("p1", "111")])
    await commit(store, outcome("p1", (point(1), point(2, metric="impressions")), attempts=2))
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.points, entry.attempts, entry.reason) == ("done", 2, 2, None)


async def test_failed_then_done_adds_attempts(store: PostgresStore) -> None:
    """A failed request that later succeeds is done, with the attempts of both."""
    await commit(store, outcome("p1", state="failed", attempts=3, reason="code 2"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.reason) == ("failed", "code 2")
    await commit(store, outcome("p1", (point(1),), attempts=1))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.attempts, entry.reason) == ("done", 4, None)


async def test_failure_never_demotes_a_finished_request(store: PostgresStore) -> None:
    """A failed outcome for a key already done leaves it done with its point count."""
    await commit(store, outcome("p1", (point(1),)))
    await commit(store, outcome("p1", state="failed", reason="code 1"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.points, entry.reason) == ("done", 1, None)


async def test_one_key_twice_in_a_batch_counts_both(store: PostgresStore) -> None:
    """Two outcomes of one key in one batch add their attempts; a later failure does not demote."""
    await commit(
        store, outcome("p1", (point(1),), attempts=2), outcome("p1", state="failed", attempts=1)
    )
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.attempts) == ("done", 3)


async def test_ledger_updated_at_comes_from_the_clock(store: PostgresStore) -> None:
    """The ledger's updated_at is the injected clock's time."""
    await commit(store, outcome("p1", state="no_data"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and entry.updated_at == "2024-03-01T12:00:00Z"


async def test_finished_keys_and_summary(store: PostgresStore) -> None:
    """finished_keys lists done and no_data keys of one account; the summary counts states
    and failures by reason per account."""
    await store.register_pending([Planned(k, "111") for k in ("a", "b", "c", "d", "e")])
    await store.register_pending([Planned("z", "222")])
    await commit(
        store,
        outcome("a", (point(1),)),
        outcome("b", state="no_data"),
        outcome("c", state="failed", reason="code 100"),
        outcome("d", state="failed", reason="code 100"),
    )
    assert await store.finished_keys("111") == {"a", "b"}
    first, second = (await store.ledger_summary()).accounts
    assert (first.account_id, dict(first.counts), dict(first.failures)) == (
        "111", {"pending": 1, "done": 1, "no_data": 1, "failed": 2}, {"code 100": 2},
    )  # fmt: skip
    assert (second.account_id, dict(second.counts)) == (
        "222", {"pending": 1, "done": 0, "no_data": 0, "failed": 0},
    )  # fmt: skip


async def test_checkpoint_moves_only_with_its_data(store: PostgresStore) -> None:
    """The checkpoint commits with its batch, a later one replaces it, a rolled-back one
    leaves it where it was; every file committed to is listed."""
    assert await store.checkpoint() is None
    async with store.transaction() as tx:
        await tx.record_outcomes([outcome("k1", (point(1),))])
        await tx.set_checkpoint(Checkpoint("/tmp/x.ndjson", 123))
    with pytest.raises(Abandon):
        async with store.transaction() as tx:
            await tx.set_checkpoint(Checkpoint("/tmp/x.ndjson", 999))
            raise Abandon
    assert await store.checkpoint() == Checkpoint("/tmp/x.ndjson", 123)
    await store.set_checkpoint(Checkpoint(None, 0))
    assert await store.checkpoint() == Checkpoint(None, 0)
    assert [(f.path, f.committed_offset) for f in await store.ndjson_files()] == [
        ("/tmp/x.ndjson", 123)
    ]


async def test_freshness_from_ledger_and_data(store: PostgresStore) -> None:
    """Freshness names the newest finished refresh, the lifetime request and end_time."""
    await store.register_pending([Planned("x", "222")])
    await commit(
        store,
        outcome("111|refresh", (point(1, end_time="2024-02-21T08:00:00Z"),)),
        outcome("111|aud", state="no_data"),
    )
    [first, second] = await store.freshness()
    assert first.account_id == "111" and first.last_refresh == "2024-03-01T12:00:00Z"
    assert first.newest_end_time == "2024-02-21T08:00:00Z"
    assert (second.account_id, second.pending, second.newest_end_time) == ("222", 1, None)


async def test_points_filters_by_account(store: PostgresStore) -> None:
    """points(account_id) returns only that account's points."""
    await commit(store, outcome("k1", (point(1), point(2, account="222"))))
    assert [p.value for p in await store.points("222")] == [2]


async def test_data_survives_reopening(store: PostgresStore, pg_url: str, pg_schema: str) -> None:
    """Committed points, ledger and checkpoint are there for a store opened afterwards."""
    async with store.transaction() as tx:
        await tx.record_outcomes([outcome("k1", (point(3),))])
        await tx.set_checkpoint(Checkpoint(None, 0))
    await store.close()
    again = await PostgresStore.open(pg_url, schema=pg_schema)
    try:
        assert [p.value for p in await again.points()] == [3]
        assert await again.finished_keys("111") == {"k1"}
        assert await again.checkpoint() == Checkpoint(None, 0)
    finally:
        await again.close()


async def test_the_store_serves_both_protocols(pg_store: PostgresStore) -> None:
    """A caller that knows only InsightStore, StoreTransaction and WorkQueue can use it."""
    seam: InsightStore = pg_store
    queue: WorkQueue = pg_store
    async with seam.transaction() as tx:
        held: StoreTransaction = tx
        changes = await held.record_outcomes([outcome("k1", (point(5),)), outcome("k2")])
    assert (len(changes.changed), await queue.jobs()) == (1, [])
