"""The v24.0 (current catalogue) pull shared by the end-to-end tests: its config, its
ground truth, and a pull of the small scenario with per-app versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario
from collector.emulator.testing import running_emulator
from collector.emulator.truth import truth_points
from collector.engine.run import run_once
from collector.engine.summary import RunSummary
from tests.e2e.helpers import (
    AUDIENCE,
    LEGACY_METRICS,
    LEGACY_SERIES,
    NOW,
    TODAY,
    Key,
    dims_text,
    expected_points,
    small_scenario,
)

LA = ZoneInfo("America/Los_Angeles")
# Ten end_time dates across the 2025-11-02 DST change, all within the 30-day history limit.
FIRST, LAST = dt.date(2025, 10, 28), dt.date(2025, 11, 6)
V24 = "v24.0"

# SPEC section 2's current table, written out by hand: metric -> breakdowns it supports.
TOTALS: dict[str, tuple[str, ...]] = {
    "views": ("follow_type", "media_product_type"),
    "accounts_engaged": (),
    "replies": (),
    "reposts": (),
    "total_interactions": ("media_product_type",),
    "likes": ("media_product_type",),
    "comments": ("media_product_type",),
    "shares": ("media_product_type",),
    "saves": ("media_product_type",),
    "profile_links_taps": ("contact_button_type",),
    "follows_and_unfollows": ("follow_type",),
}
REACH_BREAKDOWNS = ("media_product_type", "follow_type")
SERIES: tuple[tuple[str, str], ...] = (
    ("reach", "day"),
    ("follower_count", "day"),
    ("online_followers", "lifetime"),
)
DEMOGRAPHICS = ("follower_demographics", "engaged_audience_demographics")
DEMOGRAPHIC_ENTRIES = ("age", "city", "country", "gender", "age,gender")
TIMEFRAMES = ("this_week", "this_month")
CURRENT_METRICS = ("reach", *TOTALS, "follower_count", "online_followers", *DEMOGRAPHICS)
HISTORY_LIMITED = ("follower_count", "online_followers")  # SPEC 2: last 30 days


def _toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def breakdowns_toml() -> str:
    lines = [f"reach = {_toml_list(REACH_BREAKDOWNS)}"]
    lines += [f"{m} = {_toml_list(cuts)}" for m, cuts in TOTALS.items() if cuts]
    lines += [f"{m} = {_toml_list(DEMOGRAPHIC_ENTRIES)}" for m in DEMOGRAPHICS]
    return "\n".join(lines)


def write_config(
    path: Path,
    scenario: Scenario,
    base_url: str,
    *,
    out: Path,
    metrics: Iterable[str],
    app_versions: dict[str, str],
    graph_version: str = "v17.0",
) -> Path:
    """A config for ``scenario`` with per-app api_version, breakdowns and timeframes."""
    apps = "\n".join(
        f'[[apps]]\nname = "{a.name}"\napp_id = "{a.app_id}"\napp_secret = "{a.app_secret}"\n'
        f"calls_per_hour = 360000\n"
        + (f'api_version = "{app_versions[a.name]}"\n' if a.name in app_versions else "")
        for a in scenario.apps
    )
    accounts = "\n".join(
        f'[[accounts]]\nid = "{a.id}"\napp = "{a.app}"\ntoken = "{a.token}"\n'
        f'label = "acct {a.id[-3:]}"\n'
        for a in scenario.accounts
    )
    path.write_text(
        f'[graph]\nbase_url = "{base_url}"\napi_version = "{graph_version}"\n'
        f"concurrency = 16\ntimeout_s = 5\n\n{apps}\n{accounts}\n"
        f"[collect]\nmetrics = {_toml_list(metrics)}\n"
        f'since = "{FIRST.isoformat()}"\nuntil = "{LAST.isoformat()}"\n'
        f"timeframes = {_toml_list(TIMEFRAMES)}\n\n"
        f"[collect.breakdowns]\n{breakdowns_toml()}\n\n"
        f'[output]\nndjson = "{out / "insights.ndjson"}"\nsqlite = "{out / "insights.sqlite"}"\n'
        f'\n[log]\nformat = "json"\nlevel = "warning"\n'
    )
    return path


def _add(
    truth: dict[Key, int | float], account: str, metric: str, period: str, points: Any
) -> None:
    for end_time, dims, value in points:
        truth[(account, metric, period, end_time, dims_text(dims))] = value


def current_truth(
    scenario: Scenario, accounts: Iterable[str] | None = None
) -> dict[Key, int | float]:
    """Ground truth of the v24.0 pull: series, plain daily totals, breakdown parts, demographics."""
    wanted = set(accounts) if accounts is not None else None
    now = NOW.timestamp()
    truth: dict[Key, int | float] = {}
    for account in scenario.accounts:
        if wanted is not None and account.id not in wanted:
            continue
        common: dict[str, Any] = {"account_id": account.id, "now": now, "version": V24}
        for metric, period in SERIES:
            lo = max(FIRST, TODAY - dt.timedelta(days=29)) if metric in HISTORY_LIMITED else FIRST
            points = truth_points(
                scenario,
                metric=metric,
                period=period,
                first_end_date=lo,
                last_end_date=LAST,
                **common,
            )
            _add(truth, account.id, metric, period, points)
        cuts = {"reach": REACH_BREAKDOWNS, **TOTALS}
        for metric, entries in cuts.items():
            for entry in (None, *entries) if metric != "reach" else entries:
                points = truth_points(
                    scenario,
                    metric=metric,
                    period="day",
                    first_end_date=FIRST,
                    last_end_date=LAST,
                    metric_type="total_value",
                    breakdown=entry,
                    **common,
                )
                _add(truth, account.id, metric, "day", points)
        for metric in DEMOGRAPHICS:
            for frame in TIMEFRAMES:
                for entry in DEMOGRAPHIC_ENTRIES:
                    points = truth_points(
                        scenario,
                        metric=metric,
                        period="lifetime",
                        first_end_date=FIRST,
                        last_end_date=LAST,
                        metric_type="total_value",
                        breakdown=entry,
                        timeframe=frame,
                        **common,
                    )
                    _add(truth, account.id, metric, "lifetime", points)
    return truth


async def pull(
    tmp_path: Path, metrics: Iterable[str], app_versions: dict[str, str], graph_version: str
) -> tuple[Scenario, RunSummary, int]:
    scenario = small_scenario()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        path = write_config(
            tmp_path / "c.toml",
            scenario,
            emulator.base_url,
            out=tmp_path,
            metrics=metrics,
            app_versions=app_versions,
            graph_version=graph_version,
        )
        summary = await run_once(load_config(path), clock=FixedWallClock(NOW))
        refused = sum(1 for call in emulator.calls.records() if call.code == 100)
    return scenario, summary, refused


async def two_versions_pull(out: Path) -> tuple[Scenario, RunSummary, int, dict[Key, int | float]]:
    """app-a on v17.0 (legacy catalogue) and app-b on v24.0 (current metrics, breakdowns,
    demographics) in one run into ``out``; with the pull's ground truth."""
    metrics = (*LEGACY_METRICS, *(m for m in CURRENT_METRICS if m not in LEGACY_METRICS))
    scenario, summary, refused = await pull(out, metrics, {"app-b": V24}, "v17.0")
    a_ids = [a.id for a in scenario.accounts if a.app == "app-a"]
    b_ids = [a.id for a in scenario.accounts if a.app == "app-b"]
    truth = expected_points(
        scenario,
        first=FIRST,
        last=LAST,
        today=TODAY,
        now=NOW,
        pairs=LEGACY_SERIES + AUDIENCE,
        accounts=a_ids,
    )
    truth.update(current_truth(scenario, b_ids))
    return scenario, summary, refused, truth
