"""Budget use: how much of an app allowance the collector uses, and what it costs.

    .venv/bin/python scripts/bench/budget.py [--calls 600] [--window-s 10]
        [--accounts 400] [--seconds 60]

The emulator enforces an app allowance of ``--calls`` calls per sliding
``--window-s`` seconds (Meta's is per hour: the window is scaled down, and the
collector's budget and retry policies are scaled by the same factor, as the
throttling tests do). It runs in this process (a thread) so its call log can be
read; the collector runs in a child process for ``--seconds`` seconds of a pull
bigger than that (then it stops taking work, drains and ends), at zero latency.

Three configurations of the app's ``calls_per_hour``: equal to the allowance (what
a user writes), 90 % of it, and 3x it (a misconfigured budget: the usage headers
alone must keep the app under the allowance). For each: calls per second sustained
after the first window (the usage headers start from zero), as a fraction of the
allowance; the most calls in any window; throttle errors received (calls the
emulator refused: code 4).
"""

from __future__ import annotations

import argparse
import tempfile
import tomllib
from pathlib import Path

import benchlib

from collector.emulator.scenario import parse_scenario
from collector.emulator.testing import emulator_in_thread


def most_in_window(times: list[float], window_s: float) -> int:
    """The most calls in any sliding window of ``window_s`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--target-pct",
        type=float,
        help="what-if: the usage target every app's budget holds (default: [budget] target_pct)",
    )
    parser.add_argument(
        "--shares", type=float, nargs="+", default=[1.0, 0.9, 3.0], help="calls_per_hour shares"
    )
    args = parser.parse_args()
    allowance_per_s = args.calls / args.window_s
    scale = args.window_s / 3600.0
    scenario = parse_scenario(
        tomllib.loads(
            benchlib.scenario_toml(args.accounts, app_calls=args.calls, app_window_s=args.window_s)
        )
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        for share in args.shares:
            folder = Path(tmp) / f"share-{share:g}"
            with emulator_in_thread(scenario) as emulator:
                config = benchlib.write_collector_config(
                    folder,
                    emulator.base_url,
                    args.accounts,
                    calls_per_hour=share * allowance_per_s * 3600,
                )
                report = benchlib.run_child(
                    [
                        "scripts/bench/clients.py",
                        "collector",
                        "--config",
                        str(config),
                        "--stop-after",
                        str(args.seconds),
                        "--time-scale",
                        str(scale),
                        *(["--target-pct", str(args.target_pct)] if args.target_pct else []),
                    ],
                    log=folder / "stderr.log",
                )
                calls = [c for c in emulator.calls.records() if c.counted]
            times = sorted(c.real for c in calls)
            steady = [t for t in times if t >= times[0] + args.window_s]
            span = steady[-1] - steady[0] if len(steady) > 1 else float("nan")
            rate = (len(steady) - 1) / span
            refused = [c for c in calls if c.throttled]
            rows.append(
                [
                    f"{share:.0%} of the allowance",
                    len(calls),
                    rate,
                    f"{rate / allowance_per_s:.1%}",
                    most_in_window(times, args.window_s),
                    len(refused),
                    sorted({c.code for c in refused if c.code is not None}) or "-",
                    int(report["throttled"]),  # type: ignore[call-overload]
                    int(report["failed"]),  # type: ignore[call-overload]
                ]
            )
    print(
        f"budget: app allowance {args.calls} calls per {args.window_s:g} s "
        f"({allowance_per_s:g} calls/s; Meta's hour scaled by {scale:.5f}), "
        f"{args.accounts} accounts, {args.seconds:g} s of pulling at zero latency"
        + (f"; usage target {args.target_pct:g} %" if args.target_pct else "")
        + "\n"
        f"machine: {benchlib.machine()}\n"
    )
    print(
        benchlib.table(
            [
                "calls_per_hour set to",
                "calls",
                "sustained calls/s",
                "of the allowance",
                f"most in any {args.window_s:g} s",
                "refused by the emulator",
                "codes",
                "throttle pauses (collector)",
                "failed requests",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
