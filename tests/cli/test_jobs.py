"""``pull`` without ``--wait``, ``jobs`` and ``cancel`` on a store, as an operator types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.cli.main import main
from tests.e2e.helpers import small_scenario, write_config


def _config(tmp_path: Path) -> Path:
    config = write_config(
        tmp_path / "c.toml", small_scenario(), "http://127.0.0.1:9", since="2025-10-01",
        until="2025-10-31", out=tmp_path,
    )  # fmt: skip
    return config


def _jobs(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["jobs", "--config", str(config), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_pull_is_queued_listed_and_cancelled_without_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pull` prints a job id and sends nothing; `jobs` lists it queued with its size;
    `cancel` stops it and `jobs` then says so."""
    config = _config(tmp_path)
    assert main(["pull", "--config", str(config), "--accounts", "17841400000000101"]) == 0
    job = int(capsys.readouterr().out.split()[0])
    [listed] = _jobs(config, capsys)
    assert (listed["id"], listed["kind"], listed["state"]) == (job, "pull", "queued")
    assert listed["total"] == listed["pending"] and int(str(listed["total"])) > 0
    assert main(["cancel", str(job), "--config", str(config)]) == 0
    assert f"job {job} cancelled" in capsys.readouterr().out
    assert [j["state"] for j in _jobs(config, capsys)] == ["cancelled"]


def test_cancelling_an_unknown_job_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cancel` of a job the store never issued exits 2 with one line naming the fix."""
    config = _config(tmp_path)
    assert main(["cancel", "99", "--config", str(config), "--log-format", "console"]) == 2
    failures = [line for line in capsys.readouterr().err.splitlines() if "ig-collector:" in line]
    assert len(failures) == 1  # beside the config's warnings, one line says what failed
    assert "no job 99" in failures[0] and "ig-collector jobs" in failures[0]


def test_pull_with_a_metric_the_config_does_not_collect_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pull --metrics` naming a metric outside [collect].metrics exits 2 and queues nothing."""
    config = _config(tmp_path)
    code = main(
        ["pull", "--config", str(config), "--metrics", "reach,views", "--log-format", "console"]
    )
    assert code == 2
    assert "--metrics" in capsys.readouterr().err
    assert _jobs(config, capsys) == []
