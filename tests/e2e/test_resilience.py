"""Pulls that meet trouble: retired metrics, dead tokens, and every fault at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import structlog

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.calllog import CallRecord
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import (
    FAULT_KINDS,
    FaultSettings,
    Scenario,
    ScheduledFault,
    TokenInfo,
)
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from collector.engine.summary import RunSummary
from collector.pacing.retry import RetryPolicy
from collector.pacing.settings import BudgetSettings
from tests.e2e.helpers import (
    AUDIENCE,
    LEGACY_SERIES,
    NOW,
    TODAY,
    expected_points,
    ledger_states,
    ndjson_points,
    small_scenario,
    sqlite_points,
    write_config,
)

FIRST, LAST = dt.date(2025, 10, 1), dt.date(2025, 11, 19)


# The emulator's faults claim 100 % usage; real pauses (minutes) are scaled to tenths of seconds.
# Meta's minute is 0.1 s here; the probe's first wait 0.3 s.
def fast_budgets(settings: BudgetSettings) -> BudgetSettings:
    return dataclasses.replace(settings, probe_after_s=0.3, max_wait_s=1.0, minute_s=0.1)


FAST_RETRIES = RetryPolicy(base_delay_s=0.01, max_delay_s=0.2, throttle_pause_s=0.4, max_attempts=8)


async def _pull(
    scenario: Scenario, out: Path, *, timeout_s: float = 5, policy: RetryPolicy = FAST_RETRIES
) -> tuple[RunSummary, list[CallRecord]]:
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        path = write_config(
            out / "c.toml",
            scenario,
            emulator.base_url,
            since=FIRST.isoformat(),
            until=LAST.isoformat(),
            out=out,
        )
        path.write_text(path.read_text().replace("timeout_s = 5", f"timeout_s = {timeout_s}"))
        config = load_config(path)
        summary = await run_once(
            config,
            clock=FixedWallClock(NOW),
            policy=policy,
            tune_budgets=fast_budgets,
        )
        return summary, list(emulator.calls.records())


async def test_retired_metric_costs_only_that_metric(tmp_path: Path) -> None:
    """profile_views refused by the API: every other metric is collected exactly, it is reported."""
    scenario = dataclasses.replace(small_scenario(), retired_metrics=("profile_views",))
    summary, _calls = await _pull(scenario, tmp_path)
    pairs = [p for p in LEGACY_SERIES + AUDIENCE if p[0] != "profile_views"]
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW, pairs=pairs)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    assert set(summary.rejected_metrics) == {f"{a.id}:profile_views" for a in scenario.accounts}
    assert summary.exit_code == 1
    assert summary.failed == 0  # no request failed: each lost only its one metric


async def test_expired_token_stops_its_account_and_reports_once(tmp_path: Path) -> None:
    """A token that expired yesterday fails its account once; every other account is exact."""
    base = small_scenario()
    dead = base.accounts[1]
    scenario = dataclasses.replace(
        base,
        tokens=(TokenInfo(dead.token, dead.app, expires_at=NOW.timestamp() - 86400),),
    )
    with structlog.testing.capture_logs() as events:
        summary, _calls = await _pull(scenario, tmp_path)
    others = [a.id for a in scenario.accounts if a.id != dead.id]
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW, accounts=others)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    assert summary.failed_accounts == {dead.id: "token_invalid"}
    assert [e["event"] for e in events].count("token_invalid") == 1
    assert summary.exit_code == 1


async def test_every_fault_at_once_ends_exactly_once(tmp_path: Path) -> None:
    """With 15% of calls faulted by every kind, both sinks still equal ground truth, once."""
    scenario = dataclasses.replace(
        small_scenario(seed=31),
        faults=FaultSettings(
            rate=0.15,
            kinds=FAULT_KINDS,
            slow_s=2.0,
            # and each kind at least once, at known call numbers
            schedule=tuple(ScheduledFault(5 + 6 * i, kind) for i, kind in enumerate(FAULT_KINDS)),
        ),
    )
    summary, calls = await _pull(scenario, tmp_path, timeout_s=0.5)
    faulted = [c for c in calls if c.fault]
    assert len(faulted) >= 0.10 * len(calls)
    assert {c.fault for c in faulted} == set(FAULT_KINDS)
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    points, lines = ndjson_points(tmp_path / "insights.ndjson")
    assert points == truth
    assert lines == len(truth)
    assert summary.failed == 0
    assert ledger_states(tmp_path / "insights.sqlite").keys() <= {"done", "no_data"}
    assert sum(summary.retries.values()) >= len(faulted)  # every faulted call was retried


async def test_deadline_ends_a_hopeless_run_with_reasons(tmp_path: Path) -> None:
    """When every call fails transiently, the run deadline stops retrying and names the cause."""
    scenario = dataclasses.replace(
        small_scenario(), faults=FaultSettings(rate=1.0, kinds=("transient_1",))
    )
    patient = RetryPolicy(base_delay_s=0.05, max_delay_s=0.2, max_attempts=10_000)
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        config = load_config(
            write_config(
                tmp_path / "c.toml",
                scenario,
                emulator.base_url,
                since="2025-11-01",
                until="2025-11-10",
                out=tmp_path,
                metrics=("reach",),
            )
        )
        summary = await run_once(config, clock=FixedWallClock(NOW), policy=patient, deadline_s=1.0)
    planned = 3 * len(scenario.accounts)  # reach by day, week and days_28
    assert summary.failed == summary.planned == planned
    assert summary.failures == {"deadline (transient)": planned}
    assert summary.duration_s < 10
