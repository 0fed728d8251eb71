"""Peers: the same job for the collector and for the clients a user would pick instead.

    .venv/bin/python scripts/bench/peers.py [--accounts 100] [--latency-ms 50]
        [--jitter-ms 10] [--concurrency 32] [--repeat 1] [--clients NAME ...] [--work DIR]
        [--before DIR]

One run: a scenario of ``--accounts`` accounts is served by ``ig-collector emulator``
in its own process, with a latency uniform in ``latency-ms ± jitter-ms`` before every
answer (``--latency-ms 0 --jitter-ms 0``: none; the jitter is capped at the latency).
Each client then does the same job in a process of its own (``clients.py``): the
legacy metrics (v17.0) for 90 end_time dates of every account, to NDJSON. The
clients run one after the other against the same emulator; ``--repeat`` runs the
whole round that many times and keeps, per client, the round with the least CPU.
``--clients`` picks some of them (default: every peer; ``airbyte`` only when named).
``--before DIR`` adds a row for the collector of another checkout (an older commit's
``git worktree``), run by the same ``clients.py``, so before and after share one run.
``floor`` is a bare aiohttp loop over the same requests that parses each answer and
writes nothing: the floor of any asyncio client that understands the answer.

Prints a Markdown table (wall time, requests, CPU seconds per 1,000 requests = CPU
ms per request, peak RSS, lines written, the emulator's CPU for that client, and
each row's ratios to the collector and to pyfacebook-threads), then the three
ratios the issue asks for, each with the figures it divides:

    CPU per request, collector / pyfacebook-threads: X (goal <= 0.5)
    wall, collector / pyfacebook-threads at concurrency N: X (goal <= 0.5)
    CPU per request, collector / floor: X (goal <= 3)

The collector writes SQLite (points and ledger) as well as NDJSON; the peers write
NDJSON only; the floor writes nothing.

With ``airbyte`` among ``--clients``, a second section follows on the same emulator
and accounts: airbyte-source-instagram on its own job (it cannot do the peers'),
once, beside the collector on that same job (``airbyte_job.py``): accounts, days,
requests, requests per account-month, records, wall, CPU, CPU ms per request, peak
RSS, and ratios to the collector. The connector is installed by ``scripts/compat``'s
code into ``.compat/airbyte`` on first use (pip; a few minutes).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import benchlib

CLIENTS = ("collector", "pyfacebook-threads", "pyfacebook", "facebook-business", "floor")
THREADS = "pyfacebook-threads"
BEFORE = "collector (before)"  # --before: the collector of an older checkout


def run_round(
    base: Path,
    emulator: benchlib.Emulator,
    accounts: int,
    concurrency: int,
    clients: list[str],
    before: Path | None = None,
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for client in clients:
        folder = base / client
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        kind = "collector" if client == BEFORE else client
        argv = ["scripts/bench/clients.py", kind, "--out", str(folder)]
        if kind == "collector":
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
        source = before if client == BEFORE else None
        report = benchlib.run_child(argv, log=folder / "stderr.log", source=source)
        row = {k: float(v) for k, v in report.items() if isinstance(v, int | float)}
        row["emulator_cpu_s"] = emulator.cpu_s() - before
        results[client] = row
    return results


def ms_per_request(row: dict[str, float], key: str) -> float:
    return 1000 * row[key] / row["requests"]


def ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def field(row: dict[str, float] | None, key: str) -> float | None:
    return None if row is None else row[key]


def cpu_ms(row: dict[str, float] | None) -> float | None:
    return None if row is None else ms_per_request(row, "cpu_s")


def peers_table(best: dict[str, dict[str, float]], clients: list[str]) -> str:
    ref = best.get("collector")
    threads = best.get(THREADS)
    rows = []
    for client in clients:
        r = best[client]
        cpu = ms_per_request(r, "cpu_s")
        rows.append(
            [
                client,
                r["wall_s"],
                int(r["requests"]),
                r["requests"] / r["wall_s"],
                cpu,
                r["max_rss_mib"],
                int(r["lines"]),
                r["emulator_cpu_s"],
                ratio(r["wall_s"], field(ref, "wall_s")),
                ratio(cpu, cpu_ms(ref)),
                ratio(r["max_rss_mib"], field(ref, "max_rss_mib")),
                ratio(cpu, cpu_ms(threads)),
                ratio(r["wall_s"], field(threads, "wall_s")),
            ]
        )
    return benchlib.table(
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
            f"CPU / {THREADS}",
            f"wall / {THREADS}",
        ],
        rows,
    )


def goal_lines(best: dict[str, dict[str, float]], concurrency: int) -> list[str]:
    """The issue's three ratios (CPU is per request), each with what it divides."""
    ours = best.get("collector")
    if ours is None:
        return ["(no collector in --clients: no ratio against it)"]
    lines = []
    threads, floor = best.get(THREADS), best.get("floor")
    cpu = ms_per_request(ours, "cpu_s")
    if threads is not None:
        their = ms_per_request(threads, "cpu_s")
        lines.append(
            f"CPU per request, collector / {THREADS}: {cpu / their:.2f} (goal <= 0.5); "
            f"{cpu:.3f} ms vs {their:.3f} ms"
        )
        lines.append(
            f"wall, collector / {THREADS} at concurrency {concurrency}: "
            f"{ours['wall_s'] / threads['wall_s']:.2f} (goal <= 0.5); "
            f"{ours['wall_s']:.2f} s vs {threads['wall_s']:.2f} s, "
            f"{ms_per_request(ours, 'wall_s'):.3f} ms vs "
            f"{ms_per_request(threads, 'wall_s'):.3f} ms per request"
        )
    if floor is not None:
        theirs = ms_per_request(floor, "cpu_s")
        lines.append(
            f"CPU per request, collector / floor: {cpu / theirs:.2f} (goal <= 3); "
            f"{cpu:.3f} ms vs {theirs:.3f} ms"
        )
    return lines


