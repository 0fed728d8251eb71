"""Configuration: one TOML file (plus an optional CSV registry), parsed once, at the edge.

:func:`load_config` turns the file into frozen dataclasses or raises one
:class:`ConfigError` listing every mistake it found (``.problems``), each naming
the file, the key or row (array positions count from 1), the problem and the fix;
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
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from collector.config.accounts import load_accounts
from collector.config.checks import ConfigError, DateSpec, Problem, check_order, parse_date_spec
from collector.config.registry import AccountConfig
from collector.config.schema import BudgetTable, StoreTable, read_sections
from collector.config.secrets import SecretResolver
from collector.config.sections import app_versions, check_apps, read_collect
from collector.config.settings import (
    AppConfig,
    CollectSettings,
    Config,
    GraphSettings,
    LogSettings,
    MetricSelection,
    OutputSettings,
    StoreSettings,
)

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
    "Problem",
    "apply_overrides",
    "load_config",
    "resolve_range",
]


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve the config at ``path``; raises :class:`ConfigError`.

    ``environ`` is where ``env:`` secrets are looked up (default ``os.environ``).
    Relative ``[registry].path`` and ``file:`` secrets are taken from the config
    file's folder (for registry tokens: the CSV's folder); output paths from the
    working directory.
    """
    # the schema first (every table at once), then what spans tables, on what it could read
    sections, found = read_sections(read_toml(path), path)
    resolver = SecretResolver(os.environ if environ is None else environ)
    graph = sections.graph.settings() if sections.graph else None
    budget = sections.budget or BudgetTable()  # a bad [budget] is reported; check with defaults
    apps = (
        check_apps(path, sections.apps, budget, resolver, found)
        if sections.apps is not None
        else []
    )
    picked = None
    if sections.collect is not None:
        versions = app_versions(sections, graph, found)
        picked = read_collect(path, sections.collect, versions, found)
    accounts: tuple[AccountConfig, ...] = ()
    if sections.apps is not None and None not in sections.apps and sections.accounts is not None:
        names = [app.name for app in sections.apps if app is not None]
        accounts = load_accounts(path, sections.accounts, sections.registry, names, resolver, found)
    store = _store(path, sections.store, resolver, found)
    if found:
        raise ConfigError.of(found)
    assert graph and picked and sections.output and sections.log and sections.daemon
    collect, warnings = picked
    if resolver.literal_count:
        warnings.append(
            f"{resolver.literal_count} secret(s) are written literally in the config or registry; "
            "prefer env:NAME or file:PATH so the files can be shared safely"
        )
    warnings.extend(_url_warnings(graph.base_url))
    output = sections.output.settings()
    if store.url is not None and output.ndjson is not None:
        # Many processes commit to a shared store; none sees all commits to stream them.
        if "ndjson" in sections.output.model_fields_set:
            warnings.append(
                "[output].ndjson is not written with a PostgreSQL [store]: stream the store "
                "with `ig-collector export --format ndjson --follow --out PATH`"
            )
        output = replace(output, ndjson=None)
    return Config(
        path,
        graph,
        tuple(app.config(graph) for app in apps),
        accounts,
        collect,
        output,
        sections.log.settings(),
        tuple(warnings),
        sections.daemon.settings(),
        tuple((app.table.name, app.budget) for app in apps),
        store,
    )


def _store(
    path: Path, table: StoreTable | None, resolver: SecretResolver, found: list[Problem]
) -> StoreSettings:
    """``[store]`` with its URL resolved (``env:``/``file:``) and its scheme checked."""
    if table is None:
        return StoreSettings()
    url = table.url
    if url is not None and url.startswith(("env:", "file:")):
        url = resolver.resolve_into(url, path.parent, path, "store.url", found)
    if url is not None and urlsplit(url).scheme not in ("postgresql", "postgres"):
        found.append(
            Problem(
                path,
                "store.url",
                "is not a postgresql:// URL",
                'write url = "postgresql://user@host/db" (password by env:NAME), or drop '
                "[store].url to use the SQLite file of [output]",
            )
        )
        url = None
    return StoreSettings(url, table.lease_s, table.poll_s, table.schema_name)


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
    store_url: str | None = None,
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
    store = config.store
    if store_url is not None:
        found: list[Problem] = []
        resolver = SecretResolver(os.environ)
        url = store_url
        if url.startswith(("env:", "file:")):
            url = resolver.resolve_into(url, Path.cwd(), config.source, "--store", found) or ""
        if found:
            raise ConfigError.of(found)
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                config.source, "--store", "is not a postgresql:// URL",
                "give postgresql://user@host/db (password by env:NAME), or leave --store out",
            )  # fmt: skip
        store = replace(store, url=url)
    if store.url is not None:
        output = replace(output, ndjson=None)  # see load_config: export --follow streams it
    return replace(config, collect=collect, accounts=chosen, output=output, store=store)


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
