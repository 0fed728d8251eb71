"""A whole pull against the emulator over HTTP, compared with its ground truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from tests.e2e.helpers import (
    NOW,
    TODAY,
    expected_points,
    ledger_states,
    ndjson_points,
    small_scenario,
    sqlite_points,
    write_config,
)

FIRST, LAST = dt.date(2025, 9, 25), TODAY  # 57 end_time dates, across the November DST change


@pytest.fixture
async def pulled(tmp_path: Path):  # type: ignore[no-untyped-def]
    """One full pull of the small scenario, with the emulator's call log."""
    scenario = small_scenario()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        config = load_config(
            write_config(
                tmp_path / "c.toml",
                scenario,
                emulator.base_url,
                since=FIRST.isoformat(),
                until=LAST.isoformat(),
                out=tmp_path,
            )
        )
        summary = await run_once(config, clock=FixedWallClock(NOW))
        yield scenario, config, summary, emulator, tmp_path


async def test_full_pull_equals_ground_truth_in_sqlite(pulled) -> None:  # type: ignore[no-untyped-def]
    """Every point the emulator serves for the range is in SQLite with its exact value, nothing else."""
    scenario, _config, summary, _emulator, out = pulled
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW)
    assert summary.failed == 0
    assert sqlite_points(out / "insights.sqlite") == truth


async def test_full_pull_equals_ground_truth_in_ndjson_exactly_once(pulled) -> None:  # type: ignore[no-untyped-def]
    """The NDJSON file holds every ground-truth point once, one line per point."""
    scenario, _config, _summary, _emulator, out = pulled
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW)
    points, lines = ndjson_points(out / "insights.ndjson")
    assert points == truth
    assert lines == len(truth)


async def test_pull_sends_exactly_the_plan(pulled) -> None:  # type: ignore[no-untyped-def]
    """Without faults, the requests sent equal the plan and the emulator saw each one."""
    _scenario, _config, summary, emulator, _out = pulled
    assert summary.calls == summary.planned
    assert len(emulator.calls.records()) == summary.planned


async def test_under_100_followers_is_no_data_not_zero(pulled) -> None:  # type: ignore[no-untyped-def]
    """The 47-follower account has no gated points at all, and its gated requests are no_data."""
    _scenario, _config, summary, _emulator, out = pulled
    points = sqlite_points(out / "insights.sqlite")
    gated = {
        "follower_count",
        "online_followers",
        "audience_city",
        "audience_country",
        "audience_locale",
        "audience_gender_age",
    }
    small = {key[1] for key in points if key[0] == "17841400000000103"}
    assert small and not (small & gated)
    assert summary.no_data > 0
    assert ledger_states(out / "insights.sqlite").get("failed", 0) == 0


async def test_dst_change_gives_each_day_once(pulled) -> None:  # type: ignore[no-untyped-def]
    """Around the 2025-11-02 change, end_times move from 07:00Z to 08:00Z with no gap or repeat."""
    _scenario, _config, _summary, _emulator, out = pulled
    points = sqlite_points(out / "insights.sqlite")
    end_times = sorted(
        key[3]
        for key in points
        if key[:3] == ("17841400000000102", "impressions", "day")
        and key[3] is not None
        and "2025-10-30" <= key[3][:10] <= "2025-11-05"
    )
    assert end_times == [
        "2025-10-30T07:00:00Z",
        "2025-10-31T07:00:00Z",
        "2025-11-01T07:00:00Z",
        "2025-11-02T07:00:00Z",
        "2025-11-03T08:00:00Z",
        "2025-11-04T08:00:00Z",
        "2025-11-05T08:00:00Z",
    ]


async def test_rerun_sends_nothing_and_writes_nothing(pulled) -> None:  # type: ignore[no-untyped-def]
    """Running the same command again resumes: every request is finished, so none is sent."""
    _scenario, config, _summary, emulator, out = pulled
    before = (out / "insights.ndjson").read_bytes()
    calls_before = len(emulator.calls.records())
    again = await run_once(config, clock=FixedWallClock(NOW))
    assert again.calls == 0
    assert again.skipped_finished == again.planned
    assert len(emulator.calls.records()) == calls_before
    assert (out / "insights.ndjson").read_bytes() == before


async def test_batch_mode_pull_equals_ground_truth(tmp_path: Path) -> None:
    """With batch_size 50 and 20% null batch items, the pull is still exact, in fewer POSTs."""
    scenario = dataclasses.replace(small_scenario(), faults=FaultSettings(batch_null_rate=0.2))
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        path = write_config(
            tmp_path / "c.toml",
            scenario,
            emulator.base_url,
            since=FIRST.isoformat(),
            until=LAST.isoformat(),
            out=tmp_path,
            concurrency=32,
            extra_graph="batch_size = 50",
        )
        summary = await run_once(load_config(path), clock=FixedWallClock(NOW))
        items = [c for c in emulator.calls.records() if c.route == Route.BATCH_ITEM]
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW)
    assert summary.failed == 0
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    assert ndjson_points(tmp_path / "insights.ndjson") == (truth, len(truth))
    assert len(items) > summary.planned  # every request went as a batch item; nulls were resent
    assert emulator.state.requests < len(items) / 5  # ...in far fewer HTTP requests
