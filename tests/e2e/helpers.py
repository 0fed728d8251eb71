"""Shared pieces of the end-to-end tests: a small scenario, its config, the ground truth."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson

from collector.emulator.scenario import Account, App, Scenario
from collector.emulator.truth import truth_points

# 12:00 in Los Angeles on 2025-11-20: the range below crosses the 2025-11-02 DST change.
NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)
TODAY = dt.date(2025, 11, 20)

LEGACY_SERIES: tuple[tuple[str, str], ...] = (
    *((m, p) for m in ("impressions", "reach") for p in ("day", "week", "days_28")),
    ("profile_views", "day"),
    ("follower_count", "day"),
    ("email_contacts", "day"),
    ("phone_call_clicks", "day"),
    ("text_message_clicks", "day"),
    ("get_directions_clicks", "day"),
    ("website_clicks", "day"),
    ("online_followers", "lifetime"),
)
AUDIENCE: tuple[tuple[str, str], ...] = tuple(
    (m, "lifetime")
    for m in ("audience_city", "audience_country", "audience_locale", "audience_gender_age")
)
LEGACY_METRICS = tuple(dict.fromkeys(m for m, _ in LEGACY_SERIES + AUDIENCE))
# SPEC section 2: served only for the last 30 days, today excluded.
HISTORY_LIMITED = ("follower_count", "online_followers")

Key = tuple[str, str, str, str | None, str]


def small_scenario(*, seed: int = 11) -> Scenario:
    """Two apps (one requiring appsecret_proof), five accounts, one under 100 followers."""
    return Scenario(
        seed=seed,
        apps=(
            App("app-a", "2001", "secret-a", require_proof=False),
            App("app-b", "2002", "secret-b", require_proof=True),
        ),
        accounts=(
            Account("17841400000000101", 5400, "EAAtokenA101", "app-a", business_id="501"),
            Account("17841400000000102", 120000, "EAAtokenA102", "app-a", business_id="501"),
            Account("17841400000000103", 47, "EAAtokenA103", "app-a"),
            Account("17841400000000201", 830, "EAAtokenB201", "app-b", business_id="502"),
            Account("17841400000000202", 25400, "EAAtokenB202", "app-b", business_id="502"),
        ),
    )


def write_config(
    path: Path,
    scenario: Scenario,
    base_url: str,
    *,
    since: str,
    until: str,
    out: Path,
    metrics: Iterable[str] = LEGACY_METRICS,
    calls_per_hour: int = 100_000,
    concurrency: int = 8,
    extra_graph: str = "",
) -> Path:
    """A collector config for ``scenario`` served at ``base_url``."""
    apps = "\n".join(
        f'[[apps]]\nname = "{a.name}"\napp_id = "{a.app_id}"\napp_secret = "{a.app_secret}"\n'
        f"calls_per_hour = {calls_per_hour}\n"
        for a in scenario.apps
    )
    accounts = "\n".join(
        f'[[accounts]]\nid = "{a.id}"\napp = "{a.app}"\ntoken = "{a.token}"\nlabel = "acct {a.id[-3:]}"\n'
        for a in scenario.accounts
    )
    metric_list = ", ".join(f'"{m}"' for m in metrics)
    path.write_text(
        f'[graph]\nbase_url = "{base_url}"\napi_version = "v17.0"\nconcurrency = {concurrency}\n'
        f"timeout_s = 5\n{extra_graph}\n"
        f"{apps}\n{accounts}\n"
        f'[collect]\nmetrics = [{metric_list}]\nsince = "{since}"\nuntil = "{until}"\n\n'
        f'[output]\nndjson = "{out / "insights.ndjson"}"\nsqlite = "{out / "insights.sqlite"}"\n'
        f'\n[log]\nformat = "json"\nlevel = "warning"\n'
    )
    return path


def dims_text(dimensions: dict[str, str]) -> str:
    return orjson.dumps(dimensions, option=orjson.OPT_SORT_KEYS).decode()


def expected_points(
    scenario: Scenario,
    *,
    first: dt.date,
    last: dt.date,
    today: dt.date,
    now: dt.datetime,
    pairs: Iterable[tuple[str, str]] = LEGACY_SERIES + AUDIENCE,
    accounts: Iterable[str] | None = None,
) -> dict[Key, int | float]:
    """The emulator's ground truth for a whole pull, keyed like the sinks."""
    wanted = set(accounts) if accounts is not None else None
    truth: dict[Key, int | float] = {}
    for account in scenario.accounts:
        if wanted is not None and account.id not in wanted:
            continue
        for metric, period in pairs:
            lo, hi = first, last
            if metric in HISTORY_LIMITED:
                lo, hi = max(first, today - dt.timedelta(days=29)), min(last, today)
                if lo > hi:
                    continue
            for end_time, dims, value in truth_points(
                scenario,
                account_id=account.id,
                metric=metric,
                period=period,
                first_end_date=lo,
                last_end_date=hi,
                now=now.timestamp(),
                version="v17.0",
            ):
                truth[(account.id, metric, period, end_time, dims_text(dims))] = value
    return truth


def sqlite_points(path: Path) -> dict[Key, int | float]:
    """Every row of the insights table, keyed by identity."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT account_id, metric, period, end_time, dimensions, value FROM insights"
        ).fetchall()
    points: dict[Key, int | float] = {}
    for account, metric, period, end_time, dims, value in rows:
        key = (account, metric, period, end_time, dims_text(orjson.loads(dims)))
        assert key not in points, f"duplicate row {key}"
        points[key] = value
    return points


def ndjson_lines(path: Path) -> list[dict[str, object]]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def ndjson_points(path: Path) -> tuple[dict[Key, int | float], int]:
    """The latest value per key in an NDJSON file, and how many lines it has."""
    lines = ndjson_lines(path)
    points: dict[Key, int | float] = {}
    for record in lines:
        dims = record["dimensions"]
        assert isinstance(dims, dict)
        key = (
            str(record["account_id"]),
            str(record["metric"]),
            str(record["period"]),
            record["end_time"] if record["end_time"] is None else str(record["end_time"]),
            dims_text(dims),
        )
        value = record["value"]
        assert isinstance(value, int | float)
        points[key] = value
    return points, len(lines)


def ledger_states(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT state, count(*) FROM ledger GROUP BY state").fetchall()
    return {state: n for state, n in rows}


def assert_stored_once(folder: Path, truth: dict[Key, int | float]) -> None:
    """``folder``'s insights.sqlite and insights.ndjson hold ``truth``, each point once,
    and its ledger has nothing left to do."""
    assert sqlite_points(folder / "insights.sqlite") == truth
    points, lines = ndjson_points(folder / "insights.ndjson")
    assert points == truth and lines == len(truth)
    assert ledger_states(folder / "insights.sqlite").keys() <= {"done", "no_data"}
