"""The config file's schema: one pydantic model per TOML table, all checked in one pass.

:func:`read_sections` validates the whole file against :class:`ConfigFile` and words
every error at once (pydantic collects them all; :mod:`collector.config.explain` locates
them). What a table alone can tell is declared here: keys, types, bounds, forms. What
needs several tables (duplicate names, an account's app, the metrics of each app's
API version, secrets) is checked afterwards on the :class:`Sections` that could be
read, so one bad table does not hide the mistakes of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationError

from collector.config.checks import DateSpec, Problem, parse_date_spec
from collector.config.daemon import DaemonTable
from collector.config.explain import problems
from collector.config.fields import Count, GraphId, Positive, Strict, Text, bad, choice, parsed
from collector.config.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_NDJSON,
    DEFAULT_SQLITE,
    MAX_BATCH_SIZE,
    GraphSettings,
    LogSettings,
    OutputSettings,
)
from collector.graph import catalogue

M = TypeVar("M", bound=BaseModel)
TokenIn = Literal["header", "query"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
Login = Literal["facebook", "instagram"]


def _version(version: str) -> str:
    try:
        catalogue.parse_version(version)
    except ValueError:
        raise bad(f'"{version}" is not of the form vNN.N', 'write e.g. "v22.0"') from None
    return version


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise bad("must be an http(s) URL without query", f'e.g. "{DEFAULT_BASE_URL}"')
    return url


def _batch_size(size: int) -> int:
    """1 (no batching) up to Meta's 50 requests per batch (SPEC 7)."""
    if size > MAX_BATCH_SIZE:
        raise bad(
            f"must be at most {MAX_BATCH_SIZE} (Meta's limit per batch), got {size}",
            f"use a value from 1 (no batching) to {MAX_BATCH_SIZE}",
        )
    return size


def _below_100(pct: float) -> float:
    if not pct < 100.0:
        raise bad(
            f"must be below 100 (a usage percentage), got {pct:g}",
            "use a value such as 95; at 100 Meta starts throttling",
        )
    return pct


ApiVersion = Annotated[Text, AfterValidator(_version)]
TargetPct = Annotated[Positive, AfterValidator(_below_100)]
Day = Annotated[DateSpec, parsed(parse_date_spec, 'write YYYY-MM-DD or "Nd" (N days before today)')]


class GraphTable(Strict):
    """``[graph]``: where and how to call the Graph API."""

    base_url: Annotated[Text, AfterValidator(_base_url)] = DEFAULT_BASE_URL
    api_version: ApiVersion = Field(examples=['"v22.0"'])
    token_in: Annotated[TokenIn, choice(*get_args(TokenIn))] = "header"
    timeout_s: Positive = 30.0
    concurrency: Count = 32
    batch_size: Annotated[Count, AfterValidator(_batch_size)] = 1

    def settings(self) -> GraphSettings:
        return GraphSettings(**self.model_dump())


class BudgetTable(Strict):
    """``[budget]``: how every app is paced (absent keys: BudgetSettings' defaults)."""

    target_pct: TargetPct | None = None
    probe_after_s: Positive | None = None
    max_wait_s: Positive | None = None


class AppTable(Strict):
    """One ``[[apps]]`` entry; its budget keys override ``[budget]``'s for this app."""

    name: Text
    app_id: GraphId
    app_secret: Text | None = None  # a secret reference, resolved by the loader
    calls_per_hour: Positive = Field(examples=["<a number > 0>"])
    concurrency: Count | None = None  # None: [graph].concurrency
    api_version: ApiVersion | None = None  # None: [graph].api_version
    # "instagram": Instagram Login; its requests go to base_url (default graph.instagram.com)
    login: Annotated[Login, choice(*get_args(Login))] = "facebook"
    base_url: Annotated[Text, AfterValidator(_base_url)] | None = None  # None: by login
    target_pct: TargetPct | None = None
    probe_after_s: Positive | None = None
    max_wait_s: Positive | None = None


class AccountTable(Strict):
    """One ``[[accounts]]`` entry (the registry CSV's columns)."""

    id: GraphId
    app: Text
    token: Text  # a secret reference, resolved by the loader
    label: str = ""
    followers: Annotated[int, Field(ge=0)] | None = None  # as `accounts discover` saw it


class RegistryTable(Strict):
    """``[registry]``: the CSV listing more accounts (relative to the config's folder)."""

    path: Text | None = None


