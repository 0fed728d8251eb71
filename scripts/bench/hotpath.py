"""Hot path: the collector's CPU per request at zero latency, per thread, before and after.

    .venv/bin/python scripts/bench/hotpath.py [--accounts 300] [--repeat 3]
        [--source DIR ...] [--variants]

The peers' job (legacy metrics, v17.0, 90 days, 12 requests per account, ~150
points per answer) against a zero-latency emulator in its own process, both sinks.
Each ``--source`` is a checkout of the project (e.g. a ``git worktree`` of an older
commit) whose ``collector`` the client imports instead of this one; the emulator
is always this checkout's, so only the client differs. ``--variants`` adds rows
for this checkout with Python's GC defaults and with asyncio's own event loop,
to measure what ``collector.engine.speed`` buys. Rounds are interleaved and each row keeps its round
with the least CPU (the machine's speed drifts between minutes).

Columns: requests per second; CPU per request in ms, split into the event loop's
thread and the others (SQLite's connection thread, file appends); the cyclic GC's
share; peak RSS; the emulator's CPU per request.

``--profile`` (needs ``pip install py-spy``) then runs this checkout once more under
``py-spy record`` and prints where the event loop's thread and the other threads
spend their samples (self time by function, and inclusive time of the collector's
own functions).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
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


def profile(base_url: str, folder: Path, accounts: int) -> str:
    """Sample one collector run with py-spy; a text summary of where the time goes."""
    spy = shutil.which("py-spy") or str(Path(benchlib.PYTHON).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    folder.mkdir(exist_ok=True)
    config = benchlib.write_collector_config(folder, base_url, accounts)
    raw = folder / "profile.txt"
    subprocess.run(
        [
            spy,
            "record",
            "-r",
            "200",
            "-f",
            "raw",
            "--threads",
            "-o",
            str(raw),
            "--",
            benchlib.PYTHON,
            "scripts/bench/clients.py",
            "collector",
            "--config",
            str(config),
        ],
        cwd=benchlib.ROOT,
        capture_output=True,
        check=True,
    )
    by_thread: dict[str, tuple[collections.Counter[str], collections.Counter[str]]] = {}
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
        if not any(
            "run_collector" in f or "_connection_worker" in f or "Thread" in f for f in frames
        ):
            continue  # start-up and imports
        thread = "event loop thread" if "MainThread" in frames[0] else "other threads"
        own, inclusive = by_thread.setdefault(
            thread, (collections.Counter(), collections.Counter())
        )
        n = int(count)
        totals[thread] += n
        own[frames[-1]] += n
        for frame in set(frames):
            if "collector/" in frame:
                inclusive[frame] += n
    out = []
    for thread, (own, inclusive) in sorted(by_thread.items()):
        total = totals[thread]
        out.append(f"{thread}: {total} samples")
        out.append("  self time:")
        out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(12)]
        out.append("  inclusive, collector functions:")
        out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(12)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source", type=Path, action="append", default=[])
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    variants: list[tuple[str, Path | None, list[str]]] = [
        (describe(source), source, []) for source in args.source
    ]
    variants.append((describe(None), None, []))
    if args.variants:
        variants.append(("this checkout, GC defaults", None, ["--gc", "default"]))
        variants.append(("this checkout, asyncio loop", None, ["--loop", "asyncio"]))
        variants.append(
            (
                "this checkout, GC defaults, asyncio loop",
                None,
                ["--gc", "default", "--loop", "asyncio"],
            )
        )
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
            profiled = (
                profile(emulator.base_url, base / "profile", args.accounts) if args.profile else ""
            )
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
    if profiled:
        print(f"\npy-spy, this checkout, one run:\n\n{profiled}")


if __name__ == "__main__":
    main()
