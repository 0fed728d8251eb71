"""airbyte-source-instagram on its own job, and the collector on that same job.

Used by ``peers.py --clients ... airbyte``. Airbyte's connector reads its own job,
not the peers': ``user_insights`` (``follower_count`` and ``reach`` daily, ``reach``
weekly and 28-day, ``online_followers``) from ``max(start_date, now - 30 days)`` in
one-day windows, and ``user_lifetime_insights`` (``follower_demographics`` by city,
country and ``age,gender``), on v21.0, for the accounts it finds through
``/me/accounts`` with one agency token (:data:`benchlib.AGENCY_TOKEN`). So it runs
here on the peers' accounts and emulator, once, read 1 from no state, and the
collector runs the same metrics and breakdowns over the same end_time dates.

The connector, its venv (``.compat/airbyte``, made by pip on first use) and its
environment (requests to graph.facebook.com reach the emulator) are those of
``scripts/compat``: its modules are imported from ``scripts/compatbed``, not copied.

Both clients are measured the same way, as whole processes: wall seconds, CPU
(user + system) and peak RSS from ``os.wait4`` on the process (interpreter start-up
and imports included, as the collector's own report leaves them out); requests are
counted in the emulator's call log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import benchlib

sys.path.append(str(benchlib.ROOT / "scripts" / "compatbed"))

import airbyte as compat_airbyte
import bed
from installs import ensure

from collector.graph.pacific import pacific_date

VERSION = "v21.0"  # Airbyte's (scripts/compatbed/job.py)
METRICS = ("follower_count", "reach", "online_followers", "follower_demographics")
PERIODS = ("day", "week", "days_28", "lifetime")
BREAKDOWNS = {"follower_demographics": ("city", "country", "age,gender")}
TIMEFRAMES = ("this_month",)
START_DAYS = 90  # start_date as scripts/compat gives it; the connector reads 30 days of it
TIMEOUT_S = 3600
POLL_S = 0.005


@dataclass(frozen=True)
class Measured:
    """One process, start to exit: its exit code, wall seconds, CPU seconds, peak RSS."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    stdout: Path


def measured(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    logs: Path,
    name: str,
    timeout_s: float,
) -> Measured:
    """Run ``argv`` in ``cwd`` (stdout to ``logs/name.out``, stderr to ``logs/name.err``)
    and take its own resource usage from ``os.wait4`` (its waited-for children
    included); killed after ``timeout_s``."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    started = time.perf_counter()
    with out.open("wb") as sink, err.open("wb") as errors:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=errors
        )
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout_s:
            process.kill()
        time.sleep(POLL_S)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,  # Linux: KiB
        out,
    )


@dataclass
class Row:
    """One client's figures on the job."""

    client: str
    accounts: int
    days: int
    requests: int
    other_requests: int  # not insights: /me/accounts, Page and node reads
    failed: int
    records: int
    run: Measured
    notes: list[str] = field(default_factory=list)

    def per_account_month(self) -> float:
        return self.requests / self.accounts / (self.days / 30) if self.days else 0.0

    def cpu_ms_per_request(self) -> float:
        return 1000 * self.run.cpu_s / self.requests if self.requests else 0.0


def _calls(emu: bed.Emulator, mark: int) -> tuple[int, int, int]:
    """(requests, of them not insights, of them failed) in the call log from ``mark``."""
    calls = emu.calls(mark)
    other = sum(1 for c in calls if c.route not in ("insights", "batch-item"))
    return len(calls), other, sum(1 for c in calls if c.failed)


def run_airbyte(emulator: benchlib.Emulator, accounts: int, work: Path) -> tuple[Row, str] | str:
    """Read 1 (from no state) of the connector, measured; and its start-up alone
    (``spec``) as a note. A string: why it could not run."""
    installed = ensure(compat_airbyte.VENV)
    if isinstance(installed, str):
        return installed
    work.mkdir(parents=True, exist_ok=True)
    emu = bed.Emulator(emulator.process, emulator.base_url)
    env = bed.client_env(emu, work / "blocked.log")
    exe = str(installed.venv.bin(compat_airbyte.COMMAND))
    start = pacific_date(dt.datetime.now(dt.UTC)) - dt.timedelta(days=START_DAYS - 1)
    config = work / "config.json"
    config.write_text(
        json.dumps({"access_token": benchlib.AGENCY_TOKEN, "start_date": f"{start}T00:00:00Z"})
    )
    spec = measured([exe, "spec"], env=env, cwd=work, logs=work, name="spec", timeout_s=300)
    discover = bed.run(
        [exe, "discover", "--config", str(config)],
        env=env,
        cwd=work,
        name="discover",
        timeout_s=300,
    )
    if discover.returncode != 0:
        return f"discover failed: exit {discover.returncode} {discover.stopped} (see {work})"
    compat_airbyte.write_catalog(compat_airbyte.messages(discover.stdout), work / "catalog.json")
    mark = emu.mark()
    read = measured(
        [exe, "read", "--config", str(config), "--catalog", str(work / "catalog.json")],
        env=env,
        cwd=work,
        logs=work,
        name="read1",
        timeout_s=TIMEOUT_S,
    )
    requests, other, failed = _calls(emu, mark)
    msgs = compat_airbyte.messages(read.stdout)
    series = compat_airbyte.records(msgs, "user_insights")
    lifetime = compat_airbyte.records(msgs, "user_lifetime_insights")
    dates: Counter[str] = Counter(r["business_account_id"] for r in series if "date" in r)
    days = max(dates.values(), default=0)
    row = Row(
        f"airbyte-source-instagram {installed.version}",
        len({r["business_account_id"] for r in series + lifetime}),
        days,
        requests,
        other,
        failed,
        len(series) + len(lifetime),
        read,
    )
    if read.returncode != 0:
        row.notes.append(f"the read exited {read.returncode} (see {work / 'read1.err'})")
    if row.accounts != accounts:
        row.notes.append(f"records for {row.accounts} of the {accounts} accounts")
    startup = (
        f"Airbyte's start-up alone (`source-instagram spec`, no request): {spec.cpu_s:.2f} s CPU, "
        f"{spec.wall_s:.2f} s wall, {spec.max_rss_mib:.0f} MiB"
    )
    return row, startup


