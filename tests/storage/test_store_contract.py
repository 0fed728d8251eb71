"""The InsightStore and StoreTransaction contract (collector/storage/protocol.py), the same
tests on SQLite and on PostgreSQL with each of its write methods (COPY and VALUES).

What only one backend does (SQLite's file, WAL and typeof; PostgreSQL's NUMERIC,
URLs and migration lock) is in test_sqlite.py and test_postgres.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import pytest

from collector.clock import ManualClock
from collector.model.outcome import Checkpoint
from collector.model.rows import row_of
from collector.storage.protocol import InsightStore, StoreTransaction
from collector.storage.queue import RUN_PRIORITY, JobSpec, WorkQueue
from tests.storage.backends import Backend
from tests.storage.helpers import Abandon, commit, outcome, point, queued

RUN = JobSpec("run", RUN_PRIORITY)


# Each test on a SQLite file, and on PostgreSQL once per write method (conftest's backend).
pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", "postgres", "postgres-values"], indirect=True
)


@pytest.fixture
async def store(backend: Backend) -> Any:
    """One store instance of the backend under test."""
    return await backend.open()


# -- upsert semantics ----------------------------------------------------------------------


async def test_null_end_time_points_with_same_identity_leave_one_row(
    store: Any, backend: Backend
) -> None:
    """Two points without end_time and the same identity, in two batches, are stored once."""
    await commit(store, outcome("k1", (point(10, end_time=None),)))
    await commit(store, outcome("k2", (point(10, end_time=None),)))
    assert len(backend.rows()) == 1


async def test_null_end_time_change_updates_the_one_row(store: Any, backend: Backend) -> None:
    """A new value for a null-end_time identity replaces the old one instead of adding a row."""
    await commit(store, outcome("k1", (point(10, end_time=None),)))
    newer = point(11, end_time=None, fetched_at="2024-03-02T00:00:00Z")
    assert await commit(store, outcome("k2", (newer,))) == (newer,)
    assert [(r[3], r[5], r[7]) for r in backend.rows()] == [(None, "11", "2024-03-02T00:00:00Z")]
    assert await store.points() == [newer]


async def test_null_and_real_end_time_are_distinct(store: Any, backend: Backend) -> None:
    """A point with end_time and one without, otherwise equal, are two rows."""
    await commit(store, outcome("k1", (point(1, end_time=None), point(1))))
    assert (len(backend.rows()), len(await store.points())) == (2, 2)


async def test_duplicate_identity_within_a_batch_keeps_the_last(
    store: Any, backend: Backend
) -> None:
    """Two copies of one identity in one batch store one row with the later value."""
    first, last = point(1), point(2, fetched_at="2024-03-01T11:00:00Z")
    changed = await commit(store, outcome("k1", (first,)), outcome("k2", (last,)))
    assert (changed, await store.points()) == ((last,), [last])
    assert [r[5] for r in backend.rows()] == ["2"]


async def test_dimension_order_does_not_change_identity(store: Any) -> None:
    """The same dimensions given in another key order are the same point."""
    a = point(5, dimensions={"follow_type": "FOLLOWER", "media_product_type": "REELS"})
    b = point(5, dimensions={"media_product_type": "REELS", "follow_type": "FOLLOWER"})
    await commit(store, outcome("k1", (a,)))
    assert await commit(store, outcome("k2", (b,))) == ()


async def test_values_read_back_with_their_type_and_precision(store: Any) -> None:
    """Integers read back as int, fractions as the same float (all 17 digits kept)."""
    values = (5, 2.5, 0.1 + 0.2, 2**62 + 1, -3)
    points = tuple(point(v, metric=f"m{i}") for i, v in enumerate(values))
    await commit(store, outcome("k1", points))
    read = [p.value for p in await store.points()]
    assert read == list(values)
    assert [type(v) for v in read] == [int, float, float, int, int]


async def test_integral_float_reads_back_as_int(store: Any) -> None:
    """A value of 5.0 reads back as the int 5 (SQLite's NUMERIC affinity, PostgreSQL's NUMERIC)."""
    await commit(store, outcome("k1", (point(5.0),)))
    [read] = await store.points()
    assert (type(read.value), read.value) == (int, 5)


async def test_equal_value_of_another_type_is_unchanged(store: Any) -> None:
    """5 and 5.0 are the same value: the second is not a change."""
    await commit(store, outcome("k1", (point(5),)))
    async with store.transaction() as tx:
        changes = await tx.record_outcomes([outcome("k2", (point(5.0),))])
    assert (changes.changed, changes.unchanged) == ((), 1)


async def test_new_points_are_reported_changed_in_order(store: Any) -> None:
    """Points never stored before come back as the batch's changed points, in order."""
    points = (point(2, metric="zeta"), point(1, metric="alpha"))
    assert await commit(store, outcome("k1", points)) == points


