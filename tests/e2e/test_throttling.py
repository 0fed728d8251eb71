"""Against an emulator that enforces its allowances: stay under them, and pause only who must."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.calllog import CallRecord
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import LimitSettings, Scenario
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from collector.engine.runtime import Tune
from collector.engine.summary import RunSummary
from collector.pacing.retry import RetryPolicy
from collector.pacing.settings import BudgetSettings
from tests.e2e.helpers import (
    NOW,
    TODAY,
    expected_points,
    small_scenario,
    sqlite_points,
    write_config,
)

FIRST, LAST = TODAY - dt.timedelta(days=89), TODAY - dt.timedelta(days=3)
METRICS = ("reach", "impressions", "follower_count")
PAIRS = (("reach", "day"), ("impressions", "day"), ("follower_count", "day"))
RETRIES = RetryPolicy(base_delay_s=0.05, max_delay_s=0.5, throttle_pause_s=1.0)


async def _pull(
    scenario: Scenario,
    out: Path,
    *,
    calls_per_hour: float,
    budgets: Tune,
    concurrency: int = 8,
    since: dt.date = FIRST,
) -> tuple[RunSummary, list[CallRecord]]:
    # The emulator's clock runs, so its rate windows slide; the range ends days ago,
    # so no served value depends on the seconds that pass.
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp(), advancing=True)) as emu:
        path = write_config(
            out / "c.toml",
            scenario,
            emu.base_url,
            since=since.isoformat(),
            until=LAST.isoformat(),
            out=out,
            metrics=METRICS,
            calls_per_hour=int(calls_per_hour),
            concurrency=concurrency,
        )
        path.write_text(path.read_text().replace("[collect]\n", '[collect]\nperiods = ["day"]\n'))
        summary = await run_once(
            load_config(path),
            clock=FixedWallClock(NOW),
            policy=RETRIES,
            tune_budgets=budgets,
        )
        return summary, list(emu.calls.records())


def _max_in_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


APP_LIMITED = LimitSettings(app_calls=8, app_window_s=2.0)  # 4 calls/s = 14,400 an hour


def _scaled(*, minute_s: float = 1.0, usage_window_s: float = 3600.0) -> Tune:
    # Meta's minute and hour shrunk to the emulator's windows; probes after 0.5 s.
    def tune(settings: BudgetSettings) -> BudgetSettings:
        return dataclasses.replace(
            settings,
            probe_after_s=0.5,
            max_wait_s=2.0,
            minute_s=minute_s,
            usage_window_s=usage_window_s,
        )

    return tune


SCALED = _scaled(usage_window_s=APP_LIMITED.app_window_s)


async def test_app_allowance_is_never_exceeded(tmp_path: Path) -> None:
    """With calls_per_hour at 90% of the emulator's allowance, no call is refused or over it."""
    scenario = dataclasses.replace(small_scenario(), limits=APP_LIMITED)
    summary, calls = await _pull(scenario, tmp_path, calls_per_hour=0.9 * 14_400, budgets=SCALED)
    by_app: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if call.counted and call.app:
            by_app[call.app].append(call.real)
    assert max(len(times) for times in by_app.values()) > APP_LIMITED.app_calls  # it was tested
    assert max(_max_in_window(t, APP_LIMITED.app_window_s) for t in by_app.values()) <= 8
    assert [c for c in calls if c.throttled] == []
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW, pairs=PAIRS)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    assert summary.failed == 0


async def test_the_same_pull_without_a_budget_is_throttled(tmp_path: Path) -> None:
    """The control: ignoring the allowance makes the emulator refuse calls (code 4)."""
    scenario = dataclasses.replace(small_scenario(), limits=APP_LIMITED)
    summary, calls = await _pull(scenario, tmp_path, calls_per_hour=1e7, budgets=SCALED)
    assert any(c.throttled and c.code == 4 for c in calls)
    assert summary.failed == 0  # and even so it recovers: throttles pause, then retry


async def test_a_paused_account_holds_its_business_and_no_one_else(tmp_path: Path) -> None:
    """One account with a tiny BUC allowance waits out Meta's regain time, and so does
    the account sharing its business id; the other business's accounts finish first."""
    base = small_scenario()
    slow = base.accounts[0]
    scenario = dataclasses.replace(
        base,
        accounts=tuple(
            dataclasses.replace(a, buc_calls=2) if a.id == slow.id else a for a in base.accounts
        ),
        limits=LimitSettings(buc_window_s=2.0, minute_s=2.0),
    )
    siblings = {a.id for a in base.accounts if a.business_id == slow.business_id} - {slow.id}
    assert siblings  # the scenario has one
    # One call at a time, so the sibling still has calls left when the pause is announced.
    summary, calls = await _pull(
        scenario, tmp_path, calls_per_hour=1e6, budgets=_scaled(minute_s=2.0), concurrency=1
    )
    slow_times = sorted(c.real for c in calls if c.account == slow.id)
    announced = slow_times[1]  # its second call used its whole allowance: 100 %
    later = [c.real for c in calls if c.account in siblings and c.real > announced]
    others = sorted(c.real for c in calls if c.account and c.account not in siblings | {slow.id})
    assert slow_times[-1] - slow_times[0] >= 2.0  # it waited out at least one regain time
    assert later and min(later) - announced >= 1.5  # its business was held with it
    assert others[-1] - others[0] < 1.0  # the other business was not held
    assert others[-1] < slow_times[-1]
    # few throttle errors: only calls already in flight when the first header said "wait"
    assert len([c for c in calls if c.throttled]) <= 3
    truth = expected_points(scenario, first=FIRST, last=LAST, today=TODAY, now=NOW, pairs=PAIRS)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    assert summary.failed == 0


async def test_a_real_pull_runs_at_the_configured_rate(tmp_path: Path) -> None:
    """36,000 calls an hour per app over loopback: after the first burst, 10 calls a second."""
    scenario = small_scenario()
    summary, calls = await _pull(
        scenario,
        tmp_path,
        calls_per_hour=36_000,
        budgets=_scaled(),
        since=TODAY - dt.timedelta(days=700),
    )
    assert summary.failed == 0
    by_app: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if call.counted and call.app:
            by_app[call.app].append(call.real)
    for app, times in by_app.items():
        times.sort()
        steady = times[11:]  # the bucket lets 11 go at once after idle time (1 s of calls + 1)
        assert len(steady) >= 30, app
        rate_per_hour = (len(steady) - 1) / (steady[-1] - steady[0]) * 3600
        assert rate_per_hour == pytest.approx(36_000, rel=0.02), app
