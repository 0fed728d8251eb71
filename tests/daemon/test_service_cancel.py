"""A daemon cancelled mid-history-run (a second SIGTERM): none of its tasks outlive run(), and
every answered request is committed once."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path

import orjson
import pytest

from collector.clock import ManualClock
from collector.config.load import Config, load_config
from collector.daemon.service import Daemon
from collector.engine.summary import RunSummary
from collector.graph.pacific import PACIFIC, end_time_of
from collector.graph.transport import GraphRequest, GraphResponse
from tests.polling import until

NOW = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)
# the tasks the daemon and its runs start, by the names they give them
DAEMON_TASKS = (
    "daemon-stats", "daemon-preempt", "token-check-", "pool", "grace", "worker-", "sink-writer",
    "within",
)  # fmt: skip


def config(tmp_path: Path) -> Config:
    path = tmp_path / "c.toml"
    accounts = "".join(
        f'[[accounts]]\nid = "{i}"\napp = "app"\ntoken = "EAAtoken{i}"\n' for i in (111, 222)
    )
    path.write_text(
        '[graph]\napi_version = "v17.0"\nconcurrency = 2\n'
        '[[apps]]\nname = "app"\napp_id = "1"\ncalls_per_hour = 3600000\n'
        f"{accounts}"
        '[collect]\nmetrics = ["reach"]\nsince = "10d"\n'
        f'[output]\nsqlite = "{tmp_path / "out.sqlite"}"\nndjson = "{tmp_path / "out.ndjson"}"\n'
        '[daemon]\nbackfill = "120d"\nlookback = 2\nrefresh_interval = "1h"\n'
        'stats_interval = "1m"\ngrace_s = 30\n'
    )
    return load_config(path)


class HistoryGate:
    """A Transport that answers every request of the refresh run and the first ``answer``
    of the history run, each with a value per date, and holds the rest until cancelled."""

    def __init__(self, answer: int) -> None:
        self.answer = answer
        self.history = False  # set when the refresh run has ended
        self.answered: list[str] = []
        self.held = 0
        self.sent: Counter[tuple[str, ...]] = Counter()

    async def send(self, request: GraphRequest) -> GraphResponse:
        self.sent[(request.path, *(f"{k}={v}" for k, v in request.params))] += 1
        if self.history:
            if self.answer <= 0:
                self.held += 1
                await asyncio.Event().wait()
            self.answer -= 1
        self.answered.append(request.path)
        return _values(request)


def _values(request: GraphRequest) -> GraphResponse:
    params = dict(request.params)
    first = dt.datetime.fromtimestamp(int(params["since"]), PACIFIC).date()
    last = dt.datetime.fromtimestamp(int(params["until"]), PACIFIC).date()
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    values = [
        {"value": d.toordinal() % 97, "end_time": end_time_of(d).replace("Z", "+0000")}
        for d in days
    ]
    entry = {"name": params["metric"], "period": params["period"], "values": values}
    return GraphResponse(200, {"data": [entry]})


def daemon_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(DAEMON_TASKS)]


def stored(tmp_path: Path) -> tuple[Counter[str], int, int]:
    """The ledger's states, the SQLite points and the NDJSON lines (with identities unique)."""
    with sqlite3.connect(tmp_path / "out.sqlite") as db:
        states = Counter(s for (s,) in db.execute("SELECT state FROM ledger"))
        points = db.execute("SELECT count(*) FROM insights").fetchone()[0]
    lines = [
        orjson.loads(line)
        for path in tmp_path.glob("out*.ndjson")
        for line in path.read_bytes().splitlines()
    ]
    identities = {(d["account_id"], d["metric"], d["period"], d["end_time"]) for d in lines}
    assert len(identities) == len(lines), "a point was written twice"
    return states, points, len(lines)


async def test_a_cancelled_daemon_leaves_no_task_and_commits_each_answer_once(
    tmp_path: Path,
) -> None:
    """Cancelling run() while a history run holds requests in flight ends the stats loop, the
    preempt timer, the workers and the writer before run() returns; every answered request
    is committed once and the held ones stay pending."""
    transport = HistoryGate(answer=3)

    def on_run(kind: str, _summary: RunSummary) -> None:
        transport.history = kind == "refresh"

    daemon = Daemon(config(tmp_path), clock=ManualClock(NOW), transport=transport, on_run=on_run)
    running = asyncio.create_task(daemon.run(), name="test-daemon")
    await until(lambda: transport.held == 2, seconds=10.0)  # both workers hold a history request
    assert {"daemon-stats", "daemon-preempt", "sink-writer"} <= set(daemon_tasks())
    daemon.request_stop()  # SIGTERM: take no more work, wait for the grace period
    daemon.request_stop()  # a second one: cancel at once
    with pytest.raises(asyncio.CancelledError):
        await running
    assert daemon_tasks() == []
    states, points, lines = stored(tmp_path)
    assert states["done"] == len(transport.answered)
    assert states["pending"] > 0 and set(states) == {"done", "pending"}
    assert points == lines > 0
    assert set(transport.sent.values()) == {1}
