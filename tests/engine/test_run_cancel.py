"""Cancelling ``run_once`` mid-pull (Ctrl-C): what was answered is committed once, the rest
is sent by the next run, and nothing keeps running."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LatencySettings
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from tests.e2e.helpers import (
    NOW,
    TODAY,
    expected_points,
    ledger_states,
    ndjson_points,
    small_scenario,
    sqlite_points,
    write_config,
)

FIRST, LAST = TODAY - dt.timedelta(days=200), TODAY - dt.timedelta(days=1)


async def test_a_cancelled_run_commits_what_was_answered_and_the_rerun_sends_the_rest(
    tmp_path: Path,
) -> None:
    scenario = dataclasses.replace(
        small_scenario(), latency=LatencySettings(fixed_ms=20, jitter_ms=10)
    )
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        config = load_config(
            write_config(
                tmp_path / "c.toml", scenario, emulator.base_url, since=FIRST.isoformat(),
                until=LAST.isoformat(), out=tmp_path, concurrency=4,
            )
        )  # fmt: skip
        commits: list[str] = []
        second_commit = asyncio.Event()

        def hook(stage: str) -> None:
            commits.append(stage)
            if commits.count("committed") == 2:
                second_commit.set()

        pull = asyncio.create_task(run_once(config, clock=FixedWallClock(NOW), writer_hook=hook))
        await asyncio.wait_for(second_commit.wait(), 30)
        pull.cancel()
        await asyncio.gather(pull, return_exceptions=True)
        # the run's own tasks (workers, the writer, the pool, the grace timer) are gone
        left = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
        assert not {n for n in left if n.startswith(("worker-", "sink-writer", "pool", "grace"))}
        first_calls = len([c for c in emulator.calls.records() if c.counted])
        await asyncio.sleep(0.2)
        assert len([c for c in emulator.calls.records() if c.counted]) == first_calls  # quiet
        stored = sqlite_points(tmp_path / "insights.sqlite")
        lines_points, lines = ndjson_points(tmp_path / "insights.ndjson")
        done = ledger_states(tmp_path / "insights.sqlite")
        summary = await run_once(config, clock=FixedWallClock(NOW))
        rerun_calls = len([c for c in emulator.calls.records() if c.counted]) - first_calls
    finished = done.get("done", 0) + done.get("no_data", 0)
    assert 0 < finished < summary.planned
    # every answered request that was committed is in both outputs, each point once
    assert lines_points == stored and lines == len(stored) and stored
    # the rerun sends exactly what was not finished, and the whole ends exact
    assert summary.skipped_finished == finished
    assert rerun_calls == summary.calls == summary.planned - finished
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    final, final_lines = ndjson_points(tmp_path / "insights.ndjson")
    assert final == truth and final_lines == len(truth)
