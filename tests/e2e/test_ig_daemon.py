"""A running daemon refreshes an Instagram Login token and its pulls go on past the old expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import structlog

from collector.config.load import load_config
from collector.daemon.service import Daemon
from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator
from collector.graph.pacific import pacific_date
from tests.e2e.helpers import NOW, expected_points, sqlite_points
from tests.e2e.test_daemon import EmulatorWall, _next_run, _running, _runs
from tests.e2e.test_onboarding import IG_OLD, instagram_config_text, instagram_scenario

DAY = dt.timedelta(days=1)


async def test_a_running_daemon_refreshes_an_instagram_token_and_keeps_pulling(
    tmp_path: Path,
) -> None:
    """At start the daemon refreshes the day-old Instagram token into its file and takes it
    (token_refreshed); two days later, the old token dead, its refresh run is answered in
    full, the fresh days equal the truth, and neither token is in the logs or the outputs."""
    scenario = instagram_scenario()  # the token expires a day after NOW
    emulator_clock = FixedClock(NOW.timestamp())
    token_file = tmp_path / "ig.token"
    token_file.write_text(IG_OLD + "\n")
    async with running_emulator(scenario, clock=emulator_clock) as emu:
        text = instagram_config_text(emu.base_url, tmp_path)
        path = tmp_path / "c.toml"
        path.write_text(
            text + '\n[daemon]\nrefresh_interval = "1h"\nbackfill = "3d"\nmetrics_address = ""\n'
        )
        runs, on_run = _runs()
        daemon = Daemon(
            load_config(path), reload=lambda: load_config(path),
            clock=EmulatorWall(emulator_clock), on_run=on_run, tick_s=0.05,
        )  # fmt: skip
        with structlog.testing.capture_logs() as logs:
            async with _running(daemon):
                first = await _next_run(runs, "refresh")
                emulator_clock.advance(2 * 86_400)  # the old token has expired by now
                daemon.wake()
                second = await _next_run(runs, "refresh")
    new_token = token_file.read_text().strip()
    assert new_token != IG_OLD
    assert [e["event"] for e in logs].count("token_refreshed") == 1
    assert (first.failed, second.failed) == (0, 0) and second.calls > 0
    later = NOW + 2 * DAY
    today = pacific_date(later)
    truth = expected_points(
        scenario, first=today - 3 * DAY, last=today - DAY, today=today, now=later
    )
    stored = sqlite_points(tmp_path / "i.sqlite")
    fresh = {k: v for k, v in stored.items() if k in truth}
    assert fresh == truth  # the complete days the second refresh fetched, value for value
    outputs = repr(logs).encode() + _files(tmp_path)
    assert [t for t in (IG_OLD, new_token) if t.encode() in outputs] == []


def _files(folder: Path) -> bytes:
    """The SQLite file and every NDJSON file the daemon wrote, as bytes."""
    return b"".join(p.read_bytes() for p in (folder / "i.sqlite", *folder.glob("i*.ndjson")))
