"""SIGKILL a real `ig-collector run` subprocess mid-pull, re-run it, and find every point once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import random
import signal
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
    small_scenario,
    write_config,
)

pytestmark = pytest.mark.slow


async def _collector(config: Path, *, crash_at: str | None = None, timeout: float = 60) -> int:
    env = {k: v for k, v in os.environ.items() if k != "IG_COLLECTOR_CRASH_AT"}
    if crash_at:
        env["IG_COLLECTOR_CRASH_AT"] = crash_at
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collector",
        "--log-format",
        "json",
        "--log-level",
        "warning",
        "run",
        "--config",
        str(config),
        "--no-progress",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), timeout)


async def _killed_after(config: Path, delay_s: float) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collector",
        "--log-format",
        "json",
        "--log-level",
        "warning",
        "run",
        "--config",
        str(config),
        "--no-progress",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(process.wait(), delay_s)
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
    return await process.wait()


@pytest.fixture
async def slow_emulator():  # type: ignore[no-untyped-def]
    """The small scenario with 30-40 ms per answer, its clock pinned to the real now."""
    scenario = dataclasses.replace(
        small_scenario(seed=23), latency=LatencySettings(fixed_ms=30, jitter_ms=10)
    )
    now = time.time()
    async with running_emulator(scenario, clock=FixedClock(now)) as emulator:
        yield scenario, emulator, dt.datetime.fromtimestamp(now, dt.UTC)


def _config(tmp_path: Path, scenario, emulator, today: dt.date) -> Path:  # type: ignore[no-untyped-def]
    return write_config(
        tmp_path / "c.toml",
        scenario,
        emulator.base_url,
        since=(today - dt.timedelta(days=75)).isoformat(),
        until=(today - dt.timedelta(days=1)).isoformat(),
        out=tmp_path,
        concurrency=2,
    )


def _assert_exactly_once(tmp_path: Path, scenario, now: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    today = pacific_date(now)
    truth = expected_points(
        scenario,
        first=today - dt.timedelta(days=75),
        last=today - dt.timedelta(days=1),
        today=today,
        now=now,
    )
    assert_stored_once(tmp_path, truth)


async def test_kill_at_each_commit_stage_then_rerun_is_exactly_once(
    tmp_path, slow_emulator
) -> None:  # type: ignore[no-untyped-def]
    """Killed after staging, after the NDJSON append and after a commit, the re-run ends exact."""
    scenario, emulator, now = slow_emulator
    config = _config(tmp_path, scenario, emulator, pacific_date(now))
    for crash_at in ("appended:2", "staged:1", "committed:1", "appended:1"):
        code = await _collector(config, crash_at=crash_at)
        assert code == -signal.SIGKILL, f"{crash_at}: the collector was not killed"
    assert await _collector(config) == 0
    _assert_exactly_once(tmp_path, scenario, now)


@pytest.mark.soak
async def test_kills_at_random_moments_then_rerun_is_exactly_once(tmp_path, slow_emulator) -> None:  # type: ignore[no-untyped-def]
    """SIGKILLs at random moments of one pull (5; IG_SOAK_KILLS in scripts/soak), then a
    clean re-run: every point once."""
    scenario, emulator, now = slow_emulator
    config = _config(tmp_path, scenario, emulator, pacific_date(now))
    rng = random.Random(5)
    for _ in range(int(os.environ.get("IG_SOAK_KILLS", "5"))):
        await _killed_after(config, rng.uniform(0.6, 1.6))
    assert await _collector(config) == 0
    _assert_exactly_once(tmp_path, scenario, now)
