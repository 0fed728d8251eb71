"""export and report read a PostgreSQL store as they read SQLite: a pull there, exported, is the truth."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest

from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.testing import emulator_in_thread
from collector.engine.run import run_once
from collector.graph.pacific import pacific_date
from tests.e2e.delivery import cli
from tests.e2e.helpers import expected_points, small_scenario, write_config
from tests.e2e.stores import StoreProbe
from tests.e2e.test_export import long_points, read_back

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_postgres_pull_exports_the_truth_point_for_point(
    tmp_path: Path, pg_url: str, pg_schema: str, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A pull into PostgreSQL, exported through --config, holds every point once with the
    truth's value; the report of one of its accounts renders from the same store."""
    scenario = small_scenario(seed=53)
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    today = pacific_date(now)
    first, last = today - dt.timedelta(days=20), today - dt.timedelta(days=1)
    with emulator_in_thread(scenario, clock=FixedClock(now.timestamp())) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since=first.isoformat(),
            until=last.isoformat(), out=tmp_path,
        )  # fmt: skip
        config.write_text(config.read_text() + StoreProbe(tmp_path, pg_url, pg_schema).config)
        summary = asyncio.run(run_once(load_config(config)))
    assert summary.failed == 0
    out = tmp_path / f"long.{fmt}"
    code, _out, err = cli(
        capsys, "export", "--config", str(config), "--format", fmt, "--out", str(out)
    )
    assert (code, err) == (0, "")
    truth = expected_points(scenario, first=first, last=last, today=today, now=now)
    assert long_points(read_back(out, fmt)) == truth
    report = tmp_path / "r.html"
    account = scenario.accounts[0].id
    code, _out, err = cli(
        capsys, "report", "--config", str(config), "--account", account,
        "--since", (first - dt.timedelta(days=1)).isoformat(), "--until", last.isoformat(),
        "--out", str(report),
    )  # fmt: skip
    assert (code, err) == (0, "") and "<svg" in report.read_text()
