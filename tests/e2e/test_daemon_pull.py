"""A daemon and an on-demand `pull` on one SQLite file: the pull goes first, all ends exact, once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import signal
import sys
import time
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LatencySettings
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import expected_points, small_scenario, sqlite_points
from tests.e2e.test_daemon_signals import _config, _ndjson, _query, _start, _until

pytestmark = pytest.mark.slow

DAY = dt.timedelta(days=1)


async def test_a_pull_beside_a_running_daemon_is_worked_by_it_exact_once(tmp_path: Path) -> None:
    """`pull --wait` on a running daemon's SQLite file is worked by the daemon: the pulled
    range equals the truth, and the NDJSON file holds every stored point once."""
    scenario = dataclasses.replace(
        small_scenario(seed=41), latency=LatencySettings(fixed_ms=20, jitter_ms=10)
    )
    now = time.time()
    today = pacific_date(dt.datetime.fromtimestamp(now, dt.UTC))
    db = tmp_path / "insights.sqlite"
    first, last = today - 60 * DAY, today - 31 * DAY
    async with running_emulator(scenario, clock=FixedClock(now)) as emulator:
        config = _config(
            tmp_path / "c.toml", scenario, emulator, tmp_path,
            'refresh_interval = "1h"\nbackfill = "5d"\ngrace_s = 10\n',
        )  # fmt: skip
        daemon = await _start(config, tmp_path / "daemon.log")
        refreshed = "SELECT count(*) FROM ledger WHERE key LIKE '%|refresh' AND state = 'done'"
        await _until(lambda: bool(_query(db, refreshed)) and _query(db, refreshed)[0][0] > 0)
        pull = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "collector", "--log-format", "json", "pull",
            "--config", str(config), "--since", first.isoformat(), "--until", last.isoformat(),
            "--wait", "--poll", "0.3",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(pull.communicate(), 120)
        assert pull.returncode == 0, err.decode()[-2000:]
        assert b'"job_progress"' in err and b'"run_started"' not in err  # the daemon worked it
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 30) == 0
    stored = sqlite_points(db)
    latest, lines = _ndjson(tmp_path)
    assert latest == stored and lines == len(stored)  # the daemon's NDJSON: each point once
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    pulled = expected_points(scenario, first=first, last=last, today=today, now=moment)
    assert pulled.items() <= stored.items()  # the whole pulled range, value for value
    everything = expected_points(scenario, first=first, last=today + DAY, today=today, now=moment)
    assert stored.items() <= everything.items()
    job = int(out.decode().split()[0])
    pending = _query(
        db,
        "SELECT count(*) FROM job_requests AS jr JOIN ledger AS l ON l.key = jr.key"
        f" WHERE jr.job_id = {job} AND l.state = 'pending'",
    )
    assert pending == [(0,)]
