"""The daemon's /metrics, /healthz and /readyz over real HTTP, against the emulator."""

from __future__ import annotations

import ipaddress
import socket
import sqlite3
import time
from collections import Counter
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from collector.config.daemon import split_address
from collector.config.load import load_config
from collector.daemon.service import Daemon
from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator
from collector.logs import token_fingerprint
from tests.e2e.helpers import NOW, small_scenario
from tests.e2e.test_daemon import EmulatorWall, _config, _next_run, _running, _runs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a scrape by sample name, read with prometheus-client's own parser."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def _ndjson_lines(folder: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("insights*.ndjson"))


async def test_metrics_agree_with_the_emulator_call_log_and_the_store(tmp_path: Path) -> None:
    """After a refresh and a history run, /metrics counts every call the emulator logged and every point stored."""
    scenario = small_scenario()
    clock = FixedClock(NOW.timestamp())  # still: nothing is revised, each point written once
    port = _free_port()
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(
            tmp_path,
            scenario,
            emulator,
            f'refresh_interval = "1h"\nbackfill = "20d"\nmetrics_address = "127.0.0.1:{port}"\n',
        )
        queue, on_run = _runs()
        config = load_config(path)
        daemon = Daemon(config, clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        async with _running(daemon):
            await _next_run(queue, "refresh")
            await _next_run(queue, "history")
            status, text = await _get(f"http://127.0.0.1:{port}/metrics")
            health = await _get(f"http://127.0.0.1:{port}/healthz")
            ready = await _get(f"http://127.0.0.1:{port}/readyz")
        records = emulator.calls.records()
    assert status == 200
    assert health == (200, '{"alive":true}\n')
    assert ready == (200, '{"ready":true,"reason":"ok"}\n')
    samples = _samples(text)
    by_app: Counter[str] = Counter()
    for labels, value in samples["ig_collector_requests_total"]:
        assert labels["outcome"] == "ok" or value == 0  # a fault-free scenario
        by_app[labels["app"]] += int(value)
    # debug_token is logged without an app: one call per distinct token, paid by its app
    checks = Counter(app for app, _ in {(a.app, a.token) for a in scenario.accounts})
    assert Counter(r.route for r in records if not r.app) == {Route.DEBUG_TOKEN: checks.total()}
    assert by_app == Counter(r.app for r in records if r.app) + checks
    assert sum(by_app.values()) == len(records)
    timed = sum(v for _, v in samples["ig_collector_request_duration_seconds_count"])
    assert timed == len(records)
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        stored = db.execute("SELECT count(*) FROM insights").fetchone()[0]
    points = {
        labels["sink"]: value for labels, value in samples["ig_collector_points_written_total"]
    }
    assert points == {"sqlite": stored, "ndjson": _ndjson_lines(tmp_path)}
    assert stored > 0
    usage = samples["ig_collector_app_usage_ratio"]
    assert {labels["app"] for labels, _ in usage} == {a.name for a in scenario.apps}
    assert all(0.0 <= value <= 1.0 for _, value in usage)
    lags = samples["ig_collector_account_lag_seconds"]
    assert {labels["account"] for labels, _ in lags} == {a.id for a in scenario.accounts}
    assert all(0 <= value < 2 * 86_400 for _, value in lags)  # yesterday is the newest complete day
    queue_depth = {labels["kind"]: v for labels, v in samples["ig_collector_queue_depth"]}
    assert queue_depth == {"claimable": 0, "pending": 0}
    expiry = {
        labels["token_fingerprint"] for labels, _ in samples["ig_collector_token_expiry_seconds"]
    }
    assert expiry <= {token_fingerprint(a.token) for a in scenario.accounts}
    (cycle,) = samples["ig_collector_last_cycle_timestamp_seconds"]
    assert abs(cycle[1] - NOW.timestamp()) < 5


async def test_the_scrape_carries_no_secret_and_the_default_binds_loopback(tmp_path: Path) -> None:
    """No configured token or app secret appears anywhere in a scrape, and the default address is loopback."""
    scenario = small_scenario()
    clock = FixedClock(NOW.timestamp())
    port = _free_port()
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(tmp_path, scenario, emulator, f'metrics_address = "127.0.0.1:{port}"\n')
        queue, on_run = _runs()
        config = load_config(path)
        daemon = Daemon(config, clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        async with _running(daemon):
            await _next_run(queue, "refresh")
            scrapes = [
                (await _get(f"http://127.0.0.1:{port}{p}"))[1] for p in ("/metrics", "/readyz")
            ]
    secrets = [a.token for a in config.accounts] + [
        a.app_secret for a in config.apps if a.app_secret
    ]
    assert secrets and "ig_collector_requests_total" in scrapes[0]
    for text in scrapes:
        for secret in secrets:
            assert secret not in text
    default = load_config(_config(tmp_path, scenario, emulator, "")).daemon.metrics_address
    host, _ = split_address(default)
    assert default == "127.0.0.1:9464" and ipaddress.ip_address(host).is_loopback


async def test_readyz_follows_the_store_without_a_restart(tmp_path: Path) -> None:
    """/readyz answers 503 while another process holds the SQLite write lock, and 200 again once it lets go."""
    scenario = small_scenario()
    clock = FixedClock(NOW.timestamp())
    port = _free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    async with running_emulator(scenario, clock=clock) as emulator:
        path = _config(
            tmp_path,
            scenario,
            emulator,
            f'refresh_interval = "1h"\nbackfill = "0d"\nmetrics_address = "127.0.0.1:{port}"\n',
        )
        queue, on_run = _runs()
        daemon = Daemon(load_config(path), clock=EmulatorWall(clock), tick_s=0.05, on_run=on_run)  # type: ignore[arg-type]
        async with _running(daemon):
            await _next_run(queue, "refresh")
            assert (await _get(url))[0] == 200
            holder = sqlite3.connect(tmp_path / "insights.sqlite", isolation_level=None)
            try:
                holder.execute("BEGIN EXCLUSIVE")
                began = time.monotonic()
                status, body = await _get(url)
                assert status == 503, body
                assert body.startswith('{"ready":false,"reason":"store not writable')
                assert body.endswith("}\n") and body.count("\n") == 1
                assert time.monotonic() - began < 10
            finally:
                holder.rollback()
                holder.close()
            # the probe under way commits as soon as the lock is gone: the next check passes
            assert await _get(url) == (200, '{"ready":true,"reason":"ok"}\n')
