"""Peers: the same job for the collector and for the clients a user would pick instead.

    .venv/bin/python scripts/bench/peers.py [--accounts 100] [--latency-ms 50]
        [--jitter-ms 10] [--concurrency 32] [--repeat 1]

One run: a scenario of ``--accounts`` accounts is served by ``ig-collector emulator``
in its own process, with ``latency-ms ± jitter-ms`` before every answer (uniform).
Each client then does the same job in a process of its own (``clients.py``): the
legacy metrics (v17.0) for 90 end_time dates of every account, to NDJSON. The
clients run one after the other against the same emulator; ``--repeat`` runs the
whole round that many times and keeps, per client, the round with the least CPU.

Prints a Markdown table (wall time, requests, CPU seconds per 1,000 requests, peak
RSS, lines written, the emulator's CPU for that client) and the ratios against
the collector. The collector writes SQLite (points and ledger) as well as NDJSON;
the peers write NDJSON only.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import benchlib

CLIENTS = ("collector", "pyfacebook-threads", "pyfacebook", "facebook-business")


def run_round(
    base: Path, emulator: benchlib.Emulator, accounts: int, concurrency: int
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for client in CLIENTS:
        folder = base / client
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        argv = ["scripts/bench/clients.py", client, "--out", str(folder)]
        if client == "collector":
            config = benchlib.write_collector_config(
                folder, emulator.base_url, accounts, concurrency=concurrency
            )
            argv += ["--config", str(config)]
        else:
            argv += [
                "--base-url",
                emulator.base_url,
                "--accounts",
                str(accounts),
                "--concurrency",
                str(concurrency),
            ]
        before = emulator.cpu_s()
        report = benchlib.run_child(argv, log=folder / "stderr.log")
        row = {k: float(v) for k, v in report.items() if isinstance(v, int | float)}
        row["emulator_cpu_s"] = emulator.cpu_s() - before
        results[client] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        base = Path(tmp)
        scenario = base / "scenario.toml"
        # Latency uniform in [fixed, fixed + jitter]: centre it on --latency-ms.
        scenario.write_text(
            benchlib.scenario_toml(
                args.accounts,
                latency_ms=args.latency_ms - args.jitter_ms,
                jitter_ms=2 * args.jitter_ms,
            )
        )
        best: dict[str, dict[str, float]] = {}
        with benchlib.emulator(scenario) as emulator:
            for _ in range(args.repeat):
                for client, row in run_round(
                    base, emulator, args.accounts, args.concurrency
                ).items():
                    if client not in best or row["cpu_s"] < best[client]["cpu_s"]:
                        best[client] = row
    print(
        f"peers: {args.accounts} accounts x 90 days x 14 legacy metrics (v17.0), latency "
        f"{args.latency_ms:g} ± {args.jitter_ms:g} ms, concurrency {args.concurrency}\n"
        f"machine: {benchlib.machine()}\n"
    )
    rows = []
    ref = best["collector"]
    for client in CLIENTS:
        r = best[client]
        cpu_per_k = 1000 * r["cpu_s"] / r["requests"]
        ref_cpu_per_k = 1000 * ref["cpu_s"] / ref["requests"]
        rows.append(
            [
                client,
                r["wall_s"],
                int(r["requests"]),
                r["requests"] / r["wall_s"],
                cpu_per_k,
                r["max_rss_mib"],
                int(r["lines"]),
                r["emulator_cpu_s"],
                f"{r['wall_s'] / ref['wall_s']:.2f}",
                f"{cpu_per_k / ref_cpu_per_k:.2f}",
                f"{r['max_rss_mib'] / ref['max_rss_mib']:.2f}",
            ]
        )
    print(
        benchlib.table(
            [
                "client",
                "wall s",
                "requests",
                "req/s",
                "CPU s / 1,000 req",
                "peak RSS MiB",
                "NDJSON lines",
                "emulator CPU s",
                "wall / collector",
                "CPU / collector",
                "RSS / collector",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
