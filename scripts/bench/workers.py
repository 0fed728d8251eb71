"""Throughput of 1, 2 and 4 worker processes on one queue, against the emulator's bounds.

    .venv/bin/python scripts/bench/workers.py [--accounts 200] [--days 90]
        [--latency-ms 50] [--concurrency 8] [--workers 1 2 4] [--store-url URL]

Each round starts a fresh store, enqueues one job (`ig-collector pull`, the
legacy catalogue over ``--days`` days for ``--accounts`` accounts), starts
``k`` `ig-collector worker` processes and times the job from the first worker's
start to the job's end (read from the store). The emulator answers after
``--latency-ms``; the latency bound of a round is requests x latency / (k x
concurrency): the wall time k workers would need if the network were the only
limit. Each round also checks that the store holds every requested point once
(its ledger ends with nothing pending). ``--store-url`` runs the rounds on a
PostgreSQL store (a schema of its own per round) instead of SQLite files.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    PYTHON,
    ROOT,
    emulator,
    machine,
    proc_cpu_s,
    scenario_toml,
    table,
    write_collector_config,
)


def cli(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "collector", "--log-format", "json", "--log-level", "error", *args],
        cwd=ROOT, text=True, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def job_state(config: Path, job: int) -> dict[str, object]:
    done = subprocess.run(
        [PYTHON, "-m", "collector", "--log-level", "error", "jobs", "--json", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"jobs failed: {done.stderr.strip()}")
    out = done.stdout
    for line in out.splitlines():
        info = json.loads(line)
        if info["id"] == job:
            return dict(info)
    raise RuntimeError(f"job {job} not listed")


def one_round(args: argparse.Namespace, base_url: str, k: int, folder: Path) -> list[object]:
    config = write_collector_config(
        folder, base_url, args.accounts, since=f"{args.days - 1}d", until="1d",
        concurrency=args.concurrency, ndjson=False,
    )  # fmt: skip
    store = "[store]\nlease_s = 30\npoll_s = 0.2\n"
    if args.store_url:
        store += f'url = "{args.store_url}"\nschema = "bench_{secrets.token_hex(4)}"\n'
    config.write_text(config.read_text() + "\n" + store)
    pull = subprocess.run(
        [PYTHON, "-m", "collector", "--log-level", "error", "pull", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    job = int(pull.stdout.split()[0])
    total = int(str(job_state(config, job)["total"]))
    started = time.monotonic()
    workers = [cli("worker", "--config", str(config)) for _ in range(k)]
    cpu = 0.0
    while True:
        time.sleep(0.2)
        cpu = sum(proc_cpu_s(w.pid) for w in workers)
        info = job_state(config, job)
        if info["pending"] == 0:
            break
    wall = time.monotonic() - started
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    codes = [worker.wait(60) for worker in workers]
    failed = int(str(info["failed"]))
    if not args.store_url:
        with sqlite3.connect(folder / "out.sqlite") as db:
            (points,) = db.execute("SELECT count(*) FROM insights").fetchone()
    else:
        points = "-"
    bound = total * args.latency_ms / 1000 / (k * args.concurrency)
    return [
        k, total, points, failed, f"{wall:.2f}", f"{total / wall:.0f}", f"{bound:.2f}",
        f"{wall / bound:.2f}", f"{cpu / total * 1000:.2f}", codes.count(0),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--store-url", default="")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "scenario.toml"
        scenario.write_text(scenario_toml(args.accounts, latency_ms=args.latency_ms))
        with emulator(scenario) as emu:
            for k in args.workers:
                rows.append(one_round(args, emu.base_url, k, Path(tmp) / f"round{k}"))
    print(machine())
    store = "PostgreSQL" if args.store_url else "SQLite"
    print(
        f"{store}; {args.accounts} accounts x {args.days} days, latency {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency} per worker"
    )
    print(
        table(
            ["workers", "requests", "points", "failed", "wall s", "req/s", "latency bound s",
             "wall / bound", "worker CPU ms/req", "exit 0"],
            rows,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
