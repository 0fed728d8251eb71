"""``ig-collector emulator``: a real subprocess that serves, answers and stops on a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from collector.emulator.cli import main, parse_instant
from collector.emulator.scenario import default_scenario
from collector.emulator.truth import truth_values

pytestmark = pytest.mark.slow

ACC, TOKEN = "17841400000000001", "EAAdemoA001"


@contextmanager
def emulator_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``python -m collector.emulator.cli --port 0 ARGS``; yield it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.emulator.cli", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("emulator listening on http://127.0.0.1:"), line
        yield proc, line.rsplit(" ", 1)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_cli_serves_insights_and_stops_on_sigterm() -> None:
    """The subprocess prints its URL, answers an insights call, and exits 0 on SIGTERM."""
    with emulator_process("--now", "2025-11-30T20:00:00+00:00", "--seed", "4") as (proc, base):
        url = f"{base}/v17.0/{ACC}/insights?metric=reach&period=day&access_token={TOKEN}"
        with urllib.request.urlopen(url, timeout=10) as r:
            content_type = r.headers["Content-Type"]
            body = json.loads(r.read())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert content_type.startswith("application/json")
    assert body["data"][0]["name"] == "reach"
    # --now pins "today" to Nov 30 (Pacific): yesterday's and today's end_times.
    ends = [v["end_time"] for v in body["data"][0]["values"]]
    assert ends == ["2025-11-30T08:00:00+0000", "2025-12-01T08:00:00+0000"]


def test_cli_stops_on_sigint() -> None:
    """SIGINT (Ctrl-C) stops the server cleanly with exit status 0."""
    with emulator_process() as (proc, _):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_cli_rejects_a_bad_scenario_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario with an unknown key prints a message naming it and exits 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text('seed = 1\ncolour = "blue"\n')
    assert main(["--scenario", str(bad)]) == 2
    assert "colour" in capsys.readouterr().err


def test_cli_rejects_a_missing_scenario_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario path that does not exist prints a message naming it and exits 2."""
    missing = tmp_path / "missing.toml"
    assert main(["--scenario", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_now_accepts_unix_seconds_and_iso_times() -> None:
    """--now reads unix seconds, ISO with an offset, and naive ISO as UTC."""
    assert parse_instant("1764532800") == 1764532800.0
    assert parse_instant("2025-11-30T12:00:00-08:00") == 1764532800.0
    assert parse_instant("2025-11-30T20:00:00") == 1764532800.0


def test_truth_subcommand_is_handed_to_the_truth_tool(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """``emulator truth ...`` prints the ground truth for the arguments after ``truth``."""
    args = ["--account", ACC, "--metric", "reach", "--period", "day", "--now", "1764532800"]
    assert main(["truth", *args]) == 0
    printed = json.loads(capsysbinary.readouterr().out)
    assert printed == truth_values(
        default_scenario(),
        account_id=ACC,
        metric="reach",
        period="day",
        since=None,
        until=None,
        now=1764532800.0,
    )
