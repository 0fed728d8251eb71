"""The sink writer under cancels: its task never outlives close(), and every point lands once."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from collector.clock import ManualClock, SystemClock
from collector.model.outcome import Outcome
from collector.storage.files import file_size
from collector.storage.sqlite import Store
from collector.storage.writer import SinkWriter
from tests.polling import until
from tests.storage.writer_support import NOW, lines, outcome, point

WRITER_TASKS = ("sink-writer", "within", "within-timer")


def writer_tasks() -> list[str]:
    """Names of the writer's tasks (its own, and its batch timer's) that are still running."""
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name() in WRITER_TASKS]


async def settle() -> None:
    """Let every ready task run."""
    for _ in range(20):
        await asyncio.sleep(0)


def answered() -> list[Outcome]:
    """Three answered requests, one point each."""
    return [outcome(f"k{i}", (point(i, 10 + i),)) for i in range(3)]


async def cut_is_clean(store: Store, path: Path) -> None:
    """The NDJSON file holds exactly the bytes the store's checkpoint vouches for."""
    checkpoint = await store.checkpoint()
    assert checkpoint is not None and checkpoint.offset == file_size(path)


async def rerun_lands_each_point_once(store: Store, path: Path) -> None:
    """A later writer fed the same answers (a rerun) leaves each point once in both sinks."""
    again = SinkWriter(store, path, SystemClock())
    await again.start()
    for item in answered():
        await again.put(item)
    await again.close()
    assert sorted(float(str(d["value"])) for d in lines(path)) == [0, 1, 2]
    assert sorted(p.value for p in await store.points()) == [0, 1, 2]


async def test_close_cancelled_mid_commit_commits_that_batch_and_ends_the_task(
    store: Store, tmp_path: Path
) -> None:
    """A cancel of close() during a batch's commit lets that commit finish, drops the queued
    rest, and returns only once the writer's task has ended."""
    path = tmp_path / "out.ndjson"
    writer = SinkWriter(store, path, SystemClock(), max_outcomes=1)
    await writer.start()
    stall = contextlib.AsyncExitStack()
    await stall.enter_async_context(store.transaction())  # the writer's commit waits for it
    for item in answered():
        await writer.put(item)
    await until(lambda: writer.backlog == 2)  # k0 taken: its commit is under way
    closing = asyncio.create_task(writer.close())
    await settle()
    closing.cancel()
    await settle()
    assert not closing.done() and writer_tasks() == ["sink-writer"]  # the commit is not cut
    await stall.aclose()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert writer_tasks() == []
    assert [d["value"] for d in lines(path)] == [0]
    assert [(await store.ledger_entry(k)) is not None for k in ("k0", "k1", "k2")] == [
        True, False, False,
    ]  # fmt: skip
    await cut_is_clean(store, path)
    await rerun_lands_each_point_once(store, path)


async def test_close_cancelled_while_a_batch_gathers_drops_it_at_once(
    store: Store, tmp_path: Path
) -> None:
    """A cancel of close() while the writer still gathers a batch (on the injected clock)
    ends the task at once, commits nothing of that batch and leaves the file clean."""
    path = tmp_path / "out.ndjson"
    writer = SinkWriter(store, path, ManualClock(NOW), max_delay=60.0)
    await writer.start()
    for item in answered():
        await writer.put(item)
    await until(lambda: writer.backlog == 0)  # all three gathered; the batch waits on the clock
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0)  # close() has queued its stop marker; the writer has not taken it
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert writer_tasks() == []
    assert (writer.stats.batches, await store.points(), lines(path)) == (0, [], [])
    await cut_is_clean(store, path)
    await rerun_lands_each_point_once(store, path)


async def test_a_put_cancelled_while_it_waits_queues_nothing(store: Store) -> None:
    """A put() cancelled while the queue is full leaves its outcome out, and no task behind."""
    writer = SinkWriter(store, None, SystemClock(), max_outcomes=1, queue_size=2)
    await writer.start()
    stall = contextlib.AsyncExitStack()
    await stall.enter_async_context(store.transaction())
    for item in answered():  # one taken into the stalled batch, two fill the queue
        await writer.put(item)
    await until(lambda: writer.saturated)
    blocked = asyncio.create_task(writer.put(outcome("late", (point(9, 20),))))
    await settle()
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert writer.backlog == 2
    await stall.aclose()
    await writer.close()
    assert writer_tasks() == []
    assert (writer.stats.outcomes, await store.ledger_entry("late")) == (3, None)
