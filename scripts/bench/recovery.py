"""Recovery: a pull against an app cap that throttles, with faults; how close to the minimum.

    .venv/bin/python scripts/bench/recovery.py [--accounts 10] [--days 100]
        [--calls 40] [--window-s 10] [--faults 0.10] [--share 3]

The emulator caps its one app at ``--calls`` calls per sliding ``--window-s``
seconds and answers a ``--faults`` share of the calls with a fault of a random
kind (dropped connections, HTML 502 pages, truncated JSON, transient codes,
throttle bursts that claim 100 % usage). The collector pulls ``--accounts``
accounts x ``--days`` days of the legacy catalogue in this process, with
``calls_per_hour`` at ``--share`` times the cap (so the cap throttles, not the
budget), ``probe_after_s = 5``, ``max_wait_s = 20``, and its usage window and
Meta's minute shortened as the emulator's are.

The cap-bound minimum is the planned requests at the cap's rate: no client sends
the plan faster without being refused. Reported: wall time and its multiple of
that minimum, calls the emulator counted, refused (code 4) and faulted calls,
failed requests, and whether the stored points equal the emulator's ground truth.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import tempfile
import time
import tomllib
from pathlib import Path

import benchlib

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import parse_scenario
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from collector.graph.pacific import pacific_date
from collector.pacing.settings import BudgetSettings

NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)


async def pull(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    cap_per_s = args.calls / args.window_s
    minute_s = args.window_s / 60  # the emulator's hour is window_s: its minute shrinks alike
    toml = benchlib.scenario_toml(args.accounts, app_calls=args.calls, app_window_s=args.window_s)
    toml = toml.replace("[latency]", f"minute_s = {minute_s}\n[latency]")
    scenario = parse_scenario(tomllib.loads(toml + f"[faults]\nrate = {args.faults}\n"))
    today = pacific_date(NOW)
    first, last = today - dt.timedelta(days=args.days + 2), today - dt.timedelta(days=3)

    def scaled(settings: BudgetSettings) -> BudgetSettings:
        return dataclasses.replace(settings, usage_window_s=args.window_s, minute_s=minute_s)

    # The emulator's clock runs (the cap's window slides); the range ends days ago,
    # so no served value depends on the seconds that pass.
    clock = FixedClock(NOW.timestamp(), advancing=True)
    async with running_emulator(scenario, clock=clock) as emulator:
        path = benchlib.write_collector_config(
            folder,
            emulator.base_url,
            args.accounts,
            since=first.isoformat(),
            until=last.isoformat(),
            concurrency=8,
            calls_per_hour=args.share * cap_per_s * 3600,
        )
        path.write_text(path.read_text() + "\n[budget]\nprobe_after_s = 5\nmax_wait_s = 20\n")
        started = time.perf_counter()
        summary = await run_once(load_config(path), clock=FixedWallClock(NOW), tune_budgets=scaled)
        wall = time.perf_counter() - started
        calls = [c for c in emulator.calls.records() if c.counted]
    truth = benchlib.legacy_truth(
        scenario, [a.id for a in scenario.accounts], first, last, today, NOW.timestamp()
    )
    minimum = summary.planned / cap_per_s
    return {
        "planned": summary.planned,
        "minimum": f"{minimum:.1f} s",
        "wall": f"{wall:.1f} s",
        "multiple": f"{wall / minimum:.2f}x",
        "calls": len(calls),
        "refused": sum(1 for c in calls if c.throttled),
        "faulted": sum(1 for c in calls if c.fault),
        "failed": summary.failed,
        "exact": "yes" if benchlib.stored_points(folder / "out.sqlite") == truth else "NO",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--faults", type=float, default=0.10)
    parser.add_argument("--share", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        row = asyncio.run(pull(args, Path(tmp)))
    print(
        f"recovery: app cap {args.calls} calls per {args.window_s:g} s, {args.accounts} "
        f"accounts x {args.days} days of the legacy catalogue, {args.faults:.0%} faults, "
        f"calls_per_hour {args.share:g}x the cap, probe_after_s 5, max_wait_s 20\n"
        f"machine: {benchlib.machine()}\n"
    )
    columns = {
        "planned": "planned requests",
        "minimum": "cap-bound minimum",
        "wall": "wall",
        "multiple": "multiple",
        "calls": "calls counted",
        "refused": "refused (code 4)",
        "faulted": "faulted",
        "failed": "failed requests",
        "exact": "points equal the truth",
    }
    print(benchlib.table(list(columns.values()), [[row[k] for k in columns]]))


if __name__ == "__main__":
    main()
