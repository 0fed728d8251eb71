"""The validated configuration as frozen dataclasses: what the rest of the collector reads.

Built by :func:`collector.config.load.load_config`; see that module for the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from collector.config.checks import DateSpec
from collector.config.daemon import DaemonSettings
from collector.config.registry import AccountConfig
from collector.graph.catalogue import Breakdowns
from collector.pacing.settings import BudgetSettings

DEFAULT_BASE_URL = "https://graph.facebook.com"
INSTAGRAM_BASE_URL = "https://graph.instagram.com"  # SPEC 8: Instagram Login's host
DEFAULT_NDJSON = "out/insights.ndjson"
DEFAULT_SQLITE = "out/insights.sqlite"
MAX_BATCH_SIZE = 50  # Meta: at most 50 requests in one batch (SPEC section 7)


@dataclass(frozen=True, slots=True)
class MetricSelection:
    """What the apps on one API version collect: metrics, periods, breakdowns."""

    version: str
    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    breakdowns: Breakdowns = ()


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
    and the API version its requests use (``None``: ``[graph].api_version``).

    ``login`` is ``"instagram"`` for an Instagram Login app; ``base_url`` is the host its
    requests go to when not ``[graph].base_url`` (``None``: that one)."""

    name: str
    app_id: str
    app_secret: str | None = field(repr=False)
    calls_per_hour: float
    concurrency: int
    api_version: str | None = None
    login: Literal["facebook", "instagram"] = "facebook"
    base_url: str | None = None


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
class StoreSettings:
    """``[store]``: where the shared store lives and how workers lease its queue.

    ``url`` ``None``: the SQLite file of ``[output].sqlite`` (one host); a
    ``postgresql://`` URL (its password resolved from ``env:``/``file:``): the
    PostgreSQL store any number of hosts share. Workers hold a claim for
    ``lease_s`` seconds (renewed every third of it), and look at an empty
    queue every ``poll_s`` seconds.
    """

    url: str | None = field(default=None, repr=False)
    lease_s: float = 60.0
    poll_s: float = 1.0
    schema: str | None = None  # PostgreSQL schema of the tables (None: the role's default)


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
    store: StoreSettings = field(default_factory=StoreSettings)

    def budget_of(self, app_name: str) -> BudgetSettings:
        """The pacing knobs of the app called ``app_name``: ``[budget]`` with its overrides.

        Raises ``KeyError`` for an app the config does not list.
        """
        for name, budget in self.budgets:
            if name == app_name:
                return budget
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
