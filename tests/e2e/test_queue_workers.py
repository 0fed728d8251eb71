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
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings, LatencySettings, Scenario
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from collector.reporting.export.follow import read_state
from tests.e2e.helpers import (
    expected_points,
    ndjson_points,
    small_scenario,
    sqlite_points,
    write_config,
)
from tests.e2e.stores import StoreProbe

pytestmark = pytest.mark.slow

QUEUE = "\n[store]\nlease_s = 3\npoll_s = 0.2\n"


def _scenario(seed: int) -> Scenario:
    return dataclasses.replace(
        small_scenario(seed=seed),
        latency=LatencySettings(fixed_ms=40, jitter_ms=20),
        faults=FaultSettings(rate=0.10),
    )


async def _cli(*args: str, read: bool = False) -> asyncio.subprocess.Process:
    """Start ``ig-collector ARGS``; with ``read`` its output is piped for the test to read
    (others' go nowhere: an unread pipe that fills would stall the process)."""
    out = asyncio.subprocess.PIPE if read else asyncio.subprocess.DEVNULL
    started = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector", "--log-format", "json", *args, stdout=out, stderr=out,
    )  # fmt: skip
    _STARTED.append(started)
    return started


_STARTED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
async def _reap() -> AsyncIterator[None]:
    """Whatever a test started ends with it, its pipes closed, even when the test fails."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def _alive(store: StoreProbe, workers: list[asyncio.subprocess.Process]) -> None:
    """Wait until every worker has sent a heartbeat (its signal handlers are in place)."""
    deadline = time.monotonic() + 60
    while not {w.pid for w in workers} <= _heartbeats(store):
        assert time.monotonic() < deadline, "a worker never started"
        await asyncio.sleep(0.1)


def _heartbeats(store: StoreProbe) -> set[int]:
    """The pids with a heartbeat row (none while no worker has created the tables yet)."""
    import psycopg

    try:
        return {int(str(pid)) for (pid,) in store.rows("SELECT pid FROM workers")}
    except (sqlite3.OperationalError, psycopg.Error):
        return set()


FOLLOW = ("export", "--format", "ndjson", "--follow", "--poll", "0.2", "--out")


async def _caught_up(stream: Path, store: StoreProbe, timeout: float = 60.0) -> None:
    """Wait until the follower's checkpoint has reached the store's last commit."""
    last = store.last_seq()
    deadline = time.monotonic() + timeout
    while read_state(stream).seq < last:
        assert time.monotonic() < deadline, "the follower did not catch up"
        await asyncio.sleep(0.1)


async def test_three_workers_and_a_waiting_pull_survive_five_kills_exact_once(
    tmp_path: Path, store_probe: StoreProbe
) -> None:
    """Three workers and `pull --wait` with 10 % faults and five SIGKILLed workers store
    the emulator's truth, each point once, and leave nothing pending."""
    scenario = _scenario(37)
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=99), today - dt.timedelta(days=1)
    rng = random.Random(5)
    stream = tmp_path / "stream.ndjson"
    async with running_emulator(scenario, clock=FixedClock(now.timestamp())) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since=first.isoformat(),
            until=last.isoformat(), out=tmp_path, concurrency=2,
        )  # fmt: skip
        config.write_text(config.read_text() + store_probe.config)
        workers = [await _cli("worker", "--config", str(config)) for _ in range(3)]
        await _alive(store_probe, workers)
        pull = await _cli("pull", "--config", str(config), "--wait", "--poll", "0.3", read=True)
        follower = await _cli(*FOLLOW, str(stream), "--config", str(config))
        kills = 0
        while kills < 5 and pull.returncode is None:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            await workers[victim].wait()
            workers[victim] = await _cli("worker", "--config", str(config))
            kills += 1
            if kills == 2:  # the NDJSON follower dies too, and resumes from its checkpoint
                follower.send_signal(signal.SIGKILL)
                await follower.wait()
                follower = await _cli(*FOLLOW, str(stream), "--config", str(config))
        out, err = await asyncio.wait_for(pull.communicate(), 240)
        await _alive(store_probe, workers)  # a worker restarted last is up before its SIGTERM
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(w.wait(), 60) for w in workers]
        calls = [c for c in emulator.calls.records() if c.counted]
    await _caught_up(stream, store_probe)
    follower.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(follower.wait(), 30) == 0
    assert kills == 5, "the pull ended before five workers were killed"
    assert pull.returncode == 0, err.decode()[-2000:]
    assert codes == [0, 0, 0]  # SIGTERM drains and exits 0
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    assert store_probe.points() == truth  # every point once (duplicates raise)
    assert ndjson_points(stream) == (truth, len(truth))  # the followed NDJSON: each point once
    assert store_probe.ledger_states().keys() <= {"done", "no_data"}
    assert store_probe.pending_by_job() == {}
    assert int(out.decode().split()[0]) == 1  # the pull's job id
    assert len(calls) >= sum(store_probe.ledger_states().values())


async def test_three_workers_on_one_app_send_at_its_rate_between_them(tmp_path: Path) -> None:
    """Three workers at calls_per_hour N draw from one schedule: over any span of the
    emulator's call log an app's calls fit N an hour (one slot of slack), not 3 N."""
    scenario = dataclasses.replace(
        small_scenario(seed=43), latency=LatencySettings(fixed_ms=5, jitter_ms=5)
    )
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=99), today - dt.timedelta(days=1)
    per_hour = 14_400  # four a second per app
    async with running_emulator(scenario, clock=FixedClock(now.timestamp())) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since=first.isoformat(),
            until=last.isoformat(), out=tmp_path, concurrency=2, calls_per_hour=per_hour,
        )  # fmt: skip
        config.write_text(config.read_text() + QUEUE)
        workers = [await _cli("worker", "--config", str(config)) for _ in range(3)]
        await _alive(StoreProbe(tmp_path / "insights.sqlite"), workers)
        pull = await _cli("pull", "--config", str(config), "--wait", "--poll", "0.3", read=True)
        _out, err = await asyncio.wait_for(pull.communicate(), 240)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [await asyncio.wait_for(w.wait(), 60) for w in workers] == [0, 0, 0]
        calls = [c for c in emulator.calls.records() if c.counted]
    assert pull.returncode == 0, err.decode()[-2000:]
    interval = 3600 / per_hour
    for app in ("app-a", "app-b"):
        times = sorted(c.real for c in calls if c.app == app)
        assert len(times) > 16  # more than the 8 claims one worker holds per app
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                # calls i..j used j - i + 1 distinct slots an interval apart; each call goes
                # no earlier than its slot and at most an interval after it; the emulator
                # stamps arrival (one more interval for loopback jitter on a busy machine).
                # Unshared, three workers would send three calls an interval.
                assert j - i + 1 <= (times[j] - times[i]) / interval + 3 + 1e-6, (app, i, j)
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
