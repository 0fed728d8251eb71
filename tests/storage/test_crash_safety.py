"""Crash safety: a process SIGKILLed mid-commit, then reopened; both sinks agree exactly once."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from collector.clock import SystemClock
from collector.model.outcome import Outcome
from collector.model.records import Point
from collector.model.rows import row_of
from collector.storage.files import AppendFile
from collector.storage.sqlite import Store
from collector.storage.writer import SinkWriter

pytestmark = pytest.mark.slow

# The child reads its outcomes from a JSON file the test wrote, commits one
# outcome per batch and SIGKILLs itself at the named stage of batch number N.
_CHILD = """
import asyncio, json, os, signal, sys
from pathlib import Path
from collector.clock import SystemClock
from collector.model.outcome import Outcome
from collector.model.records import Point
from collector.model.rows import row_of
from collector.storage.sqlite import Store
from collector.storage.writer import SinkWriter

db, ndjson, outcomes_file, stage, kill_at = sys.argv[1:6]

def load():
    for o in json.loads(Path(outcomes_file).read_text()):
        points = tuple(Point(**p) for p in o.pop("points"))
        o["metrics"] = tuple(o["metrics"])
        yield Outcome(rows=tuple(row_of(p) for p in points), **o)

async def main():
    store = await Store.open(Path(db))
    seen = 0
    def hook(name):
        nonlocal seen
        if name == stage:
            if seen == int(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)
            seen += 1
    writer = SinkWriter(store, Path(ndjson), SystemClock(), max_outcomes=1, stage_hook=hook)
    await writer.start()
    for outcome in load():
        await writer.put(outcome)
    await writer.close()
    await store.close()

asyncio.run(main())
"""

N_OUTCOMES = 6
KILL_AT = 3  # batches 0, 1, 2 commit; batch 3 dies


def _ground_truth() -> list[Outcome]:
    """Six windows of three daily points each, values chosen by hand-checkable arithmetic."""
    outcomes = []
    for i in range(N_OUTCOMES):
        account = f"acct{i % 2}"
        points = tuple(
            Point(account, "reach", "day", f"2024-01-{3 * i + d + 1:02d}T08:00:00Z", {},
                  100 * i + d, "v17.0", "2024-02-01T00:00:00Z")
            for d in range(3)
        )  # fmt: skip
        outcomes.append(
            Outcome(f"{account}|day|reach|w{i}", account, "app-a", ("reach",), "day",
                    1_704_000_000 + i, 1_704_100_000 + i, "done", tuple(map(row_of, points)), 1, None)
        )  # fmt: skip
    return outcomes


def _dump(outcomes: list[Outcome], path: Path) -> None:
    payload = [
        {
            "key": o.key, "account_id": o.account_id, "app": o.app, "metrics": list(o.metrics),
            "period": o.period, "since": o.since, "until": o.until, "state": o.state,
            "attempts": o.attempts, "reason": o.reason,
            "points": [p.as_dict() for p in o.points],
        }
        for o in outcomes
    ]  # fmt: skip
    path.write_text(json.dumps(payload))


def _identity(d: dict[str, object]) -> tuple[object, ...]:
    return (d["account_id"], d["metric"], d["period"], d["end_time"], json.dumps(d["dimensions"]))


def _read_ndjson(path: Path) -> list[dict[str, object]]:
    """Every line of the NDJSON file (gzip-aware) parsed by the stdlib."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run_child(tmp_path: Path, ndjson: Path, stage: str) -> subprocess.CompletedProcess[bytes]:
    outcomes_file = tmp_path / "outcomes.json"
    _dump(_ground_truth(), outcomes_file)
    args = [str(tmp_path / "out.sqlite"), str(ndjson), str(outcomes_file), stage, str(KILL_AT)]
    return subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, timeout=60, check=False
    )


async def _resume(tmp_path: Path, ndjson: Path) -> tuple[Store, list[str]]:
    """Reopen both sinks like a re-run, send every unfinished outcome, return the store."""
    store = await Store.open(tmp_path / "out.sqlite")
    writer = SinkWriter(store, ndjson, SystemClock())
    await writer.start()
    entries = [await store.ledger_entry(o.key) for o in _ground_truth()]
    finished = {e.key for e in entries if e is not None and e.state in ("done", "no_data")}
    resent = [o.key for o in _ground_truth() if o.key not in finished]
    for outcome in _ground_truth():
        if outcome.key not in finished:
            await writer.put(outcome)
    await writer.close()
    return store, resent