def airbyte_section(
    base: Path, emulator: benchlib.Emulator, accounts: int, concurrency: int, latency: str
) -> str:
    import airbyte_job

    got = airbyte_job.run_airbyte(emulator, accounts, base / "airbyte")
    if isinstance(got, str):
        return f"airbyte-source-instagram: not run: {got}"
    airbyte, startup = got
    days = airbyte.days or 30
    ours = airbyte_job.run_collector(
        emulator, accounts, days, concurrency, base / "airbyte-collector"
    )
    if not airbyte.days:
        ours.notes.append("Airbyte covered no date: the collector's job took 30 days")
    return airbyte_job.report([ours, airbyte], latency) + "\n" + startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--work", type=Path, help="keep the clients' files here (default: a temp dir)"
    )
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=(*CLIENTS, "airbyte"),
        default=list(CLIENTS),
        help="the clients to run, in this order (default: every peer, not airbyte)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of an older commit (git worktree add DIR REV): its collector gets a"
        " row of its own, measured in the same run",
    )
    args = parser.parse_args()
    peers = [c for c in dict.fromkeys(args.clients) if c != "airbyte"]
    if args.before is not None:
        peers.insert(peers.index("collector") + 1 if "collector" in peers else 0, BEFORE)
    # Latency uniform in [fixed, fixed + 2 x jitter]: centred on --latency-ms, never < 0.
    jitter = min(args.jitter_ms, args.latency_ms)
    latency = f"{args.latency_ms:g} ± {jitter:g} ms"
    section = ""
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        base = args.work or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        scenario = base / "scenario.toml"
        scenario.write_text(
            benchlib.scenario_toml(
                args.accounts,
                latency_ms=args.latency_ms - jitter,
                jitter_ms=2 * jitter,
                agency="airbyte" in args.clients,
            )
        )
        best: dict[str, dict[str, float]] = {}
        with benchlib.emulator(scenario) as emulator:
            for _ in range(args.repeat if peers else 0):
                for client, row in run_round(
                    base, emulator, args.accounts, args.concurrency, peers, args.before
                ).items():
                    if client not in best or row["cpu_s"] < best[client]["cpu_s"]:
                        best[client] = row
            if "airbyte" in args.clients:
                section = airbyte_section(base, emulator, args.accounts, args.concurrency, latency)
    print(
        f"peers: {args.accounts} accounts x 90 days x 14 legacy metrics (v17.0), latency "
        f"{latency}, concurrency {args.concurrency}\n"
        f"machine: {benchlib.machine()}\n"
    )
    if peers:
        print(peers_table(best, peers))
        print()
        print("\n".join(goal_lines(best, args.concurrency)))
    if section:
        print("\n## airbyte-source-instagram on its own job\n")
        print(section)


if __name__ == "__main__":
    main()
