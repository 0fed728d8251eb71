"""Store writes: points per second into SQLite and PostgreSQL per write method, and the
work queue's claim overhead per request.

    scripts/pg-up   # PostgreSQL running, its test role and database made
    .venv/bin/python scripts/bench/store_write.py [--accounts 200] [--days 90]
        [--repeat 3] [--queue 10000] [--claim 16] [--pg URL]

Points: the emulator's truth for the peers' job (legacy metrics, v17.0) of
``--accounts`` accounts over ``--days`` days, one outcome per account and series,
committed as the sink writer commits (batches of at most 200 outcomes and 5,000
points, one transaction each). Three passes per store, each timed on its own:
**new** (an empty store), **same** (every point again, unchanged: the comparison
alone), **10 % changed** (every point again, one in ten with a new value).
Stores: the SQLite file (``collector.storage.sqlite``) and PostgreSQL by each
write method of ``collector.storage.postgres_write`` (``copy``: COPY into a
TEMP stage, then ``INSERT ... SELECT ... ON CONFLICT``; ``values``: multi-row
``INSERT ... VALUES ... ON CONFLICT``). Each store starts empty (a new file, a
new schema); rounds are interleaved and each row keeps its fastest round.

Claim overhead: one job of ``--queue`` requests; claimers take ``--claim`` at a
time and commit each claim's outcomes (no_data, no points) under the fence,
until the queue is empty. Per request: the claim's share, the fenced commit's
share, and their sum; with one claimer and with four at once (four store
instances, i.e. four connections, as four processes would have).

Where the store has no queue yet (SQLite before its queue lands), its claim
rows say so.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import benchlib
import orjson
import psycopg

from collector.clock import FixedWallClock
from collector.emulator.scenario import parse_scenario
from collector.graph.pacific import pacific_date
from collector.model.outcome import Outcome
from collector.model.records import Point
from collector.model.rows import row_of
from collector.storage.postgres import PostgresStore
from collector.storage.postgres_write import WRITE_METHODS
from collector.storage.queue import Fence, JobSpec, QueuedRequest
from collector.storage.sqlite import Store

NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)
MAX_OUTCOMES, MAX_POINTS = 200, 5_000  # the sink writer's batch limits
PASSES = ("new", "same", "10 % changed")
Opener = Callable[[], Any]


def truth_outcomes(accounts: int, days: int) -> list[Outcome]:
    """The truth of the job as outcomes, one per account and (metric, period)."""
    scenario = parse_scenario(tomllib.loads(benchlib.scenario_toml(accounts)))
    today = pacific_date(NOW)
    first, last = today - dt.timedelta(days=days + 2), today - dt.timedelta(days=3)
    truth = benchlib.legacy_truth(
        scenario, [a.id for a in scenario.accounts], first, last, today, NOW.timestamp()
    )
    fetched = "2025-11-20T20:00:00Z"
    series: dict[tuple[str, str, str], list[Point]] = {}
    for (account, metric, period, end, dims), value in truth.items():
        point = Point(account, metric, period, end, orjson.loads(dims), value, "v17.0", fetched)
        series.setdefault((account, metric, period), []).append(point)
    return [
        Outcome(
            f"{a}|{m}|{p}", a, "bench-app", (m,), p, None, None, "done", tuple(map(row_of, ps)), 1
        )
        for (a, m, p), ps in series.items()
    ]


def changed(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The same outcomes with every tenth point's value moved by one."""
    out, n = [], 0
    for o in outcomes:
        points = []
        for p in o.points:
            if n % 10 == 0:
                p = Point(p.account_id, p.metric, p.period, p.end_time, p.dimensions,
                          p.value + 1, p.api_version, p.fetched_at)  # fmt: skip
            points.append(p)
            n += 1
        out.append(Outcome(o.key, o.account_id, o.app, o.metrics, o.period, o.since, o.until,
                           o.state, tuple(map(row_of, points)), o.attempts))  # fmt: skip
    return out


