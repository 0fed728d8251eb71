"""An app whose cap throttles, faults and SIGKILLs: the pull still finishes exact, and soon."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import signal
import sys
import time
from bisect import bisect_left
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Account, FaultSettings, LimitSettings, Scenario
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import (
    assert_stored_once,
    expected_points,
    small_scenario,
    write_config,
)

pytestmark = pytest.mark.slow

WINDOW_S = 10.0
CAP = LimitSettings(app_calls=40, app_window_s=WINDOW_S, minute_s=WINDOW_S / 60)  # 4 calls/s


def ten_accounts() -> Scenario:
    base = small_scenario(seed=31)
    app = base.apps[0]
    accounts = tuple(
        Account(f"178414000000003{i:02d}", 300 + 997 * i, f"EAAtokenC3{i:02d}", app.name)
        for i in range(10)
    )
    return dataclasses.replace(
        base,
        apps=(app,),
        accounts=accounts,
        limits=CAP,
        faults=FaultSettings(rate=0.10),
    )


async def _run(config: Path, kill_after_s: float | None) -> int | None:
    # `ig-collector run` with the budget's usage window shortened as the emulator's is
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.tuned_run", str(config), str(WINDOW_S),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return await asyncio.wait_for(process.wait(), kill_after_s or 150.0)
    except TimeoutError:
        if kill_after_s is None:
            raise
        process.send_signal(signal.SIGKILL)
        await process.wait()
        return None


async def test_a_throttling_cap_with_faults_and_kills_ends_exact_within_two_minutes(
    tmp_path: Path,
) -> None:
    """Budget 3x the cap, probe after 5 s, waits capped at 20 s: exact, once, within 120 s."""
    scenario = ten_accounts()
    # The emulator's clock is the real one (the child's "today" is the real today) and
    # runs, so the cap's window slides; the range ends days ago, so no served value
    # depends on the seconds that pass.
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=102), today - dt.timedelta(days=3)
    clock = FixedClock(now.timestamp(), advancing=True)
    async with running_emulator(scenario, clock=clock) as emulator:
        config = write_config(
            tmp_path / "c.toml",
            scenario,
            emulator.base_url,
            since=first.isoformat(),
            until=last.isoformat(),
            out=tmp_path,
            calls_per_hour=3 * 4 * 3600,
        )
        config.write_text(config.read_text() + "\n[budget]\nprobe_after_s = 5\nmax_wait_s = 20\n")
        started = time.monotonic()
        for kill_after in (6.0, 9.0):
            assert await _run(config, kill_after) is None, "the run ended before its kill"
        assert await _run(config, None) in (0, 1)
        elapsed = time.monotonic() - started
        calls = list(emulator.calls.records())
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    assert_stored_once(tmp_path, truth)
    counted = sorted(c.real for c in calls if c.counted)
    busiest = max(bisect_left(counted, t + WINDOW_S) - i for i, t in enumerate(counted))
    refused = sum(1 for c in calls if c.throttled and c.code == 4)
    print(f"finished in {elapsed:.1f} s, {len(counted)} calls, busiest window {busiest}, "
          f"{refused} refused")  # fmt: skip
    assert busiest >= 0.75 * CAP.app_calls  # the cap, not the budget, bound the pull
    assert elapsed < 120.0
