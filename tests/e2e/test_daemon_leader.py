"""Two daemons on one PostgreSQL store: one schedules, and when it is killed the other does."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import signal
import time
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LatencySettings
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import expected_points, small_scenario
from tests.e2e.stores import StoreProbe
from tests.e2e.test_daemon_signals import _config, _events, _start, _until

pytestmark = pytest.mark.slow

DAY = dt.timedelta(days=1)


def _refresh_jobs(probe: StoreProbe) -> int:
    return int(str(probe.rows("SELECT count(*) FROM jobs WHERE kind = 'refresh'")[0][0]))


def _scheduled(log: Path) -> int:
    """How many refresh runs this daemon started (only the leader schedules them)."""
    return sum(
        1 for e in _events(log) if e["event"] == "run_started" and e.get("work") == "refresh"
    )


async def test_when_the_leading_daemon_is_killed_another_keeps_the_schedule(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    """Of two daemons on one store only the leader enqueues refreshes; SIGKILL it and the
    other takes the lease within a minute and goes on refreshing, every point stored once."""
    scenario = dataclasses.replace(
        small_scenario(seed=47), latency=LatencySettings(fixed_ms=10, jitter_ms=5)
    )
    now = time.time()
    today = pacific_date(dt.datetime.fromtimestamp(now, dt.UTC))
    probe = StoreProbe(tmp_path / "unused.sqlite", pg_url, pg_schema)
    async with running_emulator(scenario, clock=FixedClock(now)) as emulator:
        config = _config(
            tmp_path / "c.toml", scenario, emulator, tmp_path,
            'refresh_interval = "2s"\nbackfill = "3d"\ngrace_s = 5\n',
        )  # fmt: skip
        config.write_text(config.read_text() + probe.config)
        first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
        first = await _start(config, first_log)
        await _until(lambda: any(e["event"] == "leader_acquired" for e in _events(first_log)))
        second = await _start(config, second_log)
        await _until(lambda: _refresh_jobs(probe) >= 3, timeout=60)
        assert _scheduled(second_log) == 0  # the second daemon works, but does not schedule
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = time.monotonic()
        await _until(
            lambda: any(e["event"] == "leader_acquired" for e in _events(second_log)), timeout=60
        )
        taken_over_s = time.monotonic() - killed_at
        before = _refresh_jobs(probe)
        await _until(lambda: _refresh_jobs(probe) >= before + 2, timeout=60)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    assert taken_over_s < 60
    assert _scheduled(second_log) >= 2
    stored = probe.points()  # a duplicate identity fails here
    truth = expected_points(
        scenario, first=today - 60 * DAY, last=today + DAY, today=today,
        now=dt.datetime.fromtimestamp(now, dt.UTC),
    )  # fmt: skip
    assert stored and stored.items() <= truth.items()