def batches(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    """The outcomes cut as the sink writer cuts them: 200 outcomes or 5,000 points."""
    out: list[list[Outcome]] = [[]]
    points = 0
    for o in outcomes:
        if out[-1] and (len(out[-1]) >= MAX_OUTCOMES or points + len(o.rows) > MAX_POINTS):
            out.append([])
            points = 0
        out[-1].append(o)
        points += len(o.rows)
    return out


async def write_passes(store: Any, passes: Sequence[list[list[Outcome]]]) -> list[float]:
    """Seconds per pass, each pass a list of batches committed one transaction each."""
    seconds = []
    for batch_list in passes:
        started = time.perf_counter()
        for batch in batch_list:
            async with store.transaction() as tx:
                await tx.record_outcomes(batch)
        seconds.append(time.perf_counter() - started)
    return seconds


async def claim_overhead(opener: Opener, queue: int, size: int, claimers: int) -> list[float]:
    """Seconds per request: claiming, committing under the fence, and both."""
    stores = [await opener() for _ in range(claimers)]
    try:
        if not hasattr(stores[0], "claim"):
            return []
        requests = (
            QueuedRequest(
                f"q{i}",
                f"acct{i % 200}",
                "bench-app",
                ("reach",),
                "day",
                1_700_000_000,
                1_700_086_400,
                "",
                i // 200,
            )
            for i in range(queue)
        )
        await stores[0].enqueue(JobSpec("pull", 10), requests)
        claim_s = [0.0] * claimers
        commit_s = [0.0] * claimers

        async def work(i: int) -> None:
            store, owner = stores[i], f"w{i}"
            while True:
                started = time.perf_counter()
                claims = await store.claim(owner, ["bench-app"], size, 60)
                claim_s[i] += time.perf_counter() - started
                if not claims:
                    return
                started = time.perf_counter()
                async with store.transaction() as tx:
                    await tx.record_outcomes(
                        [
                            Outcome(
                                c.key,
                                c.account_id,
                                c.app,
                                c.metrics,
                                c.period,
                                c.since,
                                c.until,
                                "no_data",
                                (),
                                1,
                            )
                            for c in claims
                        ],
                        Fence(owner, {c.key: c.token for c in claims}),
                    )
                commit_s[i] += time.perf_counter() - started

        started = time.perf_counter()
        await asyncio.gather(*(work(i) for i in range(claimers)))
        wall = time.perf_counter() - started
        return [sum(claim_s) / queue, sum(commit_s) / queue, wall / queue]
    finally:
        for store in stores:
            await store.close()


class Backends:
    """Fresh stores: a SQLite file in a temporary folder, or a new PostgreSQL schema."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.schemas: list[str] = []
        self.clock = FixedWallClock(NOW)

    def fresh(self, kind: str) -> Opener:
        """An opener of instances of one new, empty store of ``kind``."""
        if kind == "sqlite":
            path = self.folder / f"{secrets.token_hex(4)}.sqlite"
            return lambda: Store.open(path, clock=self.clock)
        schema = f"bench_{secrets.token_hex(4)}"
        self.schemas.append(schema)
        return lambda: PostgresStore.open(
            self.url, clock=self.clock, schema=schema, write_method=kind.split(" ")[-1]
        )

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.clear()


async def main_async(args: argparse.Namespace) -> None:
    outcomes = truth_outcomes(args.accounts, args.days)
    total = sum(len(o.rows) for o in outcomes)
    passes = [batches(outcomes), batches(outcomes), batches(changed(outcomes))]
    kinds = ["sqlite", *(f"postgres {m}" for m in WRITE_METHODS)]
    best: dict[str, list[float]] = {}
    claims: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends = Backends(args.pg, Path(tmp))
        try:
            for _ in range(args.repeat):
                for kind in kinds:
                    store = await backends.fresh(kind)()
                    try:
                        seconds = await write_passes(store, passes)
                    finally:
                        await store.close()
                    best[kind] = [
                        min(a, b) for a, b in zip(best.get(kind, seconds), seconds, strict=True)
                    ]
                    for claimers in (1, 4):
                        if kind == "postgres values":
                            continue  # the claim does not depend on the write method
                        opener = backends.fresh(kind)
                        got = await claim_overhead(opener, args.queue, args.claim, claimers)
                        old = claims.get((kind, claimers))
                        if got and (old is None or got[2] < old[2]):
                            claims[(kind, claimers)] = got
                backends.drop()
        finally:
            backends.drop()
    print(f"store_write: {args.accounts} accounts x {args.days} days of the legacy catalogue's"
          f" truth = {total:,} points in {len(passes[0])} batches; best of {args.repeat}")  # fmt: skip
    print(f"machine: {benchlib.machine()}; SQLite {__import__('sqlite3').sqlite_version}")
    print()
    rows = [[kind, *(f"{total / s:,.0f}" for s in best[kind])] for kind in kinds]
    print(benchlib.table(["store", *(f"{p} (points/s)" for p in PASSES)], rows))
    print()
    print(f"claim overhead: one job of {args.queue:,} requests, claims of {args.claim},"
          " each claim's no_data outcomes committed under its fence")  # fmt: skip
    print()
    rows = []
    for kind in kinds:
        for claimers in (1, 4):
            got = claims.get((kind, claimers))
            if kind == "postgres values":
                continue
            name = kind.replace(" copy", "")
            if not got:
                rows.append([name, claimers, "no queue yet", "", "", ""])
                continue
            claim, commit, wall = got
            rows.append([name, claimers, f"{claim * 1e3:.3f}", f"{commit * 1e3:.3f}",
                         f"{(claim + commit) * 1e3:.3f}", f"{1 / wall:,.0f}"])  # fmt: skip
    print(benchlib.table(
        ["store", "claimers", "claim ms/request", "fenced commit ms/request",
         "sum ms/request", "requests/s (all claimers)"], rows,
    ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queue", type=int, default=10_000)
    parser.add_argument("--claim", type=int, default=16)
    parser.add_argument(
        "--pg",
        default=os.environ.get("IG_TEST_PG_URL", "postgresql://igc:igc@127.0.0.1:5432/igc_test"),
        help="PostgreSQL URL (default: $IG_TEST_PG_URL, else scripts/pg-up's)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
