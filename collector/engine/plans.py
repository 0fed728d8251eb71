"""What a config asks the planner for: per-app plan specs, and what their plans cost.

Pure arithmetic over the config (no request is built): the inputs of
:func:`collector.planning.planner.plan_account`, how many requests they hold,
and the least time each app's budget allows for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from collector.config.load import Config, resolve_range
from collector.planning.planner import PlanSpec, count_requests

__all__ = ["plan_minimum_seconds", "plan_spec", "plan_specs", "planned_requests"]


def plan_specs(config: Config, today: dt.date) -> dict[str, PlanSpec]:
    """Per app name, the planner's input on the Pacific date ``today``.

    Apps on the same API version share one spec: what ``[collect]`` selects for
    that version (``collector.config.selection``), with the run's date range.
    """
    first, last = resolve_range(config.collect, today)
    by_version: dict[str, PlanSpec] = {}
    for version in config.versions():
        chosen = config.collect.selection(version)
        by_version[version] = PlanSpec(
            version=version,
            metrics=chosen.metrics,
            periods=chosen.periods,
            first=first,
            last=last,
            today=today,
            timeframes=config.collect.timeframes,
            breakdowns=chosen.breakdowns,
        )
    return {app.name: by_version[config.version_of(app.name)] for app in config.apps}


def plan_spec(config: Config, today: dt.date, app: str | None = None) -> PlanSpec:
    """The planner's input for ``app`` (default: the first app) on the Pacific ``today``."""
    specs = plan_specs(config, today)
    return specs[app or config.apps[0].name]


def planned_requests(config: Config, specs: Mapping[str, PlanSpec]) -> dict[str, int]:
    """Per app, how many requests its accounts' plans hold (by arithmetic)."""
    counts: dict[str, int] = {}
    for app, n in _accounts_per_app(config).items():
        counts.update(count_requests({app: n}, specs[app]))
    return counts


def plan_minimum_seconds(
    config: Config, spec: PlanSpec | Mapping[str, PlanSpec]
) -> dict[str, float]:
    """Per app, the least time its budget allows for the plan: requests / calls per second.

    ``spec`` is one spec for every app, or one per app name (:func:`plan_specs`).
    """
    specs = spec if isinstance(spec, Mapping) else {app.name: spec for app in config.apps}
    counts = planned_requests(config, specs)
    return {app: n * 3600.0 / config.app(app).calls_per_hour for app, n in counts.items()}


def _accounts_per_app(config: Config) -> dict[str, int]:
    counts: dict[str, int] = {}
    for account in config.accounts:
        counts[account.app] = counts.get(account.app, 0) + 1
    return counts
