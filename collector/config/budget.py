"""The ``[budget]`` table and an app's overrides of its keys in ``[[apps]]``.

Each app's :class:`~collector.pacing.settings.BudgetSettings` is ``[budget]``
with the app's own ``target_pct``/``probe_after_s``/``max_wait_s`` laid over it;
its ``calls_per_hour`` is the app's. Every bad value is reported, each located
at the key that holds it (``[budget].target_pct``, ``apps[2].max_wait_s``;
array positions count from 1).
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.config.checks import ConfigError, Problem, Table
from collector.pacing.settings import BudgetSettings

BUDGET_KEYS = ("target_pct", "probe_after_s", "max_wait_s")
_DEFAULTS = BudgetSettings()


def _number(table: Table, key: str, default: float, found: list[Problem]) -> float:
    try:
        return table.positive_number(key, default)
    except ConfigError as exc:
        found.extend(exc.problems)
        return default


def budget_defaults(table: Table, found: list[Problem]) -> dict[str, float]:
    """``[budget]``'s values (the defaults of :class:`BudgetSettings` where absent).

    Bad values are appended to ``found`` and read as their defaults.
    """
    return _values(table, _defaults(), found)


def _defaults() -> dict[str, float]:
    return {key: float(getattr(_DEFAULTS, key)) for key in BUDGET_KEYS}


def _values(table: Table, base: dict[str, float], found: list[Problem]) -> dict[str, float]:
    values = {key: _number(table, key, base[key], found) for key in BUDGET_KEYS}
    if table.has("target_pct") and not values["target_pct"] < 100.0:
        found.append(
            Problem(
                table.file,
                table.where("target_pct"),
                f"must be below 100 (a usage percentage), got {values['target_pct']:g}",
                "use a value such as 95; at 100 Meta starts throttling",
            )
        )
        values["target_pct"] = base["target_pct"]
    return values


def app_budget(
    table: Table,
    defaults: dict[str, float],
    calls_per_hour: float,
    budget_table: Table,
    found: list[Problem],
) -> BudgetSettings:
    """The budget of the app read from ``table`` (an ``[[apps]]`` entry)."""
    values = _values(table, defaults, found)
    if values["max_wait_s"] < values["probe_after_s"]:
        # name the key that made the pair wrong: the app's own, else [budget]'s
        holder = next(
            (t for t in (table, budget_table) if t.has("max_wait_s") or t.has("probe_after_s")),
            table,
        )
        key = "max_wait_s" if holder.has("max_wait_s") else "probe_after_s"
        found.append(
            Problem(
                holder.file,
                holder.where(key),
                f"max_wait_s ({values['max_wait_s']:g}) is below probe_after_s "
                f"({values['probe_after_s']:g})",
                "make max_wait_s at least probe_after_s",
            )
        )
        values["max_wait_s"] = max(values["max_wait_s"], values["probe_after_s"])
    return BudgetSettings(calls_per_hour=calls_per_hour, **values)


def budget_for(budgets: Sequence[tuple[str, BudgetSettings]], name: str) -> BudgetSettings | None:
    """The budget recorded for the app called ``name``, or ``None``."""
    return next((budget for app, budget in budgets if app == name), None)
