"""The sink writer: batching, backpressure, exactly-once NDJSON, and which file it may continue."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector.clock import ManualClock, SystemClock
from collector.model.outcome import Checkpoint, Outcome
from collector.storage.sqlite import Store
from collector.storage.writer import (
    SinkMismatchError,
    SinkWriter,
    WriterFailedError,
    resume_offset,
)
from tests.polling import until
from tests.storage.writer_support import NOW, lines, outcome, point


async def _write(store: Store, ndjson: Path | None, *outcomes: Outcome, **kw: int) -> SinkWriter:
    writer = SinkWriter(store, ndjson, SystemClock(), **kw)  # type: ignore[arg-type]
    await writer.start()
    for item in outcomes:
        await writer.put(item)
    await writer.close()
    return writer


def _sqlite_files_only(directory: Path) -> bool:
    """Whether the folder holds only the SQLite file and its WAL companions."""
    return all(p.name.startswith("out.sqlite") for p in directory.iterdir())


async def test_points_reach_both_sinks(store: Store, tmp_path: Path) -> None:
    """Every point put is one NDJSON line and one SQLite row, with the same values."""
    path = tmp_path / "out.ndjson"
    await _write(
        store, path, outcome("a", (point(1, 20), point(2, 21))), outcome("b", (point(3, 22),))
    )
    assert [(d["end_time"], d["value"]) for d in lines(path)] == [
        ("2024-02-20T08:00:00Z", 1), ("2024-02-21T08:00:00Z", 2), ("2024-02-22T08:00:00Z", 3),
    ]  # fmt: skip
    assert [(p.end_time, p.value) for p in await store.points()] == [
        ("2024-02-20T08:00:00Z", 1), ("2024-02-21T08:00:00Z", 2), ("2024-02-22T08:00:00Z", 3),
    ]  # fmt: skip


async def test_unchanged_points_are_not_written_again(store: Store, tmp_path: Path) -> None:
    """A window fetched twice with the same values adds nothing to the NDJSON file."""
    path = tmp_path / "out.ndjson"
    window = outcome("a", (point(1, 20), point(2, 21)))
    await _write(store, path, window)
    size = path.stat().st_size
    second = await _write(store, path, window)
    assert (path.stat().st_size, second.stats.points_written, second.stats.points_unchanged) == (
        size, 0, 2,
    )  # fmt: skip


async def test_changed_point_appends_a_later_line(store: Store, tmp_path: Path) -> None:
    """A changed value adds one line with the new value and later fetched_at; the old line stays."""
    path = tmp_path / "out.ndjson"
    await _write(store, path, outcome("a", (point(1, 20), point(2, 21))))
    await _write(
        store, path, outcome("a", (point(1, 20, fetched="T2"), point(5, 21, fetched="T2")))
    )
    assert [(d["end_time"], d["value"], d["fetched_at"]) for d in lines(path)] == [
        ("2024-02-20T08:00:00Z", 1, "2024-03-01T1"),
        ("2024-02-21T08:00:00Z", 2, "2024-03-01T1"),
        ("2024-02-21T08:00:00Z", 5, "2024-03-01T2"),
    ]


async def test_gzip_output_is_one_readable_stream(store: Store, tmp_path: Path) -> None:
    """A .gz destination written over two runs reads back with gzip.open as all lines."""
    path = tmp_path / "out.ndjson.gz"
    await _write(store, path, outcome("a", (point(1, 20),)))
    await _write(store, path, outcome("b", (point(2, 21),)))
    assert [d["value"] for d in lines(path)] == [1, 2]


async def test_sqlite_only_creates_no_file(store: Store, tmp_path: Path) -> None:
    """Without an NDJSON path the points go to SQLite and no file appears."""
    await _write(store, None, outcome("a", (point(4, 20),)))
    assert [p.value for p in await store.points()] == [4]
    assert _sqlite_files_only(tmp_path)


async def test_batches_by_outcome_count(store: Store) -> None:
    """With max_outcomes=2, five outcomes queued before the writer runs commit in three batches."""
    writer = SinkWriter(store, None, SystemClock(), max_outcomes=2)
    await writer.start()
    for i in range(5):
        await writer.put(outcome(f"k{i}", (point(i, 10 + i),)))
    await writer.close()
    assert (writer.stats.batches, writer.stats.outcomes) == (3, 5)


async def test_batches_by_point_count(store: Store) -> None:
    """With max_points=3, outcomes of two points each commit two to a batch."""
    writer = SinkWriter(store, None, SystemClock(), max_points=3)
    await writer.start()
    for i in range(4):
        await writer.put(outcome(f"k{i}", (point(i, 1 + 2 * i), point(i, 2 + 2 * i))))
    await writer.close()
    assert writer.stats.batches == 2


async def test_batch_waits_for_max_delay_of_the_clock(store: Store) -> None:
    """A lone outcome is committed only once the injected clock passes max_delay."""
    clock = ManualClock(NOW)
    writer = SinkWriter(store, None, clock, max_delay=0.5)
    await writer.start()
    await writer.put(outcome("a", (point(1, 20),)))
    await until(lambda: writer.backlog == 0)  # taken into a batch that now waits
    await asyncio.sleep(0.1)  # real time passes; the injected clock does not
    assert (writer.stats.batches, await store.points()) == (0, [])
    clock.advance(0.5)
    await until(lambda: writer.stats.batches == 1)
    await writer.close()


async def test_put_waits_while_the_queue_is_full(store: Store) -> None:
    """put blocks when queue_size outcomes wait behind a stalled commit, and resumes after."""
    writer = SinkWriter(store, None, SystemClock(), max_outcomes=1, queue_size=2)
    await writer.start()
    stall = contextlib.AsyncExitStack()
    await stall.enter_async_context(store.transaction())  # the writer's commit waits for it
    for i in range(3):  # one taken into the stalled batch, two fill the queue
        await writer.put(outcome(f"k{i}"))
    await until(lambda: writer.saturated)
    blocked = asyncio.create_task(writer.put(outcome("k3")))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not blocked.done()
    await stall.aclose()
    await blocked
    await writer.close()
    assert writer.stats.outcomes == 4


async def test_put_waits_while_queued_points_reach_the_bound(store: Store) -> None:
    """put blocks once max_queued_points points wait behind a stalled commit (few outcomes,
    many points), and resumes when the writer takes them."""
    writer = SinkWriter(
        store, None, SystemClock(), max_outcomes=1, queue_size=100, max_queued_points=4
    )
    await writer.start()
    stall = contextlib.AsyncExitStack()
    await stall.enter_async_context(store.transaction())  # the writer's commit waits for it
    await writer.put(outcome("k0", (point(0, 1),)))  # taken into the stalled batch
    await until(lambda: writer.backlog == 0)
    await writer.put(outcome("k1", tuple(point(i, 2 + i) for i in range(4))))  # 4 queued
    assert writer.saturated
    blocked = asyncio.create_task(writer.put(outcome("k2", (point(9, 9),))))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not blocked.done()
    await stall.aclose()
    await blocked
    await writer.close()
    assert (writer.stats.outcomes, writer.stats.points_written) == (3, 6)


async def test_an_outcome_over_the_points_bound_is_let_in(store: Store) -> None:
    """An outcome with more points than max_queued_points is queued when nothing waits."""
    writer = await _write(
        store,
        None,
        outcome("big", tuple(point(i, 1 + i) for i in range(5))),
        max_queued_points=2,
    )
    assert writer.stats.points_written == 5


async def test_summary_counts_states(store: Store) -> None:
    """The stats count done, no_data and failed outcomes and points written."""
    writer = await _write(
        store, None,
        outcome("a", (point(1, 20), point(2, 21))), outcome("b", state="no_data"),
        outcome("c", state="failed"), outcome("d", state="failed"),
    )  # fmt: skip
    s = writer.stats
    assert (s.done, s.no_data, s.failed, s.points_written, s.points_unchanged) == (1, 1, 2, 2, 0)


async def test_failed_commit_kills_writer_and_put_raises(store: Store, tmp_path: Path) -> None:
    """A commit that fails stops the writer; the next put raises WriterFailedError."""
    path = tmp_path / "out.ndjson"
    writer = SinkWriter(store, path, SystemClock(), max_outcomes=1)
    await writer.start()
    await writer.put(outcome("bad", (point(float("nan"), 20),)))  # NOT NULL value fails
    await until(lambda: writer._task is not None and writer._task.done())
    with pytest.raises(WriterFailedError):
        await writer.put(outcome("next"))
    with pytest.raises(WriterFailedError):
        await writer.close()
    assert (path.stat().st_size, await store.ledger_entry("bad")) == (0, None)


async def test_failure_after_append_cuts_the_file_back(store: Store, tmp_path: Path) -> None:
    """When the commit fails after the append, the appended bytes are removed again."""
    path = tmp_path / "out.ndjson"
    await _write(store, path, outcome("a", (point(1, 20),)))
    size = path.stat().st_size

    def fail_after_append(stage: str) -> None:
        if stage == "appended":
            raise OSError("disk went away")

    writer = SinkWriter(store, path, SystemClock(), stage_hook=fail_after_append)
    await writer.start()
    await writer.put(outcome("b", (point(2, 21),)))
    with pytest.raises(WriterFailedError):
        await writer.close()
    assert path.stat().st_size == size
    assert [p.value for p in await store.points()] == [1]


async def test_start_refuses_a_file_the_store_did_not_write(store: Store, tmp_path: Path) -> None:
    """A non-empty NDJSON file next to a fresh SQLite file is refused and left untouched."""
    path = tmp_path / "old.ndjson"
    path.write_bytes(b'{"old": 1}\n')
    writer = SinkWriter(store, path, SystemClock())
    with pytest.raises(SinkMismatchError, match="use the SQLite file that wrote"):
        await writer.start()
    assert path.read_bytes() == b'{"old": 1}\n'


async def test_start_refuses_when_checkpoint_names_another_file(
    store: Store, tmp_path: Path
) -> None:
    """A non-empty file other than the checkpoint's is refused, naming the checkpoint's file."""
    await _write(store, tmp_path / "a.ndjson", outcome("a", (point(1, 20),)))
    other = tmp_path / "b.ndjson"
    other.write_bytes(b"x\n")
    with pytest.raises(SinkMismatchError, match=r"a\.ndjson"):
        await SinkWriter(store, other, SystemClock()).start()


async def test_start_cuts_uncommitted_bytes_and_logs(store: Store, tmp_path: Path) -> None:
    """Bytes past the committed offset are cut at start, with an ndjson_truncated event."""
    path = tmp_path / "out.ndjson"
    await _write(store, path, outcome("a", (point(1, 20),)))
    committed = path.read_bytes()
    with path.open("ab") as f:
        f.write(b'{"half a line')
    writer = SinkWriter(store, path, SystemClock())
    with capture_logs() as logs:
        await writer.start()
    await writer.close()
    assert path.read_bytes() == committed
    assert [e["dropped"] for e in logs if e["event"] == "ndjson_truncated"] == [13]


def test_resume_new_file_starts_at_zero() -> None:
    """A missing file with no checkpoint starts at offset 0."""
    assert resume_offset(None, Path("/o/x.ndjson"), None, Path("/o/s.sqlite")) == 0


def test_resume_empty_file_after_other_path_starts_at_zero() -> None:
    """An empty file may start a new log even when the checkpoint names another file."""
    cp = Checkpoint("/o/old.ndjson", 500)
    assert resume_offset(cp, Path("/o/x.ndjson"), 0, Path("/o/s.sqlite")) == 0


def test_resume_own_file_returns_committed_offset() -> None:
    """The checkpoint's own file resumes at the committed offset, even when longer."""
    cp = Checkpoint("/o/x.ndjson", 500)
    assert resume_offset(cp, Path("/o/x.ndjson"), 800, Path("/o/s.sqlite")) == 500


def test_resume_refuses_file_shorter_than_committed() -> None:
    """A file shorter than the committed offset has lost data and is refused."""
    cp = Checkpoint("/o/x.ndjson", 500)
    with pytest.raises(SinkMismatchError, match="fewer than the 500"):
        resume_offset(cp, Path("/o/x.ndjson"), 499, Path("/o/s.sqlite"))


def test_resume_refuses_missing_file_with_committed_bytes() -> None:
    """A missing file the checkpoint says holds data is refused."""
    cp = Checkpoint("/o/x.ndjson", 500)
    with pytest.raises(SinkMismatchError, match="is missing"):
        resume_offset(cp, Path("/o/x.ndjson"), None, Path("/o/s.sqlite"))


def test_resume_refuses_file_after_sqlite_only_runs() -> None:
    """A non-empty file is refused when the last writer wrote SQLite only (it would miss points)."""
    with pytest.raises(SinkMismatchError, match="no NDJSON file"):
        resume_offset(Checkpoint(None, 0), Path("/o/x.ndjson"), 10, Path("/o/s.sqlite"))