def _committed_points() -> list[tuple[str, int]]:
    """(end_time, value) of the points of the outcomes committed before the kill."""
    return sorted(
        (str(p.end_time), int(p.value)) for o in _ground_truth()[:KILL_AT] for p in o.points
    )


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz"])
async def test_kill_between_append_and_commit(tmp_path: Path, suffix: str) -> None:
    """Killed between append and COMMIT: reopen cuts extra bytes; a re-run stores all once."""
    ndjson = tmp_path / f"out{suffix}"
    child = _run_child(tmp_path, ndjson, "appended")
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    store = await Store.open(tmp_path / "out.sqlite")
    try:
        checkpoint = await store.checkpoint()
        assert checkpoint is not None and ndjson.stat().st_size > checkpoint.offset
        assert sorted((str(p.end_time), int(p.value)) for p in await store.points()) == (
            _committed_points()
        )
        reopened = SinkWriter(store, ndjson, SystemClock())
        await reopened.start()  # cuts the file back to the checkpoint
        await reopened.close()
        assert ndjson.stat().st_size == checkpoint.offset
        assert sorted((str(d["end_time"]), int(str(d["value"]))) for d in _read_ndjson(ndjson)) == (
            _committed_points()
        )
    finally:
        await store.close()

    store, resent = await _resume(tmp_path, ndjson)
    try:
        expected = sorted(
            (str(p.end_time), int(p.value)) for o in _ground_truth() for p in o.points
        )
        lines = _read_ndjson(ndjson)
        assert sorted((str(d["end_time"]), int(str(d["value"]))) for d in lines) == expected
        assert max(Counter(_identity(d) for d in lines).values()) == 1
        assert sorted((str(p.end_time), int(p.value)) for p in await store.points()) == expected
        assert resent == [o.key for o in _ground_truth()[KILL_AT:]]
    finally:
        await store.close()


@pytest.mark.parametrize("stage", ["staged", "committed"])
async def test_kill_before_append_or_after_commit(tmp_path: Path, stage: str) -> None:
    """Killed before the append or after COMMIT, the file already matches the checkpoint."""
    ndjson = tmp_path / "out.ndjson"
    child = _run_child(tmp_path, ndjson, stage)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    store = await Store.open(tmp_path / "out.sqlite")
    try:
        checkpoint = await store.checkpoint()
        assert checkpoint is not None and ndjson.stat().st_size == checkpoint.offset
        committed = KILL_AT + (1 if stage == "committed" else 0)
        lines = _read_ndjson(ndjson)
        assert len(lines) == len(await store.points()) == 3 * committed
    finally:
        await store.close()


async def test_rerun_after_kill_leaves_ledger_all_done(tmp_path: Path) -> None:
    """After a kill and a re-run every planned key is done exactly as the ground truth says."""
    ndjson = tmp_path / "out.ndjson"
    _run_child(tmp_path, ndjson, "appended")
    store, _ = await _resume(tmp_path, ndjson)
    try:
        summary = await store.ledger_summary()
        assert summary.totals() == {"pending": 0, "done": N_OUTCOMES, "no_data": 0, "failed": 0}
    finally:
        await store.close()


def test_open_cuts_bytes_past_the_committed_offset(tmp_path: Path) -> None:
    """Opening at a committed offset removes a half-written line after it."""
    path = tmp_path / "x.ndjson"
    path.write_bytes(b'{"a":1}\n{"a":')
    AppendFile.open(path, 8).close()
    assert path.read_bytes() == b'{"a":1}\n'


def test_gzip_is_readable_after_cutting_a_partial_member(tmp_path: Path) -> None:
    """A .gz file cut back at a committed member boundary reads with gzip.open, torn member gone."""
    path = tmp_path / "x.ndjson.gz"
    sink = AppendFile.open(path, 0)
    sink.append(b'{"a":1}\n')
    committed = sink.append(b'{"a":2}\n')
    sink.close()
    torn = gzip.compress(b'{"a":3}\n')
    with path.open("ab") as f:
        f.write(torn[: len(torn) // 2])
    AppendFile.open(path, committed).close()
    with gzip.open(path, "rb") as f:
        assert f.read() == b'{"a":1}\n{"a":2}\n'


def test_append_returns_the_file_size(tmp_path: Path) -> None:
    """Each append returns the new end offset, which is the file's size on disk."""
    path = tmp_path / "x.ndjson"
    sink = AppendFile.open(path, 0)
    offsets = [sink.append(b"one\n"), sink.append(b""), sink.append(b"three\n")]
    sink.close()
    assert offsets == [4, 4, 10]
    assert path.stat().st_size == 10


def test_open_refuses_a_file_shorter_than_committed(tmp_path: Path) -> None:
    """A file shorter than the committed offset is refused rather than silently extended."""
    path = tmp_path / "x.ndjson"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match="fewer than the 10 committed"):
        AppendFile.open(path, 10)
