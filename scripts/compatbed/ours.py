"""The collector itself, ``.venv/bin/ig-collector run --config ...``, on the same job.

Its config names the 20 accounts with the agency token (through ``env:``, so the
file holds no secret), v21.0, the job's metrics, periods, dates, breakdowns and
timeframe; its SQLite points are compared with the job's truth key by key.

From v18 the collector asks ``reach`` for ``period=day`` only (SPEC 2: Meta's reference
lists no other period since), so its truth leaves out reach week and 28-day, which
the emulator serves (``[fidelity] reach_long_periods``) and Airbyte reads.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import job as J
from bed import COLLECTOR, Emulator, Outcome, last_line, run, traffic_of

TOKEN_ENV = "COMPAT_AGENCY_TOKEN"
TIMEOUT_S = 300
NOT_ASKED = (("reach", "week"), ("reach", "days_28"))  # retired periods in v18+ (SPEC 2)


def write_config(job: J.Job, emu: Emulator, work: Path) -> Path:
    app = job.scenario.apps[0]
    accounts = "".join(
        f'[[accounts]]\nid = "{a}"\napp = "{app.name}"\ntoken = "env:{TOKEN_ENV}"\n\n'
        for a in job.accounts
    )
    metrics = sorted({m for m, _ in J.SERIES} | {J.DEMOGRAPHIC})
    periods = sorted({p for _, p in J.SERIES})
    config = work / "collector.toml"
    config.write_text(
        f'[graph]\nbase_url = "{emu.base_url}"\napi_version = "{J.VERSION}"\n\n'
        f'[[apps]]\nname = "{app.name}"\napp_id = "{app.app_id}"\ncalls_per_hour = 360000\n\n'
        f"{accounts}"
        f"[collect]\nmetrics = {json.dumps(metrics)}\nperiods = {json.dumps(periods)}\n"
        f'since = "{job.first}"\nuntil = "{job.last}"\n'
        f'timeframes = ["{J.TIMEFRAME}"]\n\n'
        f"[collect.breakdowns]\n{J.DEMOGRAPHIC} = {json.dumps(list(J.BREAKDOWNS))}\n\n"
        f'[output]\nndjson = ""\nsqlite = "{work / "insights.sqlite"}"\n\n'
        f'[log]\nformat = "json"\nlevel = "warning"\n'
    )
    return config


def stored(sqlite: Path) -> tuple[dict[J.Key, Any], int]:
    """(points by key, rows) of the collector's SQLite file."""
    points: dict[J.Key, Any] = {}
    rows = 0
    with sqlite3.connect(sqlite) as db:
        query = "SELECT account_id, metric, period, end_time, dimensions, value FROM insights"
        for account, metric, period, end, dims, value in db.execute(query):
            rows += 1
            key = (
                account,
                metric,
                period,
                J.end_key(end) if end else None,
                J.dims_text(json.loads(dims)),
            )
            points[key] = value
    return points, rows


def run_collector(emu: Emulator, job: J.Job, work: Path, truth: dict[J.Key, Any]) -> Outcome:
    outcome = Outcome("ig-collector (this project)", "")
    config = write_config(job, emu, work)
    env = {**os.environ, TOKEN_ENV: job.token}
    truth = {k: v for k, v in truth.items() if (k[1], k[2]) not in NOT_ASKED}
    mark = emu.mark()
    done = run(
        [str(COLLECTOR), "run", "--config", str(config)],
        env=env,
        cwd=work,
        name="run",
        timeout_s=TIMEOUT_S,
    )
    calls = emu.calls(mark)
    outcome.add_calls(calls)
    outcome.seconds = done.seconds
    points, rows = (
        stored(work / "insights.sqlite") if (work / "insights.sqlite").exists() else ({}, 0)
    )
    equal, missing = J.compare(truth, points)
    outcome.records, outcome.equal = rows, equal
    outcome.expect(
        done.returncode == 0,
        f"exit {done.returncode} {done.stopped} {last_line(done.stderr, [job.token])}",
    )
    outcome.expect(equal == rows, f"{rows - equal} points differ from truth")
    outcome.expect(missing == 0, f"{missing} truth points missing")
    outcome.expect(outcome.errors == 0, f"{outcome.errors} error answers")
    outcome.notes.append(
        f"{len(truth)} truth points (reach week and 28-day not asked: SPEC 2, v18+); "
        f"{missing} missing"
    )
    outcome.traffic = traffic_of(calls, len(job.accounts), (job.last - job.first).days + 1)
    return outcome
