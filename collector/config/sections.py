"""The checks that span tables, run on what the schema could read (:class:`Sections`).

Each appends every mistake it finds to ``found`` and returns what it built:
duplicate app names and ids, app secrets, each app's budget, the API versions in
use, and ``[collect]`` against them (since before until, then
:mod:`collector.config.selection`). :func:`collector.config.load.load_config` runs
them all, so one file's mistakes are reported together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.budget import app_budget
from collector.config.checks import Problem, check_order
from collector.config.schema import AppTable, BudgetTable, CollectTable, Sections
from collector.config.secrets import SecretResolver
from collector.config.selection import select
from collector.config.settings import (
    INSTAGRAM_BASE_URL,
    AppConfig,
    CollectSettings,
    GraphSettings,
)
from collector.pacing.settings import BudgetSettings


@dataclass(frozen=True, slots=True)
class CheckedApp:
    """An ``[[apps]]`` entry that passed every check, its secret resolved."""

    table: AppTable
    secret: str | None
    budget: BudgetSettings

    def config(self, graph: GraphSettings) -> AppConfig:
        """The app, its unset keys taken from ``[graph]``."""
        app = self.table
        return AppConfig(
            name=app.name,
            app_id=app.app_id,
            app_secret=self.secret,
            calls_per_hour=app.calls_per_hour,
            concurrency=app.concurrency or graph.concurrency,
            api_version=app.api_version or graph.api_version,
            login=app.login,
            base_url=app.base_url or (INSTAGRAM_BASE_URL if app.login == "instagram" else None),
        )


def check_apps(
    file: Path,
    apps: Sequence[AppTable | None],
    budget: BudgetTable,
    resolver: SecretResolver,
    found: list[Problem],
) -> list[CheckedApp]:
    """The apps with unique names and ids, resolved secrets and good budgets."""
    checked: list[CheckedApp] = []
    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    for index, app in enumerate(apps, start=1):
        if app is None:
            continue
        where = f"apps[{index}]"
        if app.name in names:
            found.append(
                Problem(
                    file, f"{where}.name", f'"{app.name}" is also {names[app.name]}', "rename one"
                )
            )
            continue
        if app.app_id in ids:
            found.append(
                Problem(
                    file,
                    f"{where}.app_id",
                    f"{app.app_id} is also the app_id of {ids[app.app_id]}",
                    "one app, one [[apps]] entry: its budget is shared",
                )
            )
            continue
        names[app.name] = ids[app.app_id] = where
        before = len(found)
        secret = None
        if app.app_secret is not None:
            secret = resolver.resolve_into(
                app.app_secret, file.parent, file, f"{where}.app_secret", found
            )
        paced = app_budget(file, where, app, budget, found)
        if len(found) == before:
            checked.append(CheckedApp(app, secret, paced))
    if not apps:
        found.append(
            Problem(
                file,
                "[[apps]]",
                "no app is configured",
                "add [[apps]] with name, app_id and calls_per_hour",
            )
        )
    return checked


def app_versions(
    sections: Sections, graph: GraphSettings | None, found: Sequence[Problem]
) -> dict[str, list[str]] | None:
    """Each API version the apps use -> their names (``[graph]``'s when no app is listed);
    ``None`` when some app's version is unknown (its entry or its api_version is bad)."""
    apps = sections.apps
    if graph is None or apps is None or None in apps:
        return None
    if any(p.key.startswith("apps[") and p.key.endswith(".api_version") for p in found):
        return None  # that app was read without it: [graph]'s would be wrongly assumed
    used: dict[str, list[str]] = {}
    for app in apps:
        assert app is not None
        used.setdefault(app.api_version or graph.api_version, []).append(app.name)
    return used or {graph.api_version: []}


def read_collect(
    file: Path,
    collect: CollectTable,
    versions: dict[str, list[str]] | None,
    found: list[Problem],
) -> tuple[CollectSettings, list[str]] | None:
    """``[collect]`` and its warnings; its metrics are checked when ``versions`` are known."""
    if not check_order(collect.since, collect.until):
        found.append(
            Problem(
                file,
                "[collect].since",
                f"{collect.since} is after until ({collect.until})",
                "swap them",
            )
        )
    chosen = select(file, collect, versions, found) if versions is not None else None
    if chosen is None:
        return None
    settings = CollectSettings(
        chosen.metrics,
        chosen.periods,
        collect.since,
        collect.until,
        chosen.timeframes,
        chosen.breakdowns,
        chosen.by_version,
    )
    return settings, list(chosen.warnings)
