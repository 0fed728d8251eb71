"""Shared pieces of the export and report tests: the pulled store, days, wide names, the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.cli.main import main
from collector.emulator.scenario import Scenario
from tests.e2e.helpers import Key

LA = ZoneInfo("America/Los_Angeles")
Number = int | float


@dataclass(frozen=True)
class Delivered:
    """A store filled by a real pull (both API versions), with the emulator's ground truth."""

    scenario: Scenario
    folder: Path
    truth: dict[Key, Number]

    @property
    def store(self) -> Path:
        return self.folder / "insights.sqlite"

    @property
    def config(self) -> Path:
        return self.folder / "c.toml"


def day_described(end_time: str | None) -> dt.date | None:
    """The Pacific day a value describes: the day before its end_time's Pacific date."""
    if end_time is None:
        return None
    moment = dt.datetime.fromisoformat(end_time.replace("Z", "+00:00"))
    return moment.astimezone(LA).date() - dt.timedelta(days=1)


def wide_name(metric: str, period: str, dimensions: dict[str, str]) -> str:
    """The README's wide column name: metric, period unless day/lifetime, values by key."""
    parts = [metric] + ([period] if period not in ("day", "lifetime") else [])
    return ".".join(parts + [dimensions[k] for k in sorted(dimensions)])


def in_days(
    truth: dict[Key, Number], first: dt.date, last: dt.date, accounts: Iterable[str] = ()
) -> dict[Key, Number]:
    """The truth's points describing days first..last (and the undated ones)."""
    wanted = set(accounts)
    return {
        k: v
        for k, v in truth.items()
        if (not wanted or k[0] in wanted)
        and (k[3] is None or first <= (day_described(k[3]) or first) <= last)
    }


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``ig-collector argv`` in this process: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
