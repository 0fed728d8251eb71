"""export --follow: every committed point reaches the NDJSON stream once, across restarts."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.clock import ManualClock
from collector.errors import OutputError
from collector.model.outcome import Outcome
from collector.model.records import Point
from collector.model.rows import row_of
from collector.reporting.export.follow import checkpoint_path, follow, read_state
from collector.storage.ndjson import decode_line
from collector.storage.sqlite import Store

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
CLOCK = ManualClock(NOW)


def _outcome(key: str, values: dict[str, int]) -> Outcome:
    points = tuple(
        Point("111", "reach", "day", end, {}, value, "v17.0", "T1") for end, value in values.items()
    )
    return Outcome(
        key, "111", "app-a", ("reach",), "day", 1, 2, "done", tuple(map(row_of, points)), 1, None
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "out.sqlite", clock=CLOCK)
    yield opened
    await opened.close()


async def _commit(store: Store, outcome: Outcome) -> None:
    async with store.transaction() as tx:
        await tx.record_outcomes([outcome])


def _lines(path: Path) -> list[tuple[str | None, int | float]]:
    return [(p.end_time, p.value) for p in map(decode_line, path.read_bytes().splitlines())]


async def test_each_commit_is_streamed_once_and_a_changed_value_is_a_later_line(
    store: Store, tmp_path: Path
) -> None:
    """Two follows over three commits write each new point once, the changed one again last."""
    out = tmp_path / "stream.ndjson"
    await _commit(store, _outcome("k1", {"2024-02-01T08:00:00Z": 1, "2024-02-02T08:00:00Z": 2}))
    assert await follow(store, out, CLOCK, keep_following=False) == 2
    await _commit(store, _outcome("k1", {"2024-02-01T08:00:00Z": 1, "2024-02-02T08:00:00Z": 5}))
    await _commit(store, _outcome("k2", {"2024-02-03T08:00:00Z": 3}))
    assert await follow(store, out, CLOCK, keep_following=False) == 2
    assert _lines(out) == [
        ("2024-02-01T08:00:00Z", 1),
        ("2024-02-02T08:00:00Z", 2),
        ("2024-02-02T08:00:00Z", 5),
        ("2024-02-03T08:00:00Z", 3),
    ]
    assert read_state(out).offset == out.stat().st_size


async def test_lines_past_the_checkpoint_are_cut_and_written_again(
    store: Store, tmp_path: Path
) -> None:
    """A follower killed between its append and its checkpoint repeats nothing after a restart."""
    out = tmp_path / "stream.ndjson"
    await _commit(store, _outcome("k1", {"2024-02-01T08:00:00Z": 1}))
    await follow(store, out, CLOCK, keep_following=False)
    await _commit(store, _outcome("k2", {"2024-02-02T08:00:00Z": 2}))
    with out.open("ab") as fh:  # the append of the next batch landed; its checkpoint did not
        fh.write(b'{"half": "a line the checkpoint does not know"}\n')
    await follow(store, out, CLOCK, keep_following=False)
    assert _lines(out) == [("2024-02-01T08:00:00Z", 1), ("2024-02-02T08:00:00Z", 2)]


async def test_a_file_shorter_than_its_checkpoint_is_refused(store: Store, tmp_path: Path) -> None:
    """A stream file cut below its checkpoint is an OutputError naming both files, not a silent gap."""
    out = tmp_path / "stream.ndjson"
    await _commit(store, _outcome("k1", {"2024-02-01T08:00:00Z": 1}))
    await follow(store, out, CLOCK, keep_following=False)
    out.write_bytes(b"")
    with pytest.raises(OutputError, match=checkpoint_path(out).name):
        await follow(store, out, CLOCK, keep_following=False)
