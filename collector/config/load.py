"""Configuration: one TOML file (plus an optional CSV registry), parsed once, at the edge.

:func:`load_config` turns the file into frozen dataclasses or raises one
:class:`ConfigError` naming the file, the key or row, the problem and the fix;
nothing past this module reads the environment, the config or a secret file.
``config/example.toml`` shows and explains every key.

Secrets (account tokens, app secrets) are resolved here into plain strings held
in fields declared ``repr=False``: printing or logging a config never shows them,
and the client reads them as ordinary attributes (``account.token``). Secrets
written literally work but add one warning to :attr:`Config.warnings`.

Dates in ``[collect]`` are *end_time dates*: the Pacific dates on which the
wanted values' end_times fall (day D's value ends at the midnight starting D+1;
SPEC section 3). The planner turns them into noon-edged windows.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from collector.config.budget import BUDGET_KEYS, app_budget, budget_defaults, budget_for
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
from collector.config.daemon import DAEMON_KEYS, DaemonSettings, daemon_settings
from collector.config.registry import AccountConfig, load_accounts
from collector.config.secrets import SecretResolver
from collector.config.selection import MetricSelection, check_timeframes, select
from collector.graph import catalogue
from collector.graph.catalogue import Breakdowns
from collector.pacing.settings import BudgetSettings

T = TypeVar("T")

__all__ = [
    "AccountConfig",
    "AppConfig",
    "CollectSettings",
    "Config",
    "ConfigError",
    "DateSpec",
    "GraphSettings",
    "LogSettings",
    "MetricSelection",
    "OutputSettings",
    "apply_overrides",
    "load_config",
    "resolve_range",
]

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_NDJSON = "out/insights.ndjson"
DEFAULT_SQLITE = "out/insights.sqlite"
MAX_BATCH_SIZE = 50  # Meta: at most 50 requests in one batch (SPEC section 7)

_TOP = ("graph", "registry", "apps", "accounts", "collect", "output", "log", "daemon", "budget")
_GRAPH = ("base_url", "api_version", "token_in", "timeout_s", "concurrency", "batch_size")
_APP = (
    "name",
    "app_id",
    "app_secret",
    "calls_per_hour",
    "concurrency",
    "api_version",
    *BUDGET_KEYS,
)
_COLLECT = ("metrics", "periods", "since", "until", "timeframes", "breakdowns")
_OUTPUT = ("ndjson", "sqlite")
_LOG = ("format", "level")
_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """Where and how to call the Graph API (``base_url`` has no trailing slash)."""

    api_version: str
    base_url: str = DEFAULT_BASE_URL
    token_in: Literal["header", "query"] = "header"
    timeout_s: float = 30.0
    concurrency: int = 32
    batch_size: int = 1  # requests per batch POST (SPEC 7); 1 = no batching


@dataclass(frozen=True, slots=True)
class AppConfig:
    """A Meta app: its budget, its secret (for ``appsecret_proof``; ``None``: none sent)
    and the API version its requests use (``None``: ``[graph].api_version``)."""

    name: str
    app_id: str
    app_secret: str | None = field(repr=False)
    calls_per_hour: float
    concurrency: int
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class CollectSettings:
    """What to collect: a date range and, per API version in use, metrics and periods.

    ``metrics`` and ``periods`` are the union over the versions (config order);
    ``breakdowns`` is ``[collect.breakdowns]`` as validated; ``selections`` holds
    what each version collects (see :mod:`collector.config.selection`; empty only for
    settings built by hand, which then mean ``metrics`` on every version).
    """

    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    since: DateSpec
    until: DateSpec
    timeframes: tuple[str, ...]
    breakdowns: Breakdowns = ()
    selections: tuple[MetricSelection, ...] = ()

    def selection(self, version: str) -> MetricSelection:
        """What the apps on ``version`` collect."""
        for chosen in self.selections:
            if chosen.version == version:
                return chosen
        return MetricSelection(version, self.metrics, self.periods, self.breakdowns)


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """Sink paths, relative to the working directory; a ``.gz`` NDJSON path is gzipped.

    ``ndjson`` is ``None`` when the config disables it (``ndjson = ""``).
    """

    ndjson: Path | None = Path(DEFAULT_NDJSON)
    sqlite: Path = Path(DEFAULT_SQLITE)


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Log rendering (``auto``: console on a terminal, JSON otherwise) and level."""

    format: Literal["auto", "json", "console"] = "auto"
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration; ``source`` is the file it came from."""

    source: Path
    graph: GraphSettings
    apps: tuple[AppConfig, ...]
    accounts: tuple[AccountConfig, ...]
    collect: CollectSettings
    output: OutputSettings
    log: LogSettings
    warnings: tuple[str, ...] = ()
    daemon: DaemonSettings = field(default_factory=DaemonSettings)  # ig-collector daemon
    budgets: tuple[tuple[str, BudgetSettings], ...] = ()  # app name -> its [budget]

    def budget_of(self, app_name: str) -> BudgetSettings:
        """The pacing knobs of the app called ``app_name``: ``[budget]`` with its overrides.

        Raises ``KeyError`` for an app the config does not list.
        """
        found = budget_for(self.budgets, app_name)
        if found is not None:
            return found
        return BudgetSettings(calls_per_hour=self.app(app_name).calls_per_hour)

    def app(self, name: str) -> AppConfig:
        """The app called ``name``; ``KeyError`` if there is none (load_config rules it out)."""
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)

    def version_of(self, app: str) -> str:
        """The API version the app called ``app`` uses (its own, else ``[graph]``'s)."""
        return self.app(app).api_version or self.graph.api_version

    def versions(self) -> tuple[str, ...]:
        """The API versions in use, in the order the apps first use them."""
        return tuple(dict.fromkeys(self.version_of(app.name) for app in self.apps))


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve the config at ``path``; raises :class:`ConfigError`.

    ``environ`` is where ``env:`` secrets are looked up (default ``os.environ``).
    Relative ``[registry].path`` and ``file:`` secrets are taken from the config
    file's folder (for registry tokens: the CSV's folder); output paths from the
    working directory.
    """
    top = Table(read_toml(path), "", path, _TOP)
    found: list[Problem] = []  # every mistake of the file, reported together

    def attempt(build: Callable[[], T]) -> T | None:
        try:
            return build()
        except ConfigError as exc:
            found.extend(exc.problems)
            return None

    try:
        graph: GraphSettings | None = _graph(top.table("graph", _GRAPH))
    except GraphError as exc:  # go on with what [graph] gave, to check the rest too
        found.extend(exc.problems)
        graph = exc.partial
    except ConfigError as exc:
        found.extend(exc.problems)
        graph = None
    output = attempt(lambda: _output(top.table("output", _OUTPUT)))
    log = attempt(lambda: _log(top.table("log", _LOG)))
    daemon = attempt(lambda: daemon_settings(top.table("daemon", DAEMON_KEYS)))
    budget_table = attempt(lambda: top.table("budget", BUDGET_KEYS))
    defaults = budget_defaults(budget_table, found) if budget_table is not None else {}
    collect: CollectSettings | None = None
    warnings: list[str] = []
    apps: list[tuple[AppConfig, BudgetSettings]] | None = None
    accounts: tuple[AccountConfig, ...] | None = None
    # secrets last: a config with typos is reported even where its variables are unset
    resolver = SecretResolver(os.environ if environ is None else environ)
    if graph is not None:
        versions = attempt(lambda: _app_versions(top, graph))
        if versions is not None:
            picked = attempt(lambda: _collect(top.table("collect", _COLLECT), versions))
            if picked is not None:
                collect, warnings = picked
        if budget_table is not None:
            apps = attempt(lambda: _apps(top, graph, resolver, budget_table, defaults))
    if apps is not None:
        names = [app.name for app, _ in apps]
        accounts = attempt(lambda: load_accounts(top, names, resolver))
    if found:
        raise ConfigError.of(found)
    assert graph and output and log and daemon and collect and apps and accounts is not None
    if resolver.literal_count:
        warnings.append(
            f"{resolver.literal_count} secret(s) are written literally in the config or registry; "
            "prefer env:NAME or file:PATH so the files can be shared safely"
        )
    warnings.extend(_url_warnings(graph.base_url))
    return Config(
        path,
        graph,
        tuple(app for app, _ in apps),
        accounts,
        collect,
        output,
        log,
        tuple(warnings),
        daemon,
        tuple((app.name, budget) for app, budget in apps),
    )


def _output(table: Table) -> OutputSettings:
    ndjson = table.string("ndjson", DEFAULT_NDJSON, empty=True).strip()
    return OutputSettings(
        ndjson=Path(ndjson) if ndjson else None,
        sqlite=Path(table.string("sqlite", DEFAULT_SQLITE)),
    )


def _log(table: Table) -> LogSettings:
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


def resolve_range(collect: CollectSettings, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last end_time date to collect, given the Pacific ``today`` (pure).

    Raises :class:`ConfigError` (no file) when the range is empty, which only a
    mix of absolute and relative dates can make undetected at load time.
    """
    since, until = collect.since.resolve(today), collect.until.resolve(today)
    if since > until:
        raise ConfigError(
            None,
            "[collect]",
            f"since {collect.since} ({since}) is after until {collect.until} ({until})",
            "make since the earlier day",
        )
    return since, until


