"""``python -m tests.e2e.tuned_run CONFIG WINDOW_S``: ``ig-collector run`` for an emulator
whose usage window lasts ``WINDOW_S`` seconds (and its minute a 60th of that).

The budget's usage window and Meta's minute are not config keys (against Meta they
are an hour and a minute); the tests that SIGKILL a run against a shortened window
start this instead of ``python -m collector run``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

from collector.config.load import load_config
from collector.engine.run import run_once
from collector.logs import configure
from collector.pacing.settings import BudgetSettings


def main(config_path: str, window_s: str) -> int:
    config = load_config(Path(config_path))
    configure("json", "warning")
    window = float(window_s)

    def tune(settings: BudgetSettings) -> BudgetSettings:
        return dataclasses.replace(settings, usage_window_s=window, minute_s=window / 60)

    summary = asyncio.run(run_once(config, tune_budgets=tune))
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
