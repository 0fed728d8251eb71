"""Many processes on one store: workers, an on-demand pull, SIGKILLs and faults end exact, once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings, LatencySettings, Scenario
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import (
    expected_points,
    ledger_states,
    small_scenario,
    sqlite_points,
    write_config,
)

pytestmark = pytest.mark.slow

QUEUE = "\n[store]\nlease_s = 3\npoll_s = 0.2\n"


def _scenario(seed: int) -> Scenario:
    return dataclasses.replace(
        small_scenario(seed=seed),
        latency=LatencySettings(fixed_ms=40, jitter_ms=20),
        faults=FaultSettings(rate=0.10),
    )


async def _cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector", "--log-format", "json", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def _job_states(store: Path) -> dict[int, int]:
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT jr.job_id, count(*) FROM job_requests AS jr JOIN ledger AS l ON l.key = jr.key"
            " WHERE l.state = 'pending' GROUP BY jr.job_id"
        ).fetchall()
    return dict(rows)


async def test_three_workers_and_a_waiting_pull_survive_five_kills_exact_once(
    tmp_path: Path,
) -> None:
    """Three workers and `pull --wait` with 10 % faults and five SIGKILLed workers store
    the emulator's truth, each point once, and leave nothing pending."""
    scenario = _scenario(37)
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=99), today - dt.timedelta(days=1)
    rng = random.Random(5)
    async with running_emulator(scenario, clock=FixedClock(now.timestamp())) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since=first.isoformat(),
            until=last.isoformat(), out=tmp_path, concurrency=2,
        )  # fmt: skip
        config.write_text(config.read_text() + QUEUE)
        workers = [await _cli("worker", "--config", str(config)) for _ in range(3)]
        pull = await _cli("pull", "--config", str(config), "--wait", "--poll", "0.3")
        kills = 0
        while kills < 5 and pull.returncode is None:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            await workers[victim].wait()
            workers[victim] = await _cli("worker", "--config", str(config))
            kills += 1
        out, err = await asyncio.wait_for(pull.communicate(), 240)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(w.wait(), 60) for w in workers]
        calls = [c for c in emulator.calls.records() if c.counted]
    assert kills == 5, "the pull ended before five workers were killed"
    assert pull.returncode == 0, err.decode()[-2000:]
    assert codes == [0, 0, 0]  # SIGTERM drains and exits 0
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    store = tmp_path / "insights.sqlite"
    assert sqlite_points(store) == truth  # every point once (duplicates raise)
    assert ledger_states(store).keys() <= {"done", "no_data"}
    assert _job_states(store) == {}
    job = int(out.decode().split()[0])
    assert job == 1
    assert len(calls) >= sum(ledger_states(store).values())
