"""The daemon in-process against the emulator over HTTP: freshness, revisions, tokens, rotation."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from structlog.testing import capture_logs

from collector.config.load import load_config
from collector.daemon.service import Daemon
from collector.emulator.calllog import Route, fingerprint
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario, TokenInfo
from collector.emulator.testing import RunningEmulator, running_emulator
from collector.engine.summary import RunSummary
from collector.graph.pacific import end_time_date
from collector.planning.schedule import block_start
from tests.e2e.helpers import (
    LEGACY_SERIES,
    NOW,
    TODAY,
    Key,
    dims_text,
    expected_points,
    small_scenario,
    sqlite_points,
    write_config,
)

DAY = dt.timedelta(days=1)


class EmulatorWall:
    """The collector's clock on the emulator's wall time, with real waits: one "now" for both."""

    def __init__(self, emulator_clock: FixedClock) -> None:
        self._clock = emulator_clock

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now(), dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _config(tmp_path: Path, scenario: Scenario, emulator: RunningEmulator, daemon: str) -> Path:
    path = write_config(
        tmp_path / "c.toml", scenario, emulator.base_url, since="30d", until="0d", out=tmp_path
    )
    path.write_text(path.read_text() + "\n[daemon]\n" + daemon)
    return path


@contextlib.asynccontextmanager
async def _running(daemon: Daemon) -> AsyncIterator[asyncio.Task[int]]:
    task = asyncio.create_task(daemon.run())
    try:
        yield task
    finally:
        daemon.request_stop()
        assert await asyncio.wait_for(task, 30) == 0


def _runs() -> tuple[asyncio.Queue[tuple[str, RunSummary]], object]:
    queue: asyncio.Queue[tuple[str, RunSummary]] = asyncio.Queue()
    return queue, lambda kind, summary: queue.put_nowait((kind, summary))


async def _next_run(queue: asyncio.Queue[tuple[str, RunSummary]], kind: str) -> RunSummary:
    while True:
        got, summary = await asyncio.wait_for(queue.get(), 20)
        if got == kind:
            return summary


def _in_dates(
    points: dict[Key, int | float], first: dt.date, last: dt.date
) -> dict[Key, int | float]:
    return {
        k: v
        for k, v in points.items()
        if k[3] is not None
        and first <= end_time_date(k[3]) <= last
        and (k[1], k[2]) in LEGACY_SERIES
    }


def _ndjson_lines(folder: Path) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for path in sorted(folder.glob("insights.*.ndjson")):
        lines += [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return lines


def _key(record: dict[str, object]) -> Key:
    dims = record["dimensions"]
    assert isinstance(dims, dict)
    end = record["end_time"]
    return (
        str(record["account_id"]),
        str(record["metric"]),
        str(record["period"]),
        None if end is None else str(end),
        dims_text(dims),
    )


async def test_data_stays_fresh_while_history_fills(tmp_path: Path) -> None:
    """Refreshing every 2 s on a real-time clock, no account's lag passes 5 s; history equals truth."""
    scenario = small_scenario()
    clock = FixedClock(NOW.timestamp(), advancing=True)
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(
            tmp_path,
            scenario,
            emulator,
            'refresh_interval = "2s"\nbackfill = "45d"\nstats_interval = "1s"\n',
        )
        queue, on_run = _runs()
        daemon = Daemon(load_config(path), clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        lags: list[float] = []
        async with _running(daemon):
            await _next_run(queue, "refresh")
            await _next_run(queue, "history")
            deadline = time.monotonic() + 7
            while time.monotonic() < deadline:
                stats = daemon.stats()
                lags.append(float(stats["lag_max_s"]))  # type: ignore[arg-type]
                await asyncio.sleep(0.2)
            refreshes = 0
            while not queue.empty():
                refreshes += queue.get_nowait()[0] == "refresh"
    assert max(lags) <= 5.0, lags
    assert refreshes >= 2  # it kept refreshing
    first = block_start(TODAY - 45 * DAY)
    truth = expected_points(
        scenario, first=first, last=TODAY - 3 * DAY, today=TODAY, now=NOW, pairs=LEGACY_SERIES
    )
    stored = _in_dates(sqlite_points(tmp_path / "insights.sqlite"), first, TODAY - 3 * DAY)
    assert stored == truth
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        pending = db.execute("SELECT count(*) FROM ledger WHERE state = 'pending'").fetchone()[0]
        newest = db.execute(
            "SELECT min(m) FROM (SELECT max(end_time) AS m FROM insights"
            " WHERE metric = 'impressions' AND period = 'day' GROUP BY account_id)"
        ).fetchone()[0]
    assert pending == 0
    assert end_time_date(newest) == TODAY + DAY  # every account has today's partial value


async def test_revisions_appear_exactly_when_the_emulator_revises(tmp_path: Path) -> None:
    """Stepping the clock, each refresh writes exactly the points whose served value changed."""
    scenario = small_scenario(seed=31)
    clock = FixedClock(NOW.timestamp())  # 12:00 Pacific; moved by hand below
    fresh_first, fresh_last = TODAY - 2 * DAY, TODAY + DAY
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(tmp_path, scenario, emulator, 'refresh_interval = "10m"\nbackfill = "0d"\n')
        queue, on_run = _runs()
        daemon = Daemon(load_config(path), clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        seen: dict[Key, int | float] = {}
        read = 0
        changed_by_step: list[set[dt.date]] = []
        async with _running(daemon):
            for step_s in (0, 20 * 60, 41 * 60):  # T0, +20 min (same hour), +61 min (next hour)
                clock.advance(step_s)
                daemon.wake()
                await _next_run(queue, "refresh")
                now = dt.datetime.fromtimestamp(clock.now(), dt.UTC)
                truth = expected_points(
                    scenario,
                    first=fresh_first,
                    last=fresh_last,
                    today=TODAY,
                    now=now,
                    pairs=LEGACY_SERIES,
                )
                stored = _in_dates(
                    sqlite_points(tmp_path / "insights.sqlite"), fresh_first, fresh_last
                )
                assert stored == truth
                lines = _ndjson_lines(tmp_path)
                new = {_key(r): r["value"] for r in lines[read:] if r["end_time"] is not None}
                read = len(lines)
                expected_new = {k: v for k, v in truth.items() if seen.get(k) != v}
                assert _in_dates(new, fresh_first, fresh_last) == expected_new  # type: ignore[arg-type]
                changed_by_step.append({end_time_date(k[3]) for k in expected_new if k[3]})
                seen.update(truth)
    partial, revised, final = TODAY + DAY, {TODAY, TODAY - DAY}, TODAY - 2 * DAY
    assert changed_by_step[1] == {partial}  # within the hour only today's partial value grows
    assert revised <= changed_by_step[2] and final not in changed_by_step[2]


async def test_dead_token_pauses_its_account_until_a_reload_replaces_it(tmp_path: Path) -> None:
    """An expired token is reported and never sent; after a reload with a new token the account is collected."""
    base = small_scenario()
    expired, expiring = base.accounts[3], base.accounts[0]
    scenario = dataclasses.replace(
        base,
        tokens=(
            TokenInfo(expired.token, expired.app, expires_at=NOW.timestamp() - 86400),
            TokenInfo(expiring.token, expiring.app, expires_at=NOW.timestamp() + 2 * 86400),
        ),
    )
    clock = FixedClock(NOW.timestamp(), advancing=True)
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(tmp_path, scenario, emulator, 'refresh_interval = "1h"\nbackfill = "0d"\n')
        queue, on_run = _runs()
        new_config: list[Path] = []
        daemon = Daemon(
            load_config(path),
            reload=lambda: load_config(new_config[0]),
            clock=EmulatorWall(clock),
            tick_s=0.05,
            on_run=on_run,  # type: ignore[arg-type]
        )
        with capture_logs() as logs:
            async with _running(daemon):
                await _next_run(queue, "refresh")
                assert daemon.paused_accounts == [expired.id]
                assert daemon.stats()["paused_accounts"] == 1
                sent_with = {
                    c.token_fp for c in emulator.calls.records() if c.route == Route.INSIGHTS
                }
                assert fingerprint(expired.token) not in sent_with
                # The owner renews the token: Meta now knows it, and so does the config.
                renewed = dataclasses.replace(expired, token="EAArenewedB201")
                emulator.state.scenario = dataclasses.replace(
                    scenario,
                    accounts=tuple(renewed if a.id == expired.id else a for a in scenario.accounts),
                )
                new_config.append(tmp_path / "renewed.toml")
                new_config[0].write_text(path.read_text().replace(expired.token, renewed.token))
                daemon.request_reload()
                summary = await _next_run(queue, "refresh")
                assert daemon.paused_accounts == []
    events = {(e["event"], e.get("app")) for e in logs}
    assert ("token_invalid", expired.app) in events and ("token_expiring", expiring.app) in events
    assert summary.done > 0
    assert any(k[0] == expired.id for k in sqlite_points(tmp_path / "insights.sqlite"))


async def test_ndjson_rotates_by_day_and_the_store_knows_each_file(tmp_path: Path) -> None:
    """Crossing UTC midnight starts a new NDJSON file; ndjson_files lists both with their committed sizes."""
    scenario = small_scenario()
    clock = FixedClock(dt.datetime(2025, 11, 20, 23, 50, tzinfo=dt.UTC).timestamp())
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(tmp_path, scenario, emulator, 'refresh_interval = "10m"\nbackfill = "0d"\n')
        queue, on_run = _runs()
        daemon = Daemon(load_config(path), clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        async with _running(daemon):
            await _next_run(queue, "refresh")
            clock.advance(20 * 60)  # 00:10 UTC on Nov 21
            daemon.wake()
            await _next_run(queue, "refresh")
    day1, day2 = tmp_path / "insights.2025-11-20.ndjson", tmp_path / "insights.2025-11-21.ndjson"
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        files = dict(db.execute("SELECT path, committed_offset FROM ndjson_files").fetchall())
    assert files == {str(day1): day1.stat().st_size, str(day2): day2.stat().st_size}
    assert day1.stat().st_size > 0 and day2.stat().st_size > 0
    latest: dict[Key, object] = {}
    for record in _ndjson_lines(tmp_path):
        latest[_key(record)] = record["value"]
    assert latest == sqlite_points(tmp_path / "insights.sqlite")  # latest line per key wins


async def test_a_failing_run_is_reported_and_the_daemon_carries_on(tmp_path: Path) -> None:
    """An NDJSON file the store cannot vouch for fails each run with run_failed; the daemon still stops cleanly."""
    scenario = small_scenario()
    clock = FixedClock(NOW.timestamp(), advancing=True)
    (tmp_path / f"insights.{NOW.date().isoformat()}.ndjson").write_text('{"not": "ours"}\n')
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(tmp_path, scenario, emulator, 'refresh_interval = "1s"\nbackfill = "0d"\n')
        daemon = Daemon(load_config(path), clock=EmulatorWall(clock), tick_s=0.05)
        with capture_logs() as logs:
            async with _running(daemon) as task:
                await asyncio.sleep(1.0)
                assert not task.done()
    failures = [e for e in logs if e["event"] == "run_failed"]
    assert failures and "SinkMismatchError" in str(failures[0]["error"])
    assert not [c for c in emulator.calls.records() if c.route == Route.INSIGHTS]