def run_collector(
    emulator: benchlib.Emulator, accounts: int, days: int, concurrency: int, work: Path
) -> Row:
    """``clients.py collector`` (``run_once``) on Airbyte's metrics and breakdowns, v21.0,
    the last ``days`` end_time dates, the peers' accounts with their own tokens."""
    config = benchlib.write_collector_config(
        work,
        emulator.base_url,
        accounts,
        since=f"{days - 1}d",
        concurrency=concurrency,
        metrics=METRICS,
        api_version=VERSION,
        periods=PERIODS,
        breakdowns={k: list(v) for k, v in BREAKDOWNS.items()},
        timeframes=TIMEFRAMES,
    )
    emu = bed.Emulator(emulator.process, emulator.base_url)
    mark = emu.mark()
    run = measured(
        [benchlib.PYTHON, "scripts/bench/clients.py", "collector", "--config", str(config)],
        env=dict(os.environ),
        cwd=benchlib.ROOT,
        logs=work,
        name="collector",
        timeout_s=TIMEOUT_S,
    )
    requests, other, failed = _calls(emu, mark)
    reports = [
        json.loads(line[len("BENCH ") :])
        for line in run.stdout.read_text().splitlines()
        if line.startswith("BENCH ")
    ]
    report = reports[-1] if reports else {}
    row = Row(
        "collector",
        accounts,
        days,
        requests,
        other,
        failed,
        int(report.get("lines", 0)),
        run,
    )
    if run.returncode != 0 or report.get("failed"):
        row.notes.append(
            f"the collector exited {run.returncode}, {report.get('failed')} failed requests "
            f"(see {work / 'collector.err'})"
        )
    if report:
        row.notes.append(
            f"the collector's CPU inside run_once (start-up and imports left out): "
            f"{report['cpu_s']:.2f} s"
        )
    return row


def report(rows: list[Row], latency: str) -> str:
    """The section peers.py prints: a table with ratios against the collector, and notes."""
    ref = next(r for r in rows if r.client == "collector")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "n/a"

    table = benchlib.table(
        [
            "client",
            "accounts",
            "days",
            "requests",
            "req / account-month",
            "records",
            "wall s",
            "CPU s",
            "CPU ms / req",
            "peak RSS MiB",
            "req / collector",
            "wall / collector",
            "CPU / collector",
            "RSS / collector",
        ],
        [
            [
                r.client,
                r.accounts,
                r.days,
                r.requests,
                r.per_account_month(),
                r.records,
                r.run.wall_s,
                r.run.cpu_s,
                r.cpu_ms_per_request(),
                r.run.max_rss_mib,
                ratio(r.per_account_month(), ref.per_account_month()),
                ratio(r.run.wall_s, ref.run.wall_s),
                ratio(r.run.cpu_s, ref.run.cpu_s),
                ratio(r.run.max_rss_mib, ref.run.max_rss_mib),
            ]
            for r in rows
        ],
    )
    notes = [
        f"airbyte-source-instagram on its own job: {VERSION}, latency {latency}, read 1 from "
        "no state; follower_count, reach (day, week, days_28), online_followers in one-day "
        "windows from max(start_date, now - 30 d), and follower_demographics by city, country, "
        "age,gender. The collector: the same metrics, breakdowns and end_time dates (it asks "
        "reach for period=day only from v18: SPEC 2), the same accounts, one run.",
        "requests: every request in the emulator's call log, /me/accounts and Page reads "
        "included; records: Airbyte's RECORD messages (one per account-date, one per "
        "breakdown), the collector's points (one per value); ratios: this row / the collector "
        "(requests per account-month, wall, CPU, peak RSS).",
        "CPU and peak RSS: the whole process (os.wait4), interpreter start-up and imports "
        "included, for both clients.",
    ]
    for r in rows:
        if r.failed:
            r.notes.append(f"{r.failed} error answers")
        notes += [f"{r.client}: {n}" for n in r.notes]
        notes.append(f"{r.client}: {r.other_requests} of its requests were not insights")
    return "\n".join([table, "", *notes])