async def test_unchanged_value_is_left_alone(store: Any, backend: Backend) -> None:
    """Storing an equal value again changes nothing, not even fetched_at or api_version."""
    await commit(store, outcome("k1", (point(7),)))
    again = point(7, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    async with store.transaction() as tx:
        batch = await tx.record_outcomes([outcome("k2", (again,))])
    assert (batch.changed, batch.unchanged) == ((), 1)
    assert backend.rows() == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", "7", "v17.0", "2024-03-01T10:00:00Z")
    ]


async def test_changed_value_updates_value_version_and_fetched_at(
    store: Any, backend: Backend
) -> None:
    """A different value replaces value, api_version and fetched_at of the stored row."""
    await commit(store, outcome("k1", (point(7),)))
    newer = point(9, fetched_at="2024-03-05T00:00:00Z", api_version="v18.0")
    assert await commit(store, outcome("k2", (newer,))) == (newer,)
    assert backend.rows() == [
        ("111", "reach", "day", "2024-02-20T08:00:00Z", "{}", "9", "v18.0", "2024-03-05T00:00:00Z")
    ]


async def test_a_nan_value_is_refused(store: Any, backend: Backend) -> None:
    """A NaN cannot be stored: the backend raises and the transaction rolls back."""
    with pytest.raises(backend.refused()):
        await commit(store, outcome("k1", (point(float("nan")),)))
    assert (await store.points(), await store.ledger_entry("k1")) == ([], None)


async def test_a_batch_of_many_points_is_stored_once_each_in_order(
    store: Any, backend: Backend
) -> None:
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
    stored = {(r[0], r[3]): r[5] for r in backend.rows()}
    assert stored == {(p.account_id, p.end_time): str(p.value) for p in expected}
    assert await commit(store, *batch) == ()


async def test_two_calls_in_one_transaction_compare_with_the_first(store: Any) -> None:
    """A second record_outcomes in the same transaction sees the first one's points."""
    async with store.transaction() as tx:
        first = await tx.record_outcomes([outcome("k1", (point(1),))])
        second = await tx.record_outcomes([outcome("k2", (point(1), point(2, metric="m")))])
    assert (len(first.changed), second.changed, second.unchanged) == (
        1, (row_of(point(2, metric="m")),), 1,
    )  # fmt: skip


async def test_points_filters_by_account(store: Any) -> None:
    """points(account_id) returns only that account's points."""
    await commit(store, outcome("k1", (point(1), point(2, account="222"))))
    assert [p.value for p in await store.points("222")] == [2]


# -- the ledger ----------------------------------------------------------------------------


async def test_done_outcome_moves_pending_to_done(store: Any) -> None:
    """A done outcome moves an enqueued (pending) row to done with its point count and attempts."""
    await store.enqueue(RUN, [queued("p1")])
    await commit(store, outcome("p1", (point(1), point(2, metric="impressions")), attempts=2))
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.points, entry.attempts, entry.reason) == ("done", 2, 2, None)


