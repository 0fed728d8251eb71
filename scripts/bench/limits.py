"""Limits: the collector's wall time against the bounds no client can beat.

    .venv/bin/python scripts/bench/limits.py [--accounts 300] [--latency-ms 50]
        [--concurrency 32] [--budget-per-s 150] [--wrk-seconds 10] [--before DIR]

For one job (the peers' job: legacy metrics, v17.0, 90 end_time dates, 12 requests
per account) three bounds on the wall time:

- (a) latency bound: requests x mean latency / concurrency;
- (b) budget bound: requests / allowed rate (the app's ``calls_per_hour``), less one
  second: the collector's budget is a sliding one-second window, so the first
  second's calls go at once;
- (c) ceiling bound: requests / the emulator's own ceiling, measured at zero latency
  with ``wrk`` (2 threads, ``concurrency`` connections) sending the job's own
  requests in a loop (Debian's ``wrk``; ``apt-get install -y wrk``).

The collector then runs the job three times against a fresh emulator process each
time: 50 ms latency and no budget to speak of (a and c apply), zero latency (c),
and a budget of ``--budget-per-s`` calls/s (b). Each row gives the bounds, the
tightest, the wall time and its ratio to the tightest. A second ceiling is
measured for a light request (one metric, one day) to show the emulator's HTTP
ceiling apart from the work of making 150 values per answer.

``--before DIR`` adds a zero-latency run of an older checkout's collector (a ``git
worktree``), so the ceiling ratio is measured before and after in one run.

Note: the emulator and the collector share the machine's cores in every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import benchlib

from collector.graph.pacific import pacific_date, window_of
from collector.planning.planner import AccountRef, PlanSpec, plan_account

WRK_SCRIPT = """
local requests = {}
init = function(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("([^ ]+) ([^ ]+)")
    table.insert(requests, {path, "OAuth " .. token})
  end
  counter = 0
end
request = function()
  counter = counter % #requests + 1
  local r = requests[counter]
  return wrk.format("GET", r[1], {["Authorization"] = r[2]})
end
"""


def job_requests(accounts: int) -> list[str]:
    """``path token`` per request of the job (the collector's plan, in its order)."""
    today = pacific_date(dt.datetime.now(dt.UTC))
    spec = PlanSpec(
        version="v17.0",
        metrics=benchlib.LEGACY_METRICS,
        periods=benchlib.PERIODS,
        first=today - dt.timedelta(days=89),
        last=today,
        today=today,
    )
    lines = []
    for i in range(accounts):
        for request in plan_account(AccountRef(benchlib.account_id(i), benchlib.APP_NAME), spec):
            query = f"metric={','.join(request.metrics)}&period={request.period}"
            if request.window is not None:
                query += f"&since={request.window.since}&until={request.window.until}"
            lines.append(f"/v17.0/{request.account_id}/insights?{query} {benchlib.token(i)}")
    return lines


def light_requests(accounts: int) -> list[str]:
    """One metric, one day, per account: an answer of one value."""
    today = pacific_date(dt.datetime.now(dt.UTC))
    window = window_of(today - dt.timedelta(days=1), today - dt.timedelta(days=1))
    return [
        f"/v17.0/{benchlib.account_id(i)}/insights?metric=reach&period=day"
        f"&since={window.since}&until={window.until} {benchlib.token(i)}"
        for i in range(accounts)
    ]


def wrk_ceiling(
    base_url: str, lines: list[str], folder: Path, seconds: int, connections: int
) -> tuple[float, str]:
    """Requests per second ``wrk`` gets from the emulator for these requests."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    listing = folder / "requests.txt"
    listing.write_text("\n".join(lines) + "\n")
    script = folder / "requests.lua"
    script.write_text(WRK_SCRIPT)
    done = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            base_url,
            "--",
            str(listing),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if match is None or "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk failed or got errors:\n{done.stdout}")
    return float(match.group(1)), done.stdout


def run_collector(
    folder: Path,
    scenario: Path,
    accounts: int,
    concurrency: int,
    calls_per_hour: float,
    source: Path | None = None,
) -> tuple[dict[str, object], float]:
    """One collector run of the job against a fresh emulator (``source``: the collector
    of that checkout); its report and the emulator's CPU seconds."""
    with benchlib.emulator(scenario) as emulator:
        config = benchlib.write_collector_config(
            folder,
            emulator.base_url,
            accounts,
            concurrency=concurrency,
            calls_per_hour=calls_per_hour,
        )
        before = emulator.cpu_s()
        report = benchlib.run_child(
            ["scripts/bench/clients.py", "collector", "--config", str(config)],
            log=folder / "stderr.log",
            source=source,
        )
        return report, emulator.cpu_s() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--budget-per-s", type=float, default=150.0)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument(
        "--before",
        type=Path,
        help="an older checkout (git worktree): its collector's zero-latency run, beside this one",
    )
    args = parser.parse_args()
    unlimited = 36_000_000.0  # 10,000 calls/s: never the bound here
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        base = Path(tmp)
        zero = base / "zero.toml"
        zero.write_text(benchlib.scenario_toml(args.accounts))
        slow = base / "slow.toml"
        slow.write_text(
            benchlib.scenario_toml(args.accounts, latency_ms=args.latency_ms - 10, jitter_ms=20)
        )
        lines = job_requests(args.accounts)
        with benchlib.emulator(zero) as emulator:
            before = emulator.cpu_s()
            ceiling, _ = wrk_ceiling(
                emulator.base_url, lines, base, args.wrk_seconds, args.concurrency
            )
            wrk_emu_cpu = emulator.cpu_s() - before
            light, _ = wrk_ceiling(
                emulator.base_url,
                light_requests(args.accounts),
                base,
                args.wrk_seconds,
                args.concurrency,
            )
        runs: list[tuple[str, Path, float, float, Path | None]] = [
            ("50 ms latency, no budget limit", slow, unlimited, args.latency_ms / 1000, None),
            ("zero latency, no budget limit", zero, unlimited, 0.0, None),
            (
                f"zero latency, budget {args.budget_per_s:g} calls/s",
                zero,
                args.budget_per_s * 3600,
                0.0,
                None,
            ),
        ]
        if args.before is not None:
            runs.insert(
                2, ("zero latency, no budget limit, before", zero, unlimited, 0.0, args.before)
            )
        rows = []
        throughput = []
        for name, scenario, calls_per_hour, latency_s, source in runs:
            folder = base / re.sub(r"\W+", "-", name)
            report, emu_cpu = run_collector(
                folder, scenario, args.accounts, args.concurrency, calls_per_hour, source
            )
            requests = float(report["requests"])  # type: ignore[arg-type]
            wall = float(report["wall_s"])  # type: ignore[arg-type]
            bounds = {
                "a": requests * latency_s / args.concurrency,
                "b": max(0.0, requests / (calls_per_hour / 3600) - 1.0),
                "c": requests / ceiling,
            }
            tight = max(bounds, key=lambda k: bounds[k])
            rows.append(
                [
                    name,
                    int(requests),
                    bounds["a"],
                    bounds["b"],
                    bounds["c"],
                    f"({tight}) {bounds[tight]:.2f}",
                    wall,
                    f"{wall / bounds[tight]:.2f}",
                    requests / wall,
                    float(report["cpu_s"]),  # type: ignore[arg-type]
                    emu_cpu,
                ]
            )
            if latency_s == 0 and calls_per_hour == unlimited:
                throughput.append(
                    f"zero-latency throughput{' (before)' if source else ''}: "
                    f"{requests / wall:,.0f} requests/s = "
                    f"{requests / wall / ceiling:.2f} of the emulator's ceiling (goal >= 0.7)"
                )
    print(
        f"limits: {args.accounts} accounts x 12 requests (legacy metrics, 90 days), "
        f"concurrency {args.concurrency}\nmachine: {benchlib.machine()}\n"
    )
    print(
        f"emulator ceiling (wrk -t2 -c{args.concurrency} -d{args.wrk_seconds}s, zero latency): "
        f"{ceiling:,.0f} requests/s on the job's requests (~150 values each; emulator CPU "
        f"{wrk_emu_cpu:.1f} s in {args.wrk_seconds} s), {light:,.0f} requests/s on a one-value "
        "request\n"
    )
    print(
        benchlib.table(
            [
                "run",
                "requests",
                "(a) latency s",
                "(b) budget s",
                "(c) ceiling s",
                "tightest s",
                "collector wall s",
                "wall / tightest",
                "req/s",
                "collector CPU s",
                "emulator CPU s",
            ],
            rows,
        )
    )
    print("\n" + "\n".join(throughput))


if __name__ == "__main__":
    main()
