"""What an operator's mistakes at the command line get: one line, the right exit code, nothing
touched, nothing sent (issue 13's table, row by row, against real subprocesses)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.testing import RunningEmulator, running_emulator
from tests.e2e.helpers import NOW, small_scenario, write_config

pytestmark = pytest.mark.slow


async def cli(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(small_scenario(), clock=FixedClock(NOW.timestamp())) as running:
        yield running


def config_for(tmp_path: Path, emulator: RunningEmulator) -> Path:
    return write_config(
        tmp_path / "c.toml", small_scenario(), emulator.base_url,
        since="2025-11-01", until="2025-11-10", out=tmp_path / "out", metrics=("reach",),
    )  # fmt: skip


def a_directory(path: Path) -> None:
    path.mkdir()


def a_text_file(path: Path) -> None:
    path.write_text("my notes, not a database\n")


def a_read_only_file(path: Path) -> None:
    path.write_bytes(b"")
    path.chmod(0o444)


def a_file_in_a_read_only_folder(path: Path) -> None:
    path.parent.mkdir()
    path.parent.chmod(0o555)


def a_foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")
    db.close()


def snapshot(path: Path) -> object:
    if path.is_dir():
        return ("dir", sorted(p.name for p in path.iterdir()))
    if path.exists():
        return ("file", path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return ("missing", sorted(p.name for p in path.parent.iterdir()))


SQLITE_MISTAKES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "directory": ("db", a_directory),
    "text file": ("notes.sqlite", a_text_file),
    "read-only file": ("ro.sqlite", a_read_only_file),
    "file in a read-only folder": ("locked/x.sqlite", a_file_in_a_read_only_folder),
    "another program's database": ("theirs.sqlite", a_foreign_database),
}


@pytest.mark.parametrize("mistake", sorted(SQLITE_MISTAKES))
async def test_an_unusable_sqlite_output_is_one_line_exit_2_before_any_request(
    mistake: str, tmp_path: Path, emulator: RunningEmulator
) -> None:
    name, make = SQLITE_MISTAKES[mistake]
    target = tmp_path / name
    make(target)
    before = snapshot(target)
    try:
        code, _out, err = await cli("run", "--config", str(config_for(tmp_path, emulator)),
                                    "--sqlite", str(target), "--no-progress")  # fmt: skip
        after = snapshot(target)
    finally:
        for path in (target.parent, target):
            if path.exists():
                path.chmod(0o755)
    assert code == 2, err
    # the config asks for JSON logs: one command_failed event (beside the config's warnings)
    events = [orjson.loads(line) for line in err.splitlines()]
    failed = [e for e in events if e["level"] == "error"]
    assert [e["event"] for e in failed] == ["command_failed"], err
    assert str(target) in failed[0]["error"] and "fix" in failed[0]["error"]
    assert failed[0]["exit_code"] == 2
    assert after == before  # left exactly as it was
    assert emulator.calls.records() == []  # checked before any request


@pytest.mark.parametrize("mistake", ["directory", "text file", "another program's database"])
async def test_status_refuses_what_is_not_our_store_and_writes_nothing(
    mistake: str, tmp_path: Path
) -> None:
    name, make = SQLITE_MISTAKES[mistake]
    target = tmp_path / name
    make(target)
    before = snapshot(target)
    code, _out, err = await cli("status", "--sqlite", str(target))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert snapshot(target) == before
    if mistake == "another program's database":
        with sqlite3.connect(target) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        db.close()
        assert tables == {"recipes"}  # no table of ours was created in it


async def test_an_unknown_log_level_is_a_usage_error() -> None:
    code, _out, err = await cli("--log-level", "loud", "plan", "--config", "x.toml")
    assert code == 2
    assert "loud" in err and "Traceback" not in err


async def test_a_scenario_seed_that_is_not_a_number_names_the_key(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('seed = "x"\n')
    code, _out, err = await cli("emulator", "--port", "0", "--scenario", str(scenario))
    assert code == 2, err
    assert "seed" in err and str(scenario) in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ("--log-format", "json", "emulator", "--port", "0"),
        ("emulator", "--port", "0", "--log-format", "json"),
    ],
)
async def test_global_options_go_before_or_after_the_command(args: tuple[str, ...]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert "listening on http://127.0.0.1:" in line
    finally:
        process.kill()
        await process.wait()


async def test_with_json_logs_stderr_carries_json_lines_only(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    config = config_for(tmp_path, emulator)
    code, out, err = await cli("--log-format", "json", "--log-level", "info", "run",
                               "--config", str(config))  # fmt: skip
    assert code == 0, err
    events = [orjson.loads(line) for line in err.splitlines()]  # every line is JSON
    assert events[-1]["event"] == "run_summary"
    assert "requests" in out  # the human table goes to stdout


async def test_a_mistake_gives_a_traceback_only_with_debug(tmp_path: Path) -> None:
    target = tmp_path / "notes.sqlite"
    a_text_file(target)
    config = tmp_path / "c.toml"
    config.write_text(
        '[graph]\napi_version = "v17.0"\n'
        '[[apps]]\nname = "a"\napp_id = "1"\ncalls_per_hour = 100\n'
        '[[accounts]]\nid = "11"\napp = "a"\ntoken = "EAAsomething"\n'
        '[collect]\nmetrics = ["reach"]\nsince = "3d"\n'
        f'[output]\nsqlite = "{target}"\n'
    )
    plain = await cli("run", "--config", str(config))
    debug = await cli("--debug", "run", "--config", str(config))
    assert plain[0] == debug[0] == 2
    assert "Traceback" not in plain[2] and "Traceback" in debug[2]
