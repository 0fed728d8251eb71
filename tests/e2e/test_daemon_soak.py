"""A soak of `ig-collector daemon`: memory and file descriptors stay flat.

Marked ``soak``: ``scripts/test`` runs it for 40 s, ``scripts/soak`` for as long as
``IG_SOAK_S`` says (10 minutes by default).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import orjson
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator
from tests.e2e.helpers import small_scenario, write_config

pytestmark = [pytest.mark.slow, pytest.mark.soak]

SOAK_S = float(os.environ.get("IG_SOAK_S", "40"))
WARMUP_S = min(20.0, SOAK_S / 4)  # history backfill, first imports and caches
WINDOW_S = min(20.0, SOAK_S / 4)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
async def test_a_soak_keeps_rss_and_fds_flat(tmp_path: Path) -> None:
    """Refreshing every second (with rotation), RSS and open FDs end where they began."""
    scenario = small_scenario(seed=41)
    async with running_emulator(
        scenario, clock=FixedClock(time.time(), advancing=True)
    ) as emulator:
        config = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since="30d", until="0d", out=tmp_path
        )
        config.write_text(
            config.read_text().replace('level = "warning"', 'level = "info"')
            + '\n[daemon]\nrefresh_interval = "1s"\nlifetime_interval = "10s"\n'
            'backfill = "60d"\nstats_interval = "5s"\nrotate = "size:256K"\n'
        )
        log = tmp_path / "daemon.log"
        with log.open("wb") as stderr:
            daemon = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "collector", "--log-format", "json",
                "daemon", "--config", str(config),
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        samples: list[tuple[float, int, int]] = []
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < SOAK_S:
                assert daemon.returncode is None, log.read_text()[-2000:]
                samples.append((elapsed, _rss_kib(daemon.pid), _fds(daemon.pid)))
                await asyncio.sleep(1.0)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(daemon.wait(), 30)
    assert code == 0

    first = [s for s in samples if WARMUP_S <= s[0] < WARMUP_S + WINDOW_S]
    last = [s for s in samples if s[0] >= SOAK_S - WINDOW_S]
    rss_start, rss_end = (
        statistics.median(s[1] for s in first),
        statistics.median(s[1] for s in last),
    )
    fds_start, fds_end = max(s[2] for s in first), max(s[2] for s in last)
    figures = {
        "rss_kib_start": rss_start, "rss_kib_end": rss_end,
        "fds_start": fds_start, "fds_end": fds_end,
        "rss_kib_peak": max(s[1] for s in samples), "samples": len(samples),
    }  # fmt: skip
    (tmp_path / "soak.json").write_bytes(orjson.dumps(figures))
    print(f"soak figures: {figures}")
    events = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    runs = [e for e in events if e["event"] == "run_summary"]
    stats = [e for e in events if e["event"] == "stats"]
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        files = db.execute("SELECT count(*) FROM ndjson_files").fetchone()[0]
    assert len(runs) >= SOAK_S / 2  # it really worked the whole time: about one refresh a second
    assert files >= 2  # and rotated its NDJSON output
    assert stats and max(float(e["lag_max_s"]) for e in stats[len(stats) // 2 :]) < 10
    assert rss_end - rss_start < 4 * 1024, figures  # under 4 MiB of growth over 100 s
    assert fds_end <= fds_start + 2, figures
