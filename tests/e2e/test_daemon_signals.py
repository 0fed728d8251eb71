"""`ig-collector daemon` as a real subprocess: SIGTERM mid-run loses nothing; SIGHUP adds an account."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LatencySettings, Scenario
from collector.emulator.testing import RunningEmulator, running_emulator
from collector.graph.pacific import pacific_date
from collector.planning.schedule import block_start
from tests.e2e.helpers import (
    Key,
    dims_text,
    expected_points,
    small_scenario,
    sqlite_points,
    write_config,
)

pytestmark = pytest.mark.slow

DAY = dt.timedelta(days=1)


def _config(
    path: Path,
    scenario: Scenario,
    emulator: RunningEmulator,
    out: Path,
    daemon: str,
    level: str = "info",
) -> Path:
    write_config(path, scenario, emulator.base_url, since="30d", until="0d", out=out, concurrency=2)
    text = path.read_text().replace('level = "warning"', f'level = "{level}"')
    path.write_text(text + "\n[daemon]\n" + daemon)
    return path


async def _start(config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "IG_COLLECTOR_CRASH_AT"}
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "collector",
            "--log-format",
            "json",
            "daemon",
            "--config",
            str(config),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _events(log: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]


def _ndjson(out: Path) -> tuple[dict[Key, object], int]:
    latest: dict[Key, object] = {}
    lines = 0
    for path in sorted(out.glob("insights.*.ndjson")):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            key = (
                record["account_id"],
                record["metric"],
                record["period"],
                record["end_time"],
                dims_text(record["dimensions"]),
            )
            latest[key] = record["value"]
            lines += 1
    return latest, lines


async def test_sigterm_mid_run_loses_nothing(tmp_path: Path) -> None:
    """SIGTERM during a history run: exit 0, every answered request committed once; a restart completes it."""
    scenario = dataclasses.replace(
        small_scenario(seed=23), latency=LatencySettings(fixed_ms=60, jitter_ms=10)
    )
    now = time.time()
    today = pacific_date(dt.datetime.fromtimestamp(now, dt.UTC))
    db = tmp_path / "insights.sqlite"
    async with running_emulator(scenario, clock=FixedClock(now)) as emulator:
        config = _config(
            tmp_path / "c.toml",
            scenario,
            emulator,
            tmp_path,
            'refresh_interval = "1h"\nbackfill = "75d"\ngrace_s = 10\n',
        )
        daemon = await _start(config, tmp_path / "daemon.log")
        history_done = (
            "SELECT count(*) FROM ledger WHERE key NOT LIKE '%|refresh' AND state = 'done'"
        )
        await _until(
            lambda: bool(_query(db, history_done)) and _query(db, history_done)[0][0] >= 10
        )
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 20) == 0

        answered = [
            c for c in emulator.calls.records() if c.route == Route.INSIGHTS and c.status == 200
        ]
        finished = _query(db, "SELECT count(*) FROM ledger WHERE state IN ('done', 'no_data')")[0][
            0
        ]
        pending = _query(db, "SELECT count(*) FROM ledger WHERE state = 'pending'")[0][0]
        assert pending > 0  # it was stopped mid-run...
        assert finished == len(answered)  # ...and every answer it got is committed
        stored = sqlite_points(db)
        latest, lines = _ndjson(tmp_path)
        assert latest == stored and lines == len(stored)
        first = block_start(today - 75 * DAY)
        truth = expected_points(
            scenario,
            first=first,
            last=today + DAY,
            today=today,
            now=dt.datetime.fromtimestamp(now, dt.UTC),
        )
        assert stored.items() <= truth.items()
        events = [e["event"] for e in _events(tmp_path / "daemon.log")]
        assert "daemon_stopping" in events and events[-1] == "daemon_stopped"

        daemon = await _start(config, tmp_path / "daemon.log")
        await _until(
            lambda: _query(db, "SELECT count(*) FROM ledger WHERE state = 'pending'")[0][0] == 0
        )
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 20) == 0
    stored = sqlite_points(db)
    assert stored == truth
    assert _ndjson(tmp_path) == (truth, len(truth))  # every point exactly once over both lives


async def test_sighup_adds_an_account_and_a_bad_config_is_kept_out(tmp_path: Path) -> None:
    """SIGHUP with a broken config keeps the old one; with an added account it is collected, the rest untouched."""
    scenario = small_scenario()
    two = dataclasses.replace(scenario, accounts=scenario.accounts[:2])
    three = dataclasses.replace(scenario, accounts=(*scenario.accounts[:2], scenario.accounts[3]))
    added = three.accounts[-1]
    db = tmp_path / "insights.sqlite"
    log = tmp_path / "daemon.log"
    refreshed = (
        "SELECT DISTINCT account_id FROM ledger WHERE key LIKE '%|refresh' AND state != 'pending'"
    )
    daemon_keys = 'refresh_interval = "1h"\nbackfill = "0d"\n'
    async with running_emulator(
        scenario, clock=FixedClock(time.time(), advancing=True)
    ) as emulator:
        config = _config(tmp_path / "c.toml", two, emulator, tmp_path, daemon_keys)
        daemon = await _start(config, log)
        await _until(lambda: len(_query(db, refreshed)) == 2)

        good = config.read_text()
        config.write_text(good + "\n[daemon.oops]\n")
        daemon.send_signal(signal.SIGHUP)
        await _until(lambda: "config_reload_failed" in [e["event"] for e in _events(log)])
        assert daemon.returncode is None

        calls_before = len(emulator.calls.records())
        _config(config, three, emulator, tmp_path, daemon_keys)
        daemon.send_signal(signal.SIGHUP)
        await _until(lambda: (added.id,) in _query(db, refreshed))
        await _until(lambda: any(k[0] == added.id for k in sqlite_points(db)))
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 20) == 0
        later = {
            c.account for c in emulator.calls.records()[calls_before:] if c.route == Route.INSIGHTS
        }
    assert later == {added.id}  # the others were fresh: the reload kept their state
    reloads = [e for e in _events(log) if e["event"] == "config_reloaded"]
    assert len(reloads) == 1 and reloads[0]["added"] == 1 and reloads[0]["accounts"] == 3
    failed = next(e for e in _events(log) if e["event"] == "config_reload_failed")
    assert "daemon" in str(failed["detail"])
