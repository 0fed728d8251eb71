"""The bed itself: the emulator in a process of its own, its call log, and client runs.

Every client runs as a child process in the machine's environment with these set:
``PYTHONPATH`` (the folder of this bed's ``redirect/sitecustomize.py``),
``COMPAT_GRAPH_URL`` (the emulator), ``COMPAT_BLOCKED_LOG`` (where refused host names
go), ``DEPLOYMENT_MODE=oss`` (Airbyte's CDK: not its cloud mode, whose URL filter
refuses loopback) and ``NO_PROXY`` for loopback; any ``PYTHON*`` or ``VIRTUAL_ENV`` of
the bed's own interpreter is left out. The client's code and files are not touched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REDIRECT = HERE / "redirect"
COLLECTOR = ROOT / ".venv" / "bin" / "ig-collector"
POLL_S = 0.1  # how often a running client is checked against its bounds
# The emulator's own route (collector/emulator/control.py); no proxy may answer it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Call:
    """One record of the emulator's call log, as ``GET /_emulator/calls`` gives it."""

    route: str
    status: int
    code: int | None
    account: str | None
    path: str
    params: dict[str, str]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Call:
        return cls(
            raw["route"], raw["status"], raw["code"], raw["account"], raw["path"], raw["params"]
        )

    @property
    def failed(self) -> bool:
        return self.status >= 400 or self.status == 0


@dataclass
class Emulator:
    """A running ``ig-collector emulator``; :meth:`calls` reads its log from ``start``."""

    process: subprocess.Popen[str]
    base_url: str

    def mark(self) -> int:
        """The index the next call will have."""
        return int(self._read(0)["next"])

    def calls(self, start: int, end: int | None = None) -> list[Call]:
        """Calls served from index ``start`` (a :meth:`mark`) up to ``end`` (exclusive)."""
        raw = self._read(start)["calls"]
        if end is not None:
            raw = raw[: max(0, end - start)]
        return [Call.of(r) for r in raw]

    def _read(self, start: int) -> dict[str, Any]:
        with _OPENER.open(f"{self.base_url}/_emulator/calls?start={start}", timeout=30) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]


@contextmanager
def emulator(scenario: Path, log: Path) -> Iterator[Emulator]:
    """Serve ``scenario`` on a free loopback port, on the real clock, until the block ends."""
    with log.open("w") as err:
        process = subprocess.Popen(
            [str(COLLECTOR), "emulator", "--port", "0", "--scenario", str(scenario)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start (see {log}): {line.strip()!r}")
        yield Emulator(process, line.rsplit(" ", 1)[1].strip())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client_env(emu: Emulator, blocked_log: Path) -> dict[str, str]:
    """The machine's environment, pointed at ``emu`` (see the module docstring)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "COMPAT_"))
    }
    env.update(
        PYTHONPATH=str(REDIRECT),
        COMPAT_GRAPH_URL=emu.base_url,
        COMPAT_BLOCKED_LOG=str(blocked_log),
        DEPLOYMENT_MODE="oss",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@dataclass(frozen=True)
class Run:
    """One child process: its exit code (``None``: stopped by the bed), where its output
    went, how long it took and why it was stopped, if it was."""

    returncode: int | None
    stdout: Path
    stderr: Path
    seconds: float
    stopped: str = ""


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    name: str,
    timeout_s: float,
    max_lines: int | None = None,
) -> Run:
    """Run ``argv``, stdout to ``cwd/name.out`` and stderr to ``cwd/name.err``.

    Stopped (SIGTERM, then SIGKILL) after ``timeout_s`` or once stdout has
    ``max_lines`` lines: a client that pages forever is bounded here.
    """
    out, err = cwd / f"{name}.out", cwd / f"{name}.err"
    started = time.monotonic()
    stopped = ""
    with out.open("wb") as sink, err.open("wb") as errors:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=errors
        )
        try:
            while process.poll() is None:
                time.sleep(POLL_S)
                if time.monotonic() - started > timeout_s:
                    stopped = f"stopped after {timeout_s:.0f} s"
                elif max_lines is not None and _lines(out) >= max_lines:
                    stopped = f"stopped at {max_lines} output lines"
                if stopped:
                    break
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    code = None if stopped else process.returncode
    return Run(code, out, err, time.monotonic() - started, stopped)


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@dataclass
class Outcome:
    """What one client did: the figures of the report's table, and lines that explain them.

    ``problems`` are broken expectations (the bed exits 1 if any client has one);
    ``notes`` are what the client does that is its own business (its bugs, its limits).
    """

    client: str
    version: str = ""
    skipped: str = ""
    requests: int = 0
    records: int = 0
    equal: int = 0
    errors: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    traffic: Traffic | None = None

    def add_calls(self, calls: list[Call]) -> None:
        self.requests += len(calls)
        self.errors += sum(1 for c in calls if c.failed)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


@dataclass(frozen=True)
class Traffic:
    """A client's requests for the job: insights calls over series and lifetime metrics,
    the other reads (accounts, nodes), and the dates its series covered."""

    accounts: int
    dates: int
    series_requests: int
    lifetime_requests: int
    other_requests: int

    def per_account_month(self, requests: int) -> float | None:
        """``requests`` per account and 30 end_time dates (``None``: no date covered)."""
        if self.accounts == 0 or self.dates == 0:
            return None
        return requests / self.accounts / (self.dates / 30)

    @property
    def total(self) -> int:
        return self.series_requests + self.lifetime_requests + self.other_requests


LIFETIME_METRICS = ("follower_demographics", "engaged_audience_demographics", "audience_")


def traffic_of(calls: list[Call], accounts: int, dates: int) -> Traffic:
    """Split ``calls`` into series insights, lifetime-map insights and other reads."""
    kinds: Counter[str] = Counter()
    for call in calls:
        if call.route not in ("insights", "batch-item"):
            kinds["other"] += 1
        elif metric_names(call.params.get("metric", ""))[0].startswith(LIFETIME_METRICS):
            kinds["lifetime"] += 1
        else:
            kinds["series"] += 1
    return Traffic(accounts, dates, kinds["series"], kinds["lifetime"], kinds["other"])


def metric_names(raw: str) -> list[str]:
    """The metric names of a ``metric`` parameter: ``a,b`` or a JSON array (facebook-business)."""
    text = raw.strip()
    if text.startswith("["):
        return [str(name) for name in json.loads(text)] or [""]
    return text.split(",")


def blocked_hosts(work: Path) -> list[str]:
    """Host names the sitecustomize refused to a client working in ``work``."""
    log = work / "blocked.log"
    return sorted(set(log.read_text().split())) if log.exists() else []


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced (a client's own error lines may hold its token)."""
    for secret in secrets:
        text = text.replace(secret, "[token]")
    return text


def last_line(path: Path, secrets: Sequence[str]) -> str:
    """The last non-empty line of a file, secrets and URLs (which may hold a token)
    removed, at most 240 characters."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return ""
    return re.sub(r"https?://\S+", "<url>", redact(lines[-1], secrets))[:240]
