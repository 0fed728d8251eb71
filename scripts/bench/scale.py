"""Scale: a 10,000-account registry and a 2-year range; plan cost, and memory that stays flat.

    .venv/bin/python scripts/bench/scale.py [--accounts 10000] [--days 730]
        [--sample 150] [--slice-s 30] [--short-days 7]

In order, each in a process of its own (peak RSS is that process's high-water mark):

1. plan: load the config with its 10,000-row registry, count the plan by arithmetic
   (what ``ig-collector plan`` prints), then build every planned request lazily;
2. a complete pull of ``--sample`` accounts over the 2-year range, zero latency;
3. complete pulls of 1,000 and of 10,000 accounts over a short range
   (``--short-days`` end_time dates: 6 requests per account), zero latency;
4. ``--slice-s``-second slices of a 90-day pull of 1,000 accounts and of the 2-year
   pull of 1,000 and of 10,000 accounts (the run is told to stop taking work,
   drains, commits and ends).

Rows 3 and 4 answer "does memory grow with the account count or the range length":
the pool activates accounts lazily, plans them lazily and the writer's queue is
bounded in outcomes and in points, so it must not. (Short ranges use short
windows, hence smaller answers: compare like windows, 90 days with 2 years.)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import benchlib


def collector_run(
    folder: Path,
    scenario: Path,
    accounts: int,
    days: int,
    stop_after: float | None = None,
) -> dict[str, object]:
    with benchlib.emulator(scenario) as emulator:
        config = benchlib.write_collector_config(
            folder, emulator.base_url, accounts, since=f"{days - 1}d"
        )
        argv = ["scripts/bench/clients.py", "collector", "--config", str(config)]
        if stop_after is not None:
            argv += ["--stop-after", str(stop_after)]
        before = emulator.cpu_s()
        report = benchlib.run_child(argv, log=folder / "stderr.log")
        report["emulator_cpu_s"] = emulator.cpu_s() - before
        report["db_mib"] = (folder / "out.sqlite").stat().st_size / 2**20
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--sample", type=int, default=150)
    parser.add_argument("--slice-s", type=float, default=30.0)
    parser.add_argument("--short-days", type=int, default=7)
    args = parser.parse_args()
    small = args.accounts // 10
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        base = Path(tmp)
        scenario = base / "scenario.toml"
        scenario.write_text(benchlib.scenario_toml(args.accounts))

        # 1. The plan: no emulator needed; the base URL is never called.
        folder = base / "plan"
        config = benchlib.write_collector_config(
            folder, "http://127.0.0.1:9", args.accounts, since=f"{args.days - 1}d"
        )
        plan = benchlib.run_child(
            ["scripts/bench/clients.py", "plan", "--config", str(config)],
            log=folder / "stderr.log",
        )
        out.append(
            f"plan: {args.accounts:,} accounts x {args.days} days: "
            f"{int(plan['requests']):,} requests (arithmetic count {int(plan['counted']):,}); "  # type: ignore[call-overload]
            f"config + registry load {float(plan['load_s']):.2f} s, "  # type: ignore[arg-type]
            f"count {1000 * float(plan['count_s']):.1f} ms, "  # type: ignore[arg-type]
            f"every request built {float(plan['build_s']):.2f} s; "  # type: ignore[arg-type]
            f"peak RSS {float(plan['max_rss_mib']):.0f} MiB\n"  # type: ignore[arg-type]
        )

        rows = []
        runs: list[tuple[str, int, int, float | None]] = [
            (f"complete, {args.sample} accounts x {args.days} days", args.sample, args.days, None),
            (
                f"complete, {small:,} accounts x {args.short_days} days",
                small,
                args.short_days,
                None,
            ),
            (
                f"complete, {args.accounts:,} accounts x {args.short_days} days",
                args.accounts,
                args.short_days,
                None,
            ),
            (
                f"{args.slice_s:g} s slice, {small:,} accounts x 90 days",
                small,
                90,
                args.slice_s,
            ),
            (
                f"{args.slice_s:g} s slice, {small:,} accounts x {args.days} days",
                small,
                args.days,
                args.slice_s,
            ),
            (
                f"{args.slice_s:g} s slice, {args.accounts:,} accounts x {args.days} days",
                args.accounts,
                args.days,
                args.slice_s,
            ),
        ]
        for i, (name, accounts, days, stop_after) in enumerate(runs):
            report = collector_run(base / f"run{i}", scenario, accounts, days, stop_after)
            requests = float(report["requests"])  # type: ignore[arg-type]
            wall = float(report["wall_s"])  # type: ignore[arg-type]
            rows.append(
                [
                    name,
                    int(report["planned"]),  # type: ignore[call-overload]
                    int(requests),
                    int(report["lines"]),  # type: ignore[call-overload]
                    wall,
                    requests / wall,
                    1000 * float(report["cpu_s"]) / max(requests, 1),  # type: ignore[arg-type]
                    float(report["max_rss_mib"]),  # type: ignore[arg-type]
                    float(report["db_mib"]),  # type: ignore[arg-type]
                ]
            )
    print(f"scale\nmachine: {benchlib.machine()}\n")
    print("".join(out))
    print(
        benchlib.table(
            [
                "pull (zero latency, both sinks)",
                "planned",
                "requests sent",
                "points written",
                "wall s",
                "req/s",
                "CPU s / 1,000 req",
                "peak RSS MiB",
                "SQLite MiB",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