def apply_overrides(
    config: Config,
    *,
    since: str | DateSpec | None = None,
    until: str | DateSpec | None = None,
    accounts: list[str] | None = None,
    ndjson: str | Path | None = None,
    sqlite: str | Path | None = None,
) -> Config:
    """``config`` with the CLI's flags applied; raises :class:`ConfigError` naming the flag.

    ``accounts`` keeps only those ids (in registry order); an id the config
    does not list is an error. Dates take the same forms as in the file.
    """
    collect = config.collect
    for flag, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            spec = value if isinstance(value, DateSpec) else parse_date_spec(value)
        except ValueError as exc:
            raise ConfigError(
                config.source, f"--{flag}", str(exc), "write YYYY-MM-DD or Nd"
            ) from None
        collect = replace(collect, since=spec) if flag == "since" else replace(collect, until=spec)
    if not check_order(collect.since, collect.until):
        raise ConfigError(
            config.source,
            "--since/--until",
            f"since {collect.since} is after until {collect.until}",
            "make since the earlier day",
        )
    chosen = config.accounts
    if accounts is not None:
        chosen = _filter_accounts(config, accounts)
    output = config.output
    if ndjson is not None:  # an empty --ndjson turns the NDJSON sink off
        output = replace(output, ndjson=Path(ndjson) if str(ndjson).strip() else None)
    if sqlite is not None:
        output = replace(output, sqlite=Path(sqlite))
    return replace(config, collect=collect, accounts=chosen, output=output)


