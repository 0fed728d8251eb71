"""Readers of the config's tables ([graph], [[apps]], [collect], [output], [log]).

Each raises :class:`~collector.config.checks.ConfigError` carrying every mistake it
found in its table; :func:`collector.config.load.load_config` gathers them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from collector.config.budget import BUDGET_KEYS, app_budget
from collector.config.checks import (
    ConfigError,
    DateSpec,
    Problem,
    Table,
    check_order,
    numeric_id,
    parse_date_spec,
    secret_value,
)
from collector.config.secrets import SecretResolver
from collector.config.selection import check_timeframes, select
from collector.config.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_NDJSON,
    DEFAULT_SQLITE,
    MAX_BATCH_SIZE,
    AppConfig,
    CollectSettings,
    GraphSettings,
    LogSettings,
    OutputSettings,
)
from collector.graph import catalogue
from collector.pacing.settings import BudgetSettings

T = TypeVar("T")

GRAPH_KEYS = ("base_url", "api_version", "token_in", "timeout_s", "concurrency", "batch_size")
APP_KEYS = (
    "name",
    "app_id",
    "app_secret",
    "calls_per_hour",
    "concurrency",
    "api_version",
    *BUDGET_KEYS,
)
COLLECT_KEYS = ("metrics", "periods", "since", "until", "timeframes", "breakdowns")
OUTPUT_KEYS = ("ndjson", "sqlite")
LOG_KEYS = ("format", "level")
_LEVELS = ("debug", "info", "warning", "error", "critical")


def read_output(table: Table) -> OutputSettings:
    ndjson = table.string("ndjson", DEFAULT_NDJSON, empty=True).strip()
    return OutputSettings(
        ndjson=Path(ndjson) if ndjson else None,
        sqlite=Path(table.string("sqlite", DEFAULT_SQLITE)),
    )


def read_log(table: Table) -> LogSettings:
    found: list[Problem] = []
    choices: dict[str, str] = {}
    for key, allowed, default in (
        ("format", ("auto", "json", "console"), "auto"),
        ("level", _LEVELS, "info"),
    ):
        try:
            choices[key] = table.choice(key, allowed, default)
        except ConfigError as exc:
            found.extend(exc.problems)
    if found:
        raise ConfigError.of(found)
    log_format = choices["format"]
    return LogSettings(
        format="json" if log_format == "json" else "console" if log_format == "console" else "auto",
        level=choices["level"],
    )


def _version(table: Table, default: str | None) -> str:
    version = table.string("api_version", default, hint='add api_version = "v22.0" to [graph]')
    try:
        catalogue.parse_version(version)
    except ValueError:
        raise table.error(
            "api_version", f'"{version}" is not of the form vNN.N', 'write e.g. "v22.0"'
        ) from None
    return version


def app_versions(top: Table, graph: GraphSettings) -> dict[str, list[str]]:
    """Each API version the apps use -> their names (``[graph]``'s when no app is listed)."""
    used: dict[str, list[str]] = {}
    for table in top.tables("apps", APP_KEYS):
        name = table.data.get("name")
        used.setdefault(_version(table, graph.api_version), []).append(str(name or "?"))
    return used or {graph.api_version: []}


def read_graph(table: Table) -> GraphSettings:
    """``[graph]``; every bad key is reported (one ConfigError with all of them)."""
    if not table.data:
        raise ConfigError(
            table.file, "[graph]", "is required", 'add [graph] with api_version = "v22.0"'
        )
    found: list[Problem] = []

    def checked(read: Callable[[], T], default: T) -> T:
        try:
            return read()
        except ConfigError as exc:
            found.extend(exc.problems)
            return default

    version = checked(lambda: _version(table, None), "")
    base_url = checked(lambda: _base_url(table), DEFAULT_BASE_URL)
    token_in = checked(lambda: table.choice("token_in", ("header", "query"), "header"), "header")
    graph = GraphSettings(
        api_version=version,
        base_url=base_url,
        token_in="query" if token_in == "query" else "header",
        timeout_s=checked(lambda: table.positive_number("timeout_s", 30.0), 30.0),
        concurrency=checked(lambda: table.integer("concurrency", 32, minimum=1), 32),
        batch_size=checked(lambda: _batch_size(table), 1),
    )
    if found:
        raise GraphError(found, graph if version else None)
    return graph


class GraphError(ConfigError):
    """``[graph]``'s mistakes, with the settings read so far when its api_version is good
    (so the apps and [collect] can still be checked against it)."""

    def __init__(self, found: list[Problem], partial: GraphSettings | None) -> None:
        head, *rest = found
        super().__init__(head.file, head.key, head.message, head.fix, more=rest)
        self.partial = partial


def _base_url(table: Table) -> str:
    base_url = table.string("base_url", DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise table.error(
            "base_url", "must be an http(s) URL without query", f'e.g. "{DEFAULT_BASE_URL}"'
        )
    return base_url


def _batch_size(table: Table) -> int:
    """``[graph].batch_size``: 1 (the default, no batching) up to Meta's 50 (SPEC 7)."""
    size = table.integer("batch_size", 1, minimum=1)
    if size > MAX_BATCH_SIZE:
        raise table.error(
            "batch_size",
            f"must be at most {MAX_BATCH_SIZE} (Meta's limit per batch), got {size}",
            f"use a value from 1 (no batching) to {MAX_BATCH_SIZE}",
        )
    return size


def read_apps(
    top: Table,
    graph: GraphSettings,
    resolver: SecretResolver,
    budget_table: Table,
    defaults: dict[str, float],
) -> list[tuple[AppConfig, BudgetSettings]]:
    apps: list[tuple[AppConfig, BudgetSettings]] = []
    found: list[Problem] = []
    seen_names: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for table in top.tables("apps", APP_KEYS):
        try:
            app = _app(table, graph, resolver, seen_names, seen_ids)
        except ConfigError as exc:  # go on with the next app: report them all
            found.extend(exc.problems)
            continue
        budget = app_budget(table, defaults, app.calls_per_hour, budget_table, found)
        apps.append((app, budget))
    if found:
        raise ConfigError.of(found)
    if not apps:
        raise ConfigError(
            top.file,
            "[[apps]]",
            "no app is configured",
            "add [[apps]] with name, app_id and calls_per_hour",
        )
    return apps


def _app(
    table: Table,
    graph: GraphSettings,
    resolver: SecretResolver,
    seen_names: dict[str, str],
    seen_ids: dict[str, str],
) -> AppConfig:
    name = table.string("name").strip()
    if name in seen_names:
        raise table.error("name", f'"{name}" is also {seen_names[name]}', "rename one")
    app_id = numeric_id(table, "app_id")
    if app_id in seen_ids:
        raise table.error(
            "app_id",
            f"{app_id} is also the app_id of {seen_ids[app_id]}",
            "one app, one [[apps]] entry: its budget is shared",
        )
    seen_names[name] = seen_ids[app_id] = table.path
    secret = None
    if table.has("app_secret"):
        secret = secret_value(table, "app_secret", resolver, table.file.parent)
    return AppConfig(
        name=name,
        app_id=app_id,
        app_secret=secret,
        calls_per_hour=table.positive_number("calls_per_hour", None),
        concurrency=table.integer("concurrency", graph.concurrency, minimum=1),
        api_version=_version(table, graph.api_version),
    )


def read_collect(
    table: Table, apps_by_version: Mapping[str, list[str]]
) -> tuple[CollectSettings, list[str]]:
    chosen = select(table, apps_by_version)
    dates: dict[str, DateSpec] = {}
    for key, default in (("since", "30d"), ("until", "0d")):
        try:
            dates[key] = parse_date_spec(table.data.get(key, default))
        except ValueError as exc:
            raise table.error(
                key, str(exc), 'write YYYY-MM-DD or "Nd" (N days before today)'
            ) from None
    if not check_order(dates["since"], dates["until"]):
        raise table.error(
            "since", f"{dates['since']} is after until ({dates['until']})", "swap them"
        )
    timeframes = check_timeframes(table, list(apps_by_version), table.string_list("timeframes"))
    collect = CollectSettings(
        chosen.metrics,
        chosen.periods,
        dates["since"],
        dates["until"],
        timeframes,
        chosen.breakdowns,
        chosen.by_version,
    )
    return collect, list(chosen.warnings)
