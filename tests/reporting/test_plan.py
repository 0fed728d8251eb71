"""``ig-collector plan``: the requests it announces are the requests a run then sends."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator
from collector.engine.run import run_once
from collector.reporting.plan import render_plan
from tests.e2e.helpers import NOW, small_scenario, write_config


async def test_the_plan_counts_what_the_run_sends(tmp_path: Path) -> None:
    scenario = small_scenario()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        path = write_config(
            tmp_path / "c.toml", scenario, emulator.base_url, since="120d", until="1d",
            out=tmp_path, calls_per_hour=36_000,
        )  # fmt: skip
        config = load_config(path)
        text = render_plan(config, FixedWallClock(NOW))
        await run_once(config, clock=FixedWallClock(NOW))
        sent = Counter(c.app for c in emulator.calls.records() if c.counted and c.app)
    announced = {
        app: int(n.replace(",", ""))
        for app, n in re.findall(
            r"^  (\S+) \(v[\d.]+\): \d+ account\(s\), ([\d,]+) requests", text, re.M
        )
    }
    assert announced == dict(sent)
    # the least time the budget allows: requests at 36,000 an hour
    for app, n in announced.items():
        assert f"at least {n / 10:,.0f} s" in text, app
    assert f"total: {sum(announced.values()):,} requests" in text
