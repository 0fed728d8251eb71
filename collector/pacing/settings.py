"""What the ``[budget]`` table (and an app's overrides in ``[[apps]]``) asks of pacing.

Parsed by :mod:`collector.config` into :class:`BudgetSettings`; read by
:class:`collector.pacing.budgets.AppBudget`. Each field says why it exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """One app's pacing knobs; the defaults are the ``[budget]`` defaults.

    ``calls_per_hour``: the configured rate; an hour never lets more through.
    ``target_pct``: the ``X-App-Usage`` peak the controller holds (Meta "may
    start throttling when any reaches 100"). ``probe_after_s``: the first wait
    after a throttle or a 100 % reading before one probe request goes;
    ``max_wait_s``: the cap of the doubling waits after failed probes.
    ``minute_s``: the length of Meta's minute in ``estimated_time_to_regain_access``
    (60; tests against an emulator with scaled windows shrink it the same way).
    ``usage_window_s``: the length of the rolling window Meta's usage figures
    cover (an hour; the emulator's shortened windows in tests) — how fast an old
    reading loses its meaning.
    """

    calls_per_hour: float = 3600.0
    target_pct: float = 95.0
    probe_after_s: float = 60.0
    max_wait_s: float = 900.0
    minute_s: float = 60.0
    usage_window_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.calls_per_hour) and self.calls_per_hour > 0):
            raise ValueError("calls_per_hour must be a finite number > 0")
        if not 0.0 < self.target_pct < 100.0:
            raise ValueError("target_pct must be > 0 and < 100")
        for name in ("probe_after_s", "max_wait_s", "minute_s", "usage_window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be a finite number > 0")
        if self.max_wait_s < self.probe_after_s:
            raise ValueError("max_wait_s must be >= probe_after_s")

    def scaled(self, factor: float) -> BudgetSettings:
        """These settings for an emulator whose rate windows are ``factor`` times Meta's.

        Every duration (the probe's waits, Meta's minute, the usage window) is
        multiplied by ``factor``; the rate and the target stay.
        """
        return BudgetSettings(
            calls_per_hour=self.calls_per_hour,
            target_pct=self.target_pct,
            probe_after_s=self.probe_after_s * factor,
            max_wait_s=self.max_wait_s * factor,
            minute_s=self.minute_s * factor,
            usage_window_s=self.usage_window_s * factor,
        )
