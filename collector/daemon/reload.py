"""What a SIGHUP reload changes, and loading the new config without ever losing the old one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from collector.config.load import Config, ConfigError
from collector.errors import OutputError

log = structlog.get_logger("collector.daemon.reload")


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Account ids added, removed and given another token; whether ``[graph]`` or the
    SQLite file changed (another wire; another ledger to read freshness from)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    tokens_changed: tuple[str, ...]
    graph_changed: bool
    sqlite_moved: bool


def diff_configs(old: Config, new: Config) -> ConfigChange:
    """What ``new`` changes compared with ``old`` (pure)."""
    tokens = {a.id: a.token for a in old.accounts}
    ids = {a.id for a in new.accounts}
    return ConfigChange(
        added=tuple(a.id for a in new.accounts if a.id not in tokens),
        removed=tuple(a for a in tokens if a not in ids),
        tokens_changed=tuple(
            a.id for a in new.accounts if a.id in tokens and tokens[a.id] != a.token
        ),
        graph_changed=new.graph != old.graph,
        sqlite_moved=new.output.sqlite != old.output.sqlite,
    )


def load_reloaded(
    reload: Callable[[], Config] | None, accept: Callable[[Config], None] = lambda _c: None
) -> Config | None:
    """The reloaded config, or ``None`` (logged as ``config_reload_failed``) when there is
    no way to reload, the new files are bad, or ``accept`` refuses the new config with
    an :class:`OutputError` (its outputs are someone else's): the caller keeps the
    config it has."""
    if reload is None:
        log.warning("config_reload_failed", detail="this daemon cannot reload its config")
        return None
    try:
        config = reload()
        accept(config)
        return config
    except (ConfigError, OutputError) as error:
        log.error("config_reload_failed", detail=str(error), kept="the previous config")
    except Exception as error:  # any other failure to read the files: keep running
        detail = f"{type(error).__name__}: {error}"
        log.error("config_reload_failed", detail=detail, kept="the previous config")
    return None
