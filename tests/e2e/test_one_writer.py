"""Two processes on one output pair: one writes, the other is refused; nothing is lost."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
import time
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LatencySettings
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import (
    assert_stored_once,
    expected_points,
    ledger_states,
    small_scenario,
    write_config,
)

pytestmark = pytest.mark.slow


async def _start(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector", "--log-format", "json", "run",
        "--config", str(config), "--no-progress",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_two_runs_at_once_on_one_output_pair_lose_nothing(tmp_path: Path) -> None:
    scenario = dataclasses.replace(
        small_scenario(seed=29), latency=LatencySettings(fixed_ms=30, jitter_ms=10)
    )
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=75), today - dt.timedelta(days=1)
    async with running_emulator(scenario, clock=FixedClock(now.timestamp())) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since=first.isoformat(),
            until=last.isoformat(), out=tmp_path, concurrency=2,
        )  # fmt: skip
        runs = [await _start(config), await _start(config)]
        results = [await asyncio.wait_for(run.communicate(), 120) for run in runs]
        codes = sorted(run.returncode for run in runs)
        calls = [c for c in emulator.calls.records() if c.counted]
    assert codes == [0, 2], results
    refused = next(
        err.decode() for (_o, err), run in zip(results, runs, strict=True) if run.returncode == 2
    )
    assert "is being written by pid" in refused and "insights" in refused
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    assert_stored_once(tmp_path, truth)  # every NDJSON line once, none overwritten
    assert len(calls) == sum(
        ledger_states(tmp_path / "insights.sqlite").values()
    )  # the refused run sent nothing
