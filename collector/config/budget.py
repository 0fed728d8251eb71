"""An app's budget: ``[budget]`` with the app's own keys laid over it.

Each app's :class:`~collector.pacing.settings.BudgetSettings` is ``[budget]`` with the
app's own ``target_pct``/``probe_after_s``/``max_wait_s`` laid over it; its
``calls_per_hour`` is the app's. Each value is checked by the schema
(:mod:`collector.config.schema`); the pair rule (``max_wait_s >= probe_after_s``)
spans two tables and is checked here, located at the key that made the pair wrong.
"""

from __future__ import annotations

from pathlib import Path

from collector.config.checks import Problem
from collector.config.schema import AppTable, BudgetTable
from collector.pacing.settings import BudgetSettings

BUDGET_KEYS = tuple(BudgetTable.model_fields)
_DEFAULTS = BudgetSettings()


def app_budget(
    file: Path, where: str, app: AppTable, budget: BudgetTable, found: list[Problem]
) -> BudgetSettings:
    """The budget of ``app`` (located as ``where``, e.g. ``apps[2]``); a bad pair is
    appended to ``found`` and read with max_wait_s raised to probe_after_s."""
    values: dict[str, float] = {}
    for key in BUDGET_KEYS:
        given = [value for value in (getattr(app, key), getattr(budget, key)) if value is not None]
        values[key] = float(given[0] if given else getattr(_DEFAULTS, key))
    if values["max_wait_s"] < values["probe_after_s"]:
        # name the key that made the pair wrong: the app's own, else [budget]'s
        holders = ((app, where), (budget, "[budget]"))
        holder, at = next(((table, at) for table, at in holders if _sets_pair(table)), holders[0])
        key = "max_wait_s" if holder.max_wait_s is not None else "probe_after_s"
        found.append(
            Problem(
                file,
                f"{at}.{key}",
                f"max_wait_s ({values['max_wait_s']:g}) is below probe_after_s "
                f"({values['probe_after_s']:g})",
                "make max_wait_s at least probe_after_s",
            )
        )
        values["max_wait_s"] = values["probe_after_s"]
    return BudgetSettings(calls_per_hour=app.calls_per_hour, **values)


def _sets_pair(table: AppTable | BudgetTable) -> bool:
    return table.max_wait_s is not None or table.probe_after_s is not None