async def test_failed_outcome_records_reason(store: Any) -> None:
    """A failed outcome moves an enqueued row to failed with its reason and attempts."""
    await store.enqueue(RUN, [queued("p1")])
    await commit(store, outcome("p1", state="failed", attempts=3, reason="code 100"))
    entry = await store.ledger_entry("p1")
    assert entry is not None
    assert (entry.state, entry.reason, entry.attempts) == ("failed", "code 100", 3)


async def test_failed_then_done_adds_attempts(store: Any) -> None:
    """A failed request that later succeeds is done, with the attempts of both."""
    await commit(store, outcome("p1", state="failed", attempts=3, reason="code 2"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.reason) == ("failed", "code 2")
    await commit(store, outcome("p1", (point(1),), attempts=1))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.attempts, entry.reason) == ("done", 4, None)


async def test_failure_never_demotes_a_finished_request(store: Any) -> None:
    """A failed outcome for a key already done leaves it done with its point count."""
    await commit(store, outcome("p1", (point(1),)))
    await commit(store, outcome("p1", state="failed", reason="code 1"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.points, entry.reason) == ("done", 1, None)


async def test_one_key_twice_in_a_batch_counts_both(store: Any) -> None:
    """Two outcomes of one key in one batch add their attempts; a later failure does not demote."""
    await commit(
        store, outcome("p1", (point(1),), attempts=2), outcome("p1", state="failed", attempts=1)
    )
    entry = await store.ledger_entry("p1")
    assert entry is not None and (entry.state, entry.attempts) == ("done", 3)


async def test_ledger_row_keeps_the_requests_metrics_and_edges(store: Any) -> None:
    """A recorded outcome's ledger row has its app, metrics, period and window edges, and
    NULL edges for a request without a date range."""
    ranged = dataclasses.replace(outcome("day", app="app-b"), metrics=("reach", "views"))
    lifetime = dataclasses.replace(outcome("aud"), period="lifetime", since=None, until=None)
    await commit(store, ranged, lifetime)
    day, aud = await store.ledger_entry("day"), await store.ledger_entry("aud")
    assert (day.app, day.metrics, day.period, day.since, day.until) == (
        "app-b", ("reach", "views"), "day", 100, 200,
    )  # fmt: skip
    assert (aud.period, aud.since, aud.until) == ("lifetime", None, None)


async def test_ledger_updated_at_comes_from_the_clock(store: Any) -> None:
    """The ledger's updated_at is the injected clock's time."""
    await commit(store, outcome("p1", state="no_data"))
    entry = await store.ledger_entry("p1")
    assert entry is not None and entry.updated_at == "2024-03-01T12:00:00Z"


async def test_ledger_summary_counts_states_and_reasons(store: Any) -> None:
    """The summary gives per-account counts of every state and failures grouped by reason."""
    await store.enqueue(RUN, [queued(k) for k in ("a", "b", "c", "d", "e")])
    await store.enqueue(RUN, [queued("z", account="222")])
    await commit(
        store,
        outcome("a", (point(1),)),
        outcome("b", state="no_data"),
        outcome("c", state="failed", reason="code 100"),
        outcome("d", state="failed", reason="code 100"),
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


async def test_freshness_from_ledger_and_data(store: Any) -> None:
    """Freshness names the newest finished refresh, the lifetime request and end_time."""
    await store.enqueue(RUN, [queued("x", account="222")])
    await commit(
        store,
        outcome("111|refresh", (point(1, end_time="2024-02-21T08:00:00Z"),)),
        outcome("111|aud", state="no_data"),
    )
    [first, second] = await store.freshness()
    assert first.account_id == "111" and first.last_refresh == "2024-03-01T12:00:00Z"
    assert first.newest_end_time == "2024-02-21T08:00:00Z"
    assert (second.account_id, second.pending, second.newest_end_time) == ("222", 1, None)


# -- transactions --------------------------------------------------------------------------


async def _spin() -> None:
    """Let every ready task (and the drivers' threads) run a little."""
    for _ in range(20):
        await asyncio.sleep(0.001)


async def test_rollback_stores_nothing(store: Any) -> None:
    """A rolled-back batch leaves neither points, ledger rows nor checkpoint behind."""
    with pytest.raises(Abandon):
        async with store.transaction() as tx:
            await tx.record_outcomes([outcome("k1", (point(1),))])
            await tx.set_checkpoint(Checkpoint("/tmp/x.ndjson", 9))
            raise Abandon
    assert (await store.points(), await store.ledger_entry("k1")) == ([], None)
    assert await store.checkpoint() is None


async def test_a_failing_transaction_rolls_back_and_the_next_one_runs(store: Any) -> None:
    """A block that raises leaves nothing behind, and a transaction waiting for it then runs."""
    entered = asyncio.Event()
    release = asyncio.Event()
    good = outcome("good", (point(2),))

    async def failing() -> None:
        async with store.transaction() as tx:
            await tx.record_outcomes([outcome("bad", (point(1),))])
            await tx.set_checkpoint(Checkpoint("/tmp/bad.ndjson", 99))
            entered.set()
            await release.wait()
            raise Abandon

    first = asyncio.create_task(failing())
    await entered.wait()
    waiting = asyncio.create_task(commit(store, good))
    await _spin()
    assert not waiting.done()
    release.set()
    with pytest.raises(Abandon):
        await first
    assert await waiting == good.points
    assert await store.ledger_entry("bad") is None
    assert [p.value for p in await store.points()] == [2]
    assert (await store.checkpoint(), await store.ndjson_files()) == (None, [])


async def test_a_cancelled_transaction_rolls_back_and_frees_the_lock(store: Any) -> None:
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


async def test_a_transaction_cannot_be_used_after_its_block(store: Any) -> None:
    """Calls on a transaction whose block has ended raise instead of writing outside it."""
    async with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await tx.record_outcomes([outcome("late", (point(1),))])
    with pytest.raises(RuntimeError, match="ended"):
        await tx.set_checkpoint(Checkpoint(None, 0))
    assert await store.ledger_entry("late") is None


async def test_batch_holds_out_other_writers_until_commit(store: Any) -> None:
    """Another write transaction of the store waits while a batch is open and runs after its
    commit."""
    batch = contextlib.AsyncExitStack()
    tx = await batch.enter_async_context(store.transaction())
    await tx.record_outcomes([outcome("k1", (point(1),))])
    waiting = asyncio.create_task(store.set_checkpoint(Checkpoint("/tmp/w.ndjson", 5)))
    await _spin()
    assert not waiting.done()
    await batch.aclose()  # the block ends: COMMIT
    await waiting
    entry = await store.ledger_entry("k1")
    assert entry is not None and entry.state == "done"
    assert await store.checkpoint() == Checkpoint("/tmp/w.ndjson", 5)


async def test_the_store_serves_its_protocols(store: Any) -> None:
    """A caller that knows only InsightStore, StoreTransaction and WorkQueue can use it."""
    seam: InsightStore = store
    queue: WorkQueue = store
    async with seam.transaction() as tx:
        held: StoreTransaction = tx
        changes = await held.record_outcomes(
            [outcome("k1", (point(5),)), outcome("k2", (point(5.0),))]
        )
        await held.set_checkpoint(Checkpoint("/tmp/x.ndjson", 7))
    assert (len(changes.changed), changes.unchanged) == (1, 1)
    assert (await seam.ledger_summary()).totals()["done"] == 2
    assert await seam.checkpoint() == Checkpoint("/tmp/x.ndjson", 7)
    assert [f.committed_offset for f in await seam.ndjson_files()] == [7]
    assert await queue.jobs() == []


async def test_data_survives_reopening(store: Any, backend: Backend) -> None:
    """Committed points, ledger and checkpoint are there for a store opened afterwards."""
    async with store.transaction() as tx:
        await tx.record_outcomes([outcome("k1", (point(3),))])
        await tx.set_checkpoint(Checkpoint(None, 0))
    await store.close()
    again = await backend.open()
    assert [p.value for p in await again.points()] == [3]
    entry = await again.ledger_entry("k1")
    assert entry is not None and entry.state == "done"
    assert await again.checkpoint() == Checkpoint(None, 0)


# -- the checkpoint and the NDJSON files ---------------------------------------------------


async def test_checkpoint_is_none_on_a_new_store(store: Any) -> None:
    """A fresh store has no checkpoint and no NDJSON file."""
    assert (await store.checkpoint(), await store.ndjson_files()) == (None, [])


async def test_checkpoint_moves_only_with_its_data(store: Any) -> None:
    """The checkpoint commits with its batch, a later one replaces it, a rolled-back one
    leaves it where it was; every file committed to is listed."""
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


async def test_set_checkpoint_replaces_the_single_row(store: Any, backend: Backend) -> None:
    """A later checkpoint replaces the earlier one: there is only ever one row."""
    await store.set_checkpoint(Checkpoint("/tmp/x.ndjson", 10))
    await store.set_checkpoint(Checkpoint(None, 0))
    assert backend.query("SELECT ndjson_path, committed_offset FROM checkpoint") == [(None, 0)]


async def test_ndjson_files_are_listed_oldest_first_with_their_commits(
    store: Any, manual_clock: ManualClock
) -> None:
    """Each NDJSON file is listed once, oldest first, with its last committed size and the
    times of its first and last commit."""
    await store.set_checkpoint(Checkpoint("/tmp/b.ndjson", 10))
    manual_clock.advance(60)
    await store.set_checkpoint(Checkpoint("/tmp/b.ndjson", 20))
    await store.set_checkpoint(Checkpoint("/tmp/a.ndjson", 5))
    files = [
        (f.path, f.committed_offset, f.first_at, f.last_at) for f in await store.ndjson_files()
    ]
    assert files == [
        ("/tmp/b.ndjson", 20, "2024-03-01T12:00:00Z", "2024-03-01T12:01:00Z"),
        ("/tmp/a.ndjson", 5, "2024-03-01T12:01:00Z", "2024-03-01T12:01:00Z"),
    ]


# -- the commit sequence -------------------------------------------------------------------


async def test_committed_after_follows_commit_order(store: Any) -> None:
    """Points come back in the order of their commits, and past a sequence number seen only
    those committed later."""
    await commit(store, outcome("k1", (point(1, metric="first"),)))
    await commit(store, outcome("k2", (point(2, metric="second"),)))
    seen = await store.committed_after(0, 10)
    assert [p.metric for _, p in seen] == ["first", "second"]
    assert seen[0][0] < seen[1][0]
    assert await store.committed_after(seen[0][0], 10) == seen[1:]


async def test_a_changed_value_gets_a_new_sequence_number(store: Any) -> None:
    """Rewriting a point moves it past everything committed before; an equal one does not."""
    await commit(store, outcome("k1", (point(1), point(1, metric="other"))))
    [(a, _), (b, _)] = await store.committed_after(0, 10)
    await commit(store, outcome("k2", (point(2), point(1, metric="other"))))
    assert [(p.metric, p.value) for _, p in await store.committed_after(max(a, b), 10)] == [
        ("reach", 2)
    ]


async def test_committed_after_respects_the_limit(store: Any) -> None:
    """committed_after returns at most ``limit`` points, the oldest first."""
    await commit(store, outcome("k1", tuple(point(i, metric=f"m{i}") for i in range(5))))
    assert [p.value for _, p in await store.committed_after(0, 3)] == [0, 1, 2]
