"""Chaos figures: the demo's legacy pull with every fault kind at once, against a fault-free one.

    .venv/bin/python scripts/bench/chaos.py [--rate 0.15] [--latency-ms 20]

Both pulls run side by side in one process against the built-in scenario: the
demo config's v17.0 app (20 accounts, 90 days, the legacy catalogue), the
emulator's clock pinned so ground truth is fixed.
Prints a Markdown table: requests faulted, retried, throttled; points lost and
duplicated (both must be 0); wall time of each pull and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

import benchlib
import orjson

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FAULT_KINDS, FaultSettings, LatencySettings, Scenario
from collector.emulator.scenario import default_scenario as built_in
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from collector.graph.pacific import pacific_date
from collector.pacing.retry import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)


async def pull(scenario: Scenario, out: Path) -> dict[str, object]:
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        config = load_config(ROOT / "config" / "demo.toml")
        legacy = {a.name for a in config.apps if config.version_of(a.name) == "v17.0"}
        config = dataclasses.replace(
            config,
            accounts=tuple(a for a in config.accounts if a.app in legacy),
            graph=dataclasses.replace(config.graph, base_url=emulator.base_url, timeout_s=1.0),
            output=dataclasses.replace(
                config.output, ndjson=out / "chaos.ndjson", sqlite=out / "chaos.sqlite"
            ),
        )
        started = time.perf_counter()
        summary = await run_once(
            config,
            clock=FixedWallClock(NOW),
            policy=RetryPolicy(base_delay_s=0.05, max_delay_s=1.0, throttle_pause_s=1.0),
            # throttle_burst claims 100 % usage: the probe's waits and Meta's minute in
            # the benchmark's seconds
            tune_budgets=lambda s: dataclasses.replace(
                s, probe_after_s=1.0, max_wait_s=4.0, minute_s=1.0
            ),
        )
        wall = time.perf_counter() - started
        calls = emulator.calls.records()
    rows = benchlib.stored_points(out / "chaos.sqlite")
    lines = [orjson.loads(x) for x in (out / "chaos.ndjson").read_bytes().splitlines()]
    keys = [
        (
            r["account_id"],
            r["metric"],
            r["period"],
            r["end_time"],
            orjson.dumps(r["dimensions"], option=orjson.OPT_SORT_KEYS),
        )
        for r in lines
    ]
    expected = benchlib.legacy_truth(
        scenario,
        [a.id for a in config.accounts],
        config_first(config),
        config_last(config),
        pacific_date(NOW),
        NOW.timestamp(),
    )
    return {
        "calls": len(calls),
        "faulted": sum(1 for c in calls if c.fault),
        "throttled": sum(1 for c in calls if c.throttled or c.code in (4, 17, 613, 80002)),
        "retried": sum(summary.retries.values()),
        "lost": len(set(expected) - set(rows))
        + sum(1 for k in expected if rows.get(k) != expected[k]),
        "dup_ndjson": len(keys) - len(set(keys)),
        "ndjson_vs_truth": len(set(keys) ^ set(expected)),
        "failed": summary.failed,
        "wall_s": wall,
    }


def config_first(config) -> dt.date:  # type: ignore[no-untyped-def]
    return config.collect.since.resolve(pacific_date(NOW))


def config_last(config) -> dt.date:  # type: ignore[no-untyped-def]
    return config.collect.until.resolve(pacific_date(NOW))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=0.15)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    base = dataclasses.replace(
        built_in(), latency=LatencySettings(fixed_ms=args.latency_ms, jitter_ms=args.latency_ms / 4)
    )
    chaotic = dataclasses.replace(
        base, faults=FaultSettings(rate=args.rate, kinds=FAULT_KINDS, slow_s=3.0)
    )
    results = {}
    for name, scenario in (("fault-free", base), (f"faults {args.rate:.0%}", chaotic)):
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = await pull(scenario, Path(tmp))
    columns = [
        "calls",
        "faulted",
        "retried",
        "throttled",
        "failed",
        "lost",
        "dup_ndjson",
        "ndjson_vs_truth",
        "wall_s",
    ]
    print("| run | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in results.items():
        cells = [f"{row[c]:.2f}" if c == "wall_s" else str(row[c]) for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    walls = [float(r["wall_s"]) for r in results.values()]  # type: ignore[arg-type]
    print(f"\nwall-time ratio, faults / fault-free: {walls[1] / walls[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
