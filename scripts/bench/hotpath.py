"""Hot path: the collector's CPU per request at zero latency, per thread, before and after.

    .venv/bin/python scripts/bench/hotpath.py [--accounts 300] [--repeat 3]
        [--source DIR ...] [--what-if]

The peers' job (legacy metrics, v17.0, 90 days, 12 requests per account, ~150
points per answer) against a zero-latency emulator in its own process, both sinks.
Each ``--source`` is a checkout of the project (e.g. a ``git worktree`` of an older
commit) whose ``collector`` the client imports instead of this one; the emulator
is always this checkout's, so only the client differs. ``--what-if`` adds a row
for this checkout with the fixes proposed for files the benchmark does not own
(see ``clients.what_if``). Rounds are interleaved and each row keeps its round
with the least CPU (the machine's speed drifts between minutes).

Columns: requests per second; CPU per request in ms, split into the event loop's
thread and the others (SQLite's connection thread, file appends); the cyclic GC's
share; peak RSS; the emulator's CPU per request.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import benchlib


def describe(source: Path | None) -> str:
    root = source or benchlib.ROOT
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    label = done.stdout.strip()[:60] or str(root)
    return label if source is not None else f"this checkout ({label})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source", type=Path, action="append", default=[])
    parser.add_argument("--what-if", action="store_true")
    args = parser.parse_args()
    variants: list[tuple[str, Path | None, list[str]]] = [
        (describe(source), source, []) for source in args.source
    ]
    variants.append((describe(None), None, []))
    if args.what_if:
        variants.append(("this checkout + proposed fixes (--what-if)", None, ["--what-if"]))
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as tmp:
        base = Path(tmp)
        scenario = base / "scenario.toml"
        scenario.write_text(benchlib.scenario_toml(args.accounts))
        with benchlib.emulator(scenario) as emulator:
            for _ in range(args.repeat):
                for i, (name, source, extra) in enumerate(variants):
                    folder = base / f"v{i}"
                    folder.mkdir(exist_ok=True)
                    for old in folder.glob("out*"):
                        old.unlink()
                    config = benchlib.write_collector_config(
                        folder, emulator.base_url, args.accounts
                    )
                    before = emulator.cpu_s()
                    report = benchlib.run_child(
                        ["scripts/bench/clients.py", "collector", "--config", str(config), *extra],
                        log=folder / "stderr.log",
                        source=source,
                    )
                    row = {k: float(v) for k, v in report.items() if isinstance(v, int | float)}
                    row["emulator_cpu_s"] = emulator.cpu_s() - before
                    if name not in best or row["cpu_s"] < best[name]["cpu_s"]:
                        best[name] = row
    print(
        f"hot path: {args.accounts} accounts x 12 requests, zero latency, both sinks, "
        f"best of {args.repeat} interleaved rounds\nmachine: {benchlib.machine()}\n"
    )
    rows = []
    for name, _, _ in variants:
        r = best[name]
        per = 1000 / r["requests"]
        rows.append(
            [
                name,
                int(r["requests"]),
                int(r["lines"]),
                r["requests"] / r["wall_s"],
                r["cpu_s"] * per,
                r["main_cpu_s"] * per,
                (r["cpu_s"] - r["main_cpu_s"]) * per,
                r["gc_s"] * per,
                r["max_rss_mib"],
                r["emulator_cpu_s"] * per,
            ]
        )
    print(
        benchlib.table(
            [
                "collector",
                "requests",
                "points",
                "req/s",
                "CPU ms/req",
                "event loop thread",
                "other threads",
                "of which GC (any thread)",
                "peak RSS MiB",
                "emulator CPU ms/req",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