class CollectTable(Strict):
    """``[collect]``; its metrics are checked per API version by :mod:`.selection`."""

    metrics: list[Text] | None = None
    periods: list[Text] | None = None
    since: Day = DateSpec(days_ago=30)
    until: Day = DateSpec(days_ago=0)
    timeframes: list[Text] | None = None
    breakdowns: dict[str, list[Text]] = Field(default_factory=dict)


class OutputTable(Strict):
    """``[output]``: sink paths; ``ndjson = ""`` turns the NDJSON sink off."""

    ndjson: Annotated[str, StringConstraints(strip_whitespace=True)] = DEFAULT_NDJSON
    sqlite: Text = DEFAULT_SQLITE

    def settings(self) -> OutputSettings:
        return OutputSettings(Path(self.ndjson) if self.ndjson else None, Path(self.sqlite))


class StoreTable(Strict):
    """``[store]``: the shared store (``url``: a secret reference or postgresql:// URL)."""

    url: Text | None = None  # resolved by the loader (env:/file: allowed)
    lease_s: Positive = 60.0
    poll_s: Positive = 1.0
    schema_name: Text | None = Field(default=None, alias="schema")


class LogTable(Strict):
    """``[log]``: rendering and level."""

    format: Annotated[LogFormat, choice(*get_args(LogFormat))] = "auto"
    level: Annotated[LogLevel, choice(*get_args(LogLevel))] = "info"

    def settings(self) -> LogSettings:
        return LogSettings(self.format, self.level)


class ConfigFile(Strict):
    """The whole file: its top-level tables (``config/example.toml`` shows every key)."""

    graph: GraphTable
    registry: RegistryTable = Field(default_factory=RegistryTable)
    apps: list[AppTable] = Field(default_factory=list)
    accounts: list[AccountTable] = Field(default_factory=list)
    collect: CollectTable = Field(default_factory=CollectTable)
    output: OutputTable = Field(default_factory=OutputTable)
    log: LogTable = Field(default_factory=LogTable)
    daemon: DaemonTable = Field(default_factory=DaemonTable)
    budget: BudgetTable = Field(default_factory=BudgetTable)
    store: StoreTable = Field(default_factory=StoreTable)


@dataclass(frozen=True, slots=True)
class Sections:
    """The file's tables as far as they could be read.

    A table is ``None`` when it is unusable; an array of tables is ``None`` when it
    is not an array, and holds ``None`` for each unusable entry (positions kept). A
    table with bad optional keys is kept with their defaults, so the cross-table
    checks still run; its mistakes are already reported.
    """

    graph: GraphTable | None
    registry: RegistryTable | None
    apps: tuple[AppTable | None, ...] | None
    accounts: tuple[AccountTable | None, ...] | None
    collect: CollectTable | None
    output: OutputTable | None
    log: LogTable | None
    daemon: DaemonTable | None
    budget: BudgetTable | None
    store: StoreTable | None


def read_sections(data: dict[str, object], file: Path) -> tuple[Sections, list[Problem]]:
    """The file's tables and every mistake the schema finds in them (none: a valid file)."""
    try:
        ConfigFile.model_validate(data)
    except ValidationError as exc:
        return _salvage(data), problems(exc, file, ConfigFile)
    return _salvage(data), []  # valid: each table reads whole


def salvage(model: type[M], raw: object) -> M | None:
    """``raw`` read as ``model`` without its bad keys (absent ones take their defaults);
    ``None`` when that still fails (a required key is bad, or ``raw`` is no table)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        if not isinstance(raw, dict):
            return None
        wrong = {detail["loc"][0] for detail in exc.errors() if detail["loc"]}
        try:
            return model.model_validate({k: v for k, v in raw.items() if k not in wrong})
        except ValidationError:
            return None


def _salvage(data: dict[str, object]) -> Sections:
    def table(name: str, model: type[M]) -> M | None:
        return salvage(model, data.get(name, {}))

    def array(name: str, model: type[M]) -> tuple[M | None, ...] | None:
        raw = data.get(name, [])
        return tuple(salvage(model, item) for item in raw) if isinstance(raw, list) else None

    return Sections(
        table("graph", GraphTable),
        table("registry", RegistryTable),
        array("apps", AppTable),
        array("accounts", AccountTable),
        table("collect", CollectTable),
        table("output", OutputTable),
        table("log", LogTable),
        table("daemon", DaemonTable),
        table("budget", BudgetTable),
        table("store", StoreTable),
    )
