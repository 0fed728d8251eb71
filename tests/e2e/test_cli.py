"""The command line as a user meets it: real subprocesses against the emulator."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator
from collector.graph.transport import appsecret_proof
from tests.e2e.helpers import NOW, ndjson_lines, small_scenario, write_config

pytestmark = pytest.mark.slow


async def _cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collector",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def emulator():  # type: ignore[no-untyped-def]
    scenario = small_scenario()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as running:
        yield scenario, running


BAD_CONFIGS = {
    "unknown_key": ("[collect]\n", "[collect]\nmetrix = 1\n"),
    "retired_metric": ('api_version = "v17.0"', 'api_version = "v22.0"'),
    "missing_app": ('app = "app-b"', 'app = "app-z"'),
    "duplicate_account": ('id = "17841400000000202"', 'id = "17841400000000201"'),
    "unset_secret": ('token = "EAAtokenA101"', 'token = "env:IG_TEST_SURELY_UNSET_TOKEN"'),
}


@pytest.mark.parametrize("mistake", sorted(BAD_CONFIGS))
async def test_bad_config_exits_2_naming_the_file_and_sends_nothing(
    mistake: str, tmp_path: Path, emulator
) -> None:  # type: ignore[no-untyped-def]
    """Each config mistake ends `run` with exit 2 and a message naming the file; no call is made."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "bad.toml",
        scenario,
        running.base_url,
        since="2025-11-01",
        until="2025-11-10",
        out=tmp_path,
        metrics=("reach", "impressions"),
    )
    text = path.read_text()
    old, new = BAD_CONFIGS[mistake]
    assert old in text
    path.write_text(text.replace(old, new, 1))
    code, _out, err = await _cli("run", "--config", str(path))
    assert code == 2
    assert str(path) in err and "fix" in err
    assert "Traceback" not in err
    assert running.calls.records() == []


async def test_bad_registry_row_names_the_row(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]
    """A registry CSV row without a token is reported with its row number and exit 2."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "c.toml",
        scenario,
        running.base_url,
        since="2025-11-01",
        until="2025-11-10",
        out=tmp_path,
        metrics=("reach",),
    )
    (tmp_path / "more.csv").write_text("id,app,token,label\n17841400000000999,app-a,,x\n")
    path.write_text(path.read_text() + '\n[registry]\npath = "more.csv"\n')
    code, _out, err = await _cli("check-config", "--config", str(path))
    assert code == 2
    assert "more.csv" in err and "row 2" in err.lower().replace("line", "row")


async def test_check_config_accepts_the_demo_config() -> None:
    """The shipped demo config passes check-config."""
    code, out, _err = await _cli("check-config", "--config", "config/demo.toml")
    assert code == 0
    assert "36 accounts" in out


async def test_plan_prints_the_request_count_and_sends_nothing(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]
    """`plan` states requests per app and total without calling the API."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "c.toml",
        scenario,
        running.base_url,
        since="2025-10-01",
        until="2025-10-30",
        out=tmp_path,
        metrics=("reach", "impressions", "audience_city"),
    )
    code, out, _err = await _cli("plan", "--config", str(path))
    assert code == 0
    # 5 accounts x (day + week + days_28 windows, one each for 30 dates, + one audience request)
    assert "total: 20 requests" in out
    assert running.calls.records() == []


async def test_status_shows_the_ledger_after_a_run(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]
    """After a run, `status` lists every account with its finished requests."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "c.toml",
        scenario,
        running.base_url,
        since="2025-10-01",
        until="2025-10-30",
        out=tmp_path,
        metrics=("reach",),
    )
    code, _out, _err = await _cli("run", "--config", str(path), "--no-progress")
    assert code == 0
    code, out, _err = await _cli("status", "--sqlite", str(tmp_path / "insights.sqlite"))
    assert code == 0
    for account in scenario.accounts:
        assert account.id in out
    assert out.strip().splitlines()[-1].split()[1:] == ["0", "15", "0", "0"]


async def test_no_secret_reaches_logs_outputs_or_database(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]
    """With tokens in the query string and debug logs, no token, secret or proof is written anywhere."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "c.toml",
        scenario,
        running.base_url,
        since="2025-10-20",
        until="2025-11-19",
        out=tmp_path,
        metrics=("reach", "follower_count"),
        extra_graph='token_in = "query"',
    )
    # one account's token is dead: its error path is logged too
    path.write_text(path.read_text().replace('token = "EAAtokenA102"', 'token = "EAAtokenDEAD42"'))
    code, out, err = await _cli(
        "--log-level",
        "debug",
        "--log-format",
        "json",
        "run",
        "--config",
        str(path),
        "--no-progress",
    )
    assert code == 1  # the dead token's account failed; the rest completed
    secrets = {a.token for a in scenario.accounts} | {"EAAtokenDEAD42"}
    secrets |= {a.app_secret for a in scenario.apps}
    secrets |= {appsecret_proof(a.token, "secret-b") for a in scenario.accounts if a.app == "app-b"}
    blobs = {
        "stdout": out,
        "stderr": err,
        "ndjson": (tmp_path / "insights.ndjson").read_text(),
        "sqlite": (tmp_path / "insights.sqlite").read_bytes().decode("latin-1"),
    }
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        blobs["ledger"] = repr(db.execute("SELECT * FROM ledger").fetchall())
    assert "request_done" in err and "token_invalid" in err
    for name, blob in blobs.items():
        for secret in secrets:
            assert secret not in blob, f"a secret leaked into {name}"


async def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """`ig-collector demo` pulls the demo config from its own emulator into both sinks, exit 0."""
    code, _out, err = await _cli("--log-format", "json", "demo", "--out", str(tmp_path))
    assert code == 0, err[-2000:]
    lines = ndjson_lines(tmp_path / "demo.ndjson")
    with sqlite3.connect(tmp_path / "demo.sqlite") as db:
        (rows,) = db.execute("SELECT count(*) FROM insights").fetchone()
        accounts = {r[0] for r in db.execute("SELECT DISTINCT account_id FROM insights")}
    assert rows == len(lines) > 0
    assert len(accounts) == 36
    assert "run_summary" in err


@pytest.mark.parametrize("loop", ["default", "asyncio"])
async def test_run_summary_names_its_event_loop_and_counts_its_connections(
    loop: str, tmp_path: Path, emulator, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """`run` says which loop ran it (uvloop when installed, unless IG_COLLECTOR_LOOP=asyncio)
    and how many connections it opened: at most its concurrency, each reused."""
    scenario, running = emulator
    path = write_config(
        tmp_path / "c.toml", scenario, running.base_url, since="2025-10-20", until="2025-11-19",
        out=tmp_path, metrics=("reach", "follower_count"),
    )  # fmt: skip
    if loop == "asyncio":
        monkeypatch.setenv("IG_COLLECTOR_LOOP", "asyncio")
    code, _out, err = await _cli(
        "--log-format", "json", "--log-level", "info", "run", "--config", str(path), "--no-progress"
    )
    assert code == 0, err[-2000:]
    (summary,) = [json.loads(line) for line in err.splitlines() if '"run_summary"' in line]
    installed = importlib.util.find_spec("uvloop") is not None
    assert summary["event_loop"] == ("uvloop" if installed and loop == "default" else "asyncio")
    assert 1 <= summary["connections"] <= 8 < summary["requests"]