def _filter_accounts(config: Config, wanted: Iterable[str]) -> tuple[AccountConfig, ...]:
    wanted_ids = {w.strip() for w in wanted if w.strip()}
    if not wanted_ids:
        raise ConfigError(config.source, "--accounts", "names no account", "give account ids")
    known = {account.id for account in config.accounts}
    unknown = sorted(wanted_ids - known)
    if unknown:
        raise ConfigError(
            config.source,
            "--accounts",
            f"not in the config or registry: {', '.join(unknown)}",
            "add them to [[accounts]] or the registry CSV, or drop them from --accounts",
        )
    return tuple(account for account in config.accounts if account.id in wanted_ids)


def read_toml(path: Path) -> dict[str, object]:
    """The file's TOML, unvalidated; :class:`ConfigError` when it cannot be read or parsed."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, "", "config file does not exist", "check the path") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "is not UTF-8 text", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts "(at line L, column C)" at the end of its message
        text = str(exc)
        where, _, rest = text.rpartition("(at ")
        location = rest.rstrip(")").split(",")[0] if where else "TOML"
        raise ConfigError(
            path, location, f"TOML syntax error: {where.strip() or text}", "see toml.io"
        ) from None


def _version(table: Table, default: str | None) -> str:
    version = table.string("api_version", default, hint='add api_version = "v22.0" to [graph]')
    try:
        catalogue.parse_version(version)
    except ValueError:
        raise table.error(
            "api_version", f'"{version}" is not of the form vNN.N', 'write e.g. "v22.0"'
        ) from None
    return version


def _app_versions(top: Table, graph: GraphSettings) -> dict[str, list[str]]:
    """Each API version the apps use -> their names (``[graph]``'s when no app is listed)."""
    used: dict[str, list[str]] = {}
    for table in top.tables("apps", _APP):
        name = table.data.get("name")
        used.setdefault(_version(table, graph.api_version), []).append(str(name or "?"))
    return used or {graph.api_version: []}


def _graph(table: Table) -> GraphSettings:
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


def _apps(
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
    for table in top.tables("apps", _APP):
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


def _collect(
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


def _url_warnings(base_url: str) -> list[str]:
    """Plain http is fine for the local emulator, not for tokens crossing a network."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or loopback:
        return []
    return [f"[graph].base_url uses plain http to {host}: tokens would cross the network in clear"]
