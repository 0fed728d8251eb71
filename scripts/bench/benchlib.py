"""Shared pieces of the benchmarks: scenarios, an emulator subprocess, configs, measurement.

Not a test helper and not part of the package: the scripts beside this file import
it (``sys.path[0]`` is this folder when one of them runs).

Measurement model: every client runs in a process of its own (a child of the
benchmark script), so its CPU time and peak RSS are its own; the emulator runs in
another process. A child reports ``resource.getrusage(RUSAGE_SELF)`` taken right
before and after its job (so interpreter start and imports are not counted in
CPU; they are in peak RSS, which is a high-water mark).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import platform
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from collector.emulator.scenario import Scenario, implied_page_id
from collector.emulator.truth import truth_points
from collector.graph import catalogue

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# the collector's own list of the 14 legacy metrics (SPEC section 2)
LEGACY_METRICS: tuple[str, ...] = catalogue.LEGACY_METRICS
PERIODS: tuple[str, ...] = ("day", "week", "days_28", "lifetime")
APP_NAME, APP_ID, APP_SECRET = "bench-app", "300000000000001", "bench-secret"
# Followers cycle through sizes so some accounts sit under 100 (empty 30-day metrics).
FOLLOWERS: tuple[int, ...] = (5400, 120000, 830, 47, 15200, 2300, 410000, 7600, 99, 31000)


def account_id(i: int) -> str:
    return f"1784150{i:010d}"


def token(i: int) -> str:
    return f"EAAbench{i:08d}"


# One user token (an agency's system user) that sees every account's Page, for a
# connector that finds its accounts itself through /me/accounts (Airbyte's).
AGENCY_TOKEN = "EAAbenchAgencySystemUser"


# -- scenario -------------------------------------------------------------------------


def scenario_toml(
    n_accounts: int,
    *,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    app_calls: int = 10_000_000,
    app_window_s: float = 3600.0,
    seed: int = 20261130,
    agency: bool = False,
) -> str:
    """A scenario of one app and ``n_accounts`` accounts, each with its own token;
    ``agency``: and :data:`AGENCY_TOKEN`, which sees every account's Page (declared with
    the id the emulator implies for it, so the accounts' own tokens reach the same Pages)."""
    lines = [
        f"seed = {seed}",
        "revision_hours = 48",
        "[limits]",
        f"app_calls = {app_calls}",
        f"app_window_s = {app_window_s}",
        "buc_calls = 10000000",
        "buc_window_s = 86400",
        "[latency]",
        f"fixed_ms = {latency_ms}",
        f"jitter_ms = {jitter_ms}",
        "[[apps]]",
        f'name = "{APP_NAME}"',
        f'app_id = "{APP_ID}"',
        f'app_secret = "{APP_SECRET}"',
        "require_proof = false",
    ]
    if agency:
        pages = ", ".join(f'"{implied_page_id(account_id(i))}"' for i in range(n_accounts))
        lines += [
            "[[tokens]]",
            f'token = "{AGENCY_TOKEN}"',
            f'app = "{APP_NAME}"',
            'user_id = "300000000000099"',
            f"pages = [{pages}]",
        ]
        for i in range(n_accounts):
            lines += [
                "[[pages]]",
                f'id = "{implied_page_id(account_id(i))}"',
                f'name = "bench page {i}"',
                f'account = "{account_id(i)}"',
            ]
    for i in range(n_accounts):
        lines += [
            "[[accounts]]",
            f'id = "{account_id(i)}"',
            f"followers = {FOLLOWERS[i % len(FOLLOWERS)]}",
            f'token = "{token(i)}"',
            f'app = "{APP_NAME}"',
            f'business_id = "{900000 + i // 4}"',
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Emulator:
    """A running ``ig-collector emulator`` subprocess."""

    process: subprocess.Popen[str]
    base_url: str

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the emulator process has used so far."""
        return proc_cpu_s(self.process.pid)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def emulator(scenario_path: Path, *, extra: Sequence[str] = ()) -> Iterator[Emulator]:
    """Serve ``scenario_path`` from a child process on a free loopback port."""
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "collector",
            "emulator",
            "--port",
            "0",
            "--scenario",
            str(scenario_path),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield Emulator(process, line.rsplit(" ", 1)[1].strip())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- collector config -----------------------------------------------------------------


def write_collector_config(
    folder: Path,
    base_url: str,
    n_accounts: int,
    *,
    since: str = "89d",
    until: str = "0d",
    concurrency: int = 32,
    calls_per_hour: float = 36_000_000,
    ndjson: bool = True,
    log_level: str = "warning",
    metrics: Sequence[str] = LEGACY_METRICS,
    first_account: int = 0,
    api_version: str = "v17.0",
    periods: Sequence[str] = PERIODS,
    breakdowns: dict[str, Sequence[str]] | None = None,
    timeframes: Sequence[str] = (),
) -> Path:
    """A config and a registry CSV for accounts ``first_account ..`` in ``folder``.

    ``breakdowns`` (metric -> breakdowns) and ``timeframes`` fill ``[collect]`` as
    the config reference names them; by default the legacy job has neither.
    """
    folder.mkdir(parents=True, exist_ok=True)
    registry = folder / "accounts.csv"
    with registry.open("w") as handle:
        handle.write("id,app,token,label\n")
        for i in range(first_account, first_account + n_accounts):
            handle.write(f"{account_id(i)},{APP_NAME},{token(i)},bench {i}\n")
    metric_list = ", ".join(f'"{m}"' for m in metrics)
    period_list = ", ".join(f'"{p}"' for p in periods)
    extra = ""
    if timeframes:
        extra += "timeframes = [" + ", ".join(f'"{t}"' for t in timeframes) + "]\n"
    if breakdowns:
        extra += "\n[collect.breakdowns]\n" + "".join(
            f"{metric} = [" + ", ".join(f'"{b}"' for b in names) + "]\n"
            for metric, names in breakdowns.items()
        )
    ndjson_path = str(folder / "out.ndjson") if ndjson else ""
    config = folder / "config.toml"
    config.write_text(
        f'[graph]\nbase_url = "{base_url}"\napi_version = "{api_version}"\n'
        f"concurrency = {concurrency}\ntimeout_s = 30\n\n"
        f'[registry]\npath = "{registry}"\n\n'
        f'[[apps]]\nname = "{APP_NAME}"\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\n'
        f"calls_per_hour = {calls_per_hour}\n\n"
        f"[collect]\nmetrics = [{metric_list}]\nperiods = [{period_list}]\n"
        f'since = "{since}"\nuntil = "{until}"\n{extra}\n'
        f'[output]\nndjson = "{ndjson_path}"\nsqlite = "{folder / "out.sqlite"}"\n\n'
        f'[log]\nformat = "json"\nlevel = "{log_level}"\n'
    )
    return config


# -- ground truth -------------------------------------------------------------------

Key = tuple[str, str, str, str, bytes]
HISTORY_LIMITED = ("follower_count", "online_followers")  # SPEC 2: the last 30 days only


def legacy_pairs() -> list[tuple[str, str]]:
    """The (metric, period) series the legacy catalogue serves (SPEC 2)."""
    pairs: list[tuple[str, str]] = []
    for metric in LEGACY_METRICS:
        if metric in ("impressions", "reach"):
            pairs += [(metric, period) for period in ("day", "week", "days_28")]
        elif metric == "online_followers" or metric.startswith("audience_"):
            pairs.append((metric, "lifetime"))
        else:
            pairs.append((metric, "day"))
    return pairs


def legacy_truth(
    scenario: Scenario,
    accounts: Iterable[str],
    first: dt.date,
    last: dt.date,
    today: dt.date,
    now: float,
) -> dict[Key, float]:
    """What a pull of the legacy catalogue over ``first..last`` must store, per the emulator."""
    out: dict[Key, float] = {}
    for account in accounts:
        for metric, period in legacy_pairs():
            lo, hi = first, last
            if metric in HISTORY_LIMITED:
                lo, hi = max(first, today - dt.timedelta(days=29)), min(last, today)
            for end, dims, value in truth_points(
                scenario,
                account_id=account,
                metric=metric,
                period=period,
                first_end_date=lo,
                last_end_date=hi,
                now=now,
            ):
                out[
                    (account, metric, period, end, orjson.dumps(dims, option=orjson.OPT_SORT_KEYS))
                ] = value
    return out


def stored_points(sqlite: Path) -> dict[Key, float]:
    """The points of a collector's SQLite file, keyed as :func:`legacy_truth` keys them."""
    with sqlite3.connect(sqlite) as db:
        return {
            (a, m, p, e, orjson.dumps(orjson.loads(d), option=orjson.OPT_SORT_KEYS)): v
            for a, m, p, e, d, v in db.execute(
                "SELECT account_id, metric, period, end_time, dimensions, value FROM insights"
            )
        }


# -- measuring a child ----------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """CPU seconds and peak RSS (MiB) of this process."""

    cpu_s: float
    max_rss_mib: float


def usage_now() -> Usage:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return Usage(ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024)  # Linux: KiB


def child_report(started: Usage, wall_s: float, **fields: object) -> None:
    """Print the child's one-line JSON report on stdout (the parent reads the last line)."""
    ended = usage_now()
    report = {
        "wall_s": wall_s,
        "cpu_s": ended.cpu_s - started.cpu_s,
        "max_rss_mib": ended.max_rss_mib,
        **fields,
    }
    print("BENCH " + json.dumps(report), flush=True)


def gc_timer() -> Callable[[], float]:
    """Start timing the cyclic garbage collector; the returned function gives its seconds."""
    spent = [0.0, 0.0]

    def callback(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.callbacks.append(callback)
    return lambda: spent[0]


def run_child(
    argv: Sequence[str], *, log: Path | None = None, source: Path | None = None
) -> dict[str, object]:
    """Run ``argv`` (a Python script and its arguments) and return its JSON report.

    ``source``: import ``collector`` from that checkout instead (PYTHONPATH).
    """
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    err = log.open("w") if log is not None else subprocess.DEVNULL
    try:
        done = subprocess.run(
            [PYTHON, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            check=False,
            env=env,
        )
    finally:
        if log is not None and not isinstance(err, int):
            err.close()
    reports = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode not in (0, 1) or not reports:
        where = f" (see {log})" if log is not None else ""
        raise RuntimeError(f"{argv[0]} failed with exit code {done.returncode}{where}")
    report: dict[str, object] = json.loads(reports[-1][len("BENCH ") :])
    report["exit_code"] = done.returncode
    return report


class Timer:
    """``with Timer() as t: ...`` then ``t.s``: wall seconds on the monotonic clock."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        self.s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self._start


def machine() -> str:
    """One line naming the machine: cores, CPU model, Python, date."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {dt.date.today().isoformat()}"
    )


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats with two decimals unless already text."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
