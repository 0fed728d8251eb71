"""The store's write seam: Store.transaction commits or rolls back, and always frees the lock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.clock import ManualClock
from collector.model.outcome import Checkpoint, Outcome
from collector.model.records import Point
from collector.storage.protocol import InsightStore, StoreTransaction
from collector.storage.sqlite import Store

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def _outcome(key: str, value: int | float) -> Outcome:
    point = Point("111", "reach", "day", "2024-02-20T08:00:00Z", {}, value, "v17.0", "T1")
    return Outcome(key, "111", "app-a", ("reach",), "day", 1, 2, "done", (point,), 1, None)


class _Abandon(Exception):
    """Raised inside a transaction's block to roll it back."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "out.sqlite", clock=ManualClock(NOW))
    yield opened
    await opened.close()


async def _spin() -> None:
    """Let every ready task (and SQLite's thread) run a little."""
    for _ in range(20):
        await asyncio.sleep(0.001)


async def test_a_failing_transaction_rolls_back_and_the_next_one_runs(store: Store) -> None:
    """A block that raises leaves nothing behind, and a transaction waiting for it then runs."""
    entered = asyncio.Event()
    release = asyncio.Event()

    async def failing() -> None:
        async with store.transaction() as tx:
            await tx.record_outcomes([_outcome("bad", 1)])
            await tx.set_checkpoint(Checkpoint("/tmp/bad.ndjson", 99))
            entered.set()
            await release.wait()
            raise _Abandon

    first = asyncio.create_task(failing())
    await entered.wait()
    waiting = asyncio.create_task(store.register_pending([]))
    await _spin()
    assert not waiting.done()
    release.set()
    with pytest.raises(_Abandon):
        await first
    assert await waiting == 0
    async with store.transaction() as tx:
        changes = await tx.record_outcomes([_outcome("good", 2)])
    assert changes.changed == _outcome("good", 2).points
    assert await store.ledger_entry("bad") is None
    assert [p.value for p in await store.points()] == [2]
    assert await store.checkpoint() is None


async def test_a_cancelled_transaction_rolls_back_and_frees_the_lock(store: Store) -> None:
    """Cancelling a task inside its transaction rolls it back; the store takes writes again."""
    entered = asyncio.Event()

    async def stalled() -> None:
        async with store.transaction() as tx:
            await tx.record_outcomes([_outcome("k1", 1)])
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stalled())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(store.set_checkpoint(Checkpoint(None, 0)), 5)
    assert (await store.points(), await store.checkpoint()) == ([], Checkpoint(None, 0))


async def test_a_transaction_cannot_be_used_after_its_block(store: Store) -> None:
    """Calls on a transaction whose block has ended raise instead of writing outside it."""
    async with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await tx.record_outcomes([_outcome("late", 1)])
    with pytest.raises(RuntimeError, match="ended"):
        await tx.set_checkpoint(Checkpoint(None, 0))
    assert await store.ledger_entry("late") is None


async def test_callers_can_hold_the_store_by_its_protocol(store: Store) -> None:
    """The SQLite store serves a caller that knows only InsightStore and StoreTransaction."""
    seam: InsightStore = store
    async with seam.transaction() as tx:
        held: StoreTransaction = tx
        changes = await held.record_outcomes([_outcome("k1", 5), _outcome("k2", 5.0)])
        await held.set_checkpoint(Checkpoint("/tmp/x.ndjson", 7))
    assert (len(changes.changed), changes.unchanged) == (1, 1)
    assert await seam.finished_keys("111") == {"k1", "k2"}
    assert await seam.checkpoint() == Checkpoint("/tmp/x.ndjson", 7)
    assert [f.committed_offset for f in await seam.ndjson_files()] == [7]
