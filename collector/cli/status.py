"""``ig-collector status``: the store's freshness and ledger, then the figures of ``/metrics``.

``--sqlite PATH`` opens the SQLite file read-only; ``--config C`` reaches the
config's store (SQLite, read-only, or PostgreSQL) and names its apps (for the
usage readings and the claimable count). ``--json`` prints the figures as one
JSON object instead of tables.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson

from collector.cli.args import load
from collector.cli.onboard import check_config_tokens
from collector.clock import SystemClock
from collector.config.load import Config
from collector.daemon.tokens import Health
from collector.engine.jobs import store_address
from collector.errors import EXIT_OK, UsageError
from collector.reporting.plan import render_status_report
from collector.reporting.vitals import figures_text, status_figures, tokens_text
from collector.storage.inspect import open_read_only
from collector.storage.opening import open_store


def status_command(args: argparse.Namespace) -> int:
    config: Config | None = load(args) if args.config else None
    sqlite: Path | None = args.sqlite
    if sqlite is None and config is not None and not config.store.url:
        sqlite = Path(config.output.sqlite)
    if sqlite is None and config is None:
        raise UsageError("status needs --sqlite PATH or --config FILE")
    apps = None if config is None else [app.name for app in config.apps]
    now = SystemClock().now().timestamp()

    async def figures() -> dict[str, Any]:
        if sqlite is not None:
            async with open_read_only(sqlite) as store:
                return await status_figures(store, apps, now)
        assert config is not None
        shared = await open_store(store_address(config))
        try:
            return await status_figures(shared, apps, now)
        finally:
            await shared.close()

    found = asyncio.run(figures())
    if args.tokens:
        if config is None:
            raise UsageError("status --tokens needs --config FILE (the tokens to check)")
        found["tokens_needing_care"] = _tokens_needing_care(config, args.warn_days)
    if args.json:
        print(orjson.dumps(found).decode())
        return EXIT_OK
    print(figures_text(found))
    if args.tokens:
        print(tokens_text(found["tokens_needing_care"], args.warn_days))
    if sqlite is not None:  # the ledger table last, its total the last line (as before)
        print()
        print(asyncio.run(render_status_report(sqlite)))
    return EXIT_OK


def _tokens_needing_care(config: Config, warn_days: float) -> list[dict[str, object]]:
    """The config's tokens that are dead or expire within ``warn_days``, by fingerprint."""
    verdicts = asyncio.run(check_config_tokens(config, warn_days))
    return [
        {
            "token": v.fingerprint,
            "app": v.app,
            "accounts": v.accounts,
            "health": v.health.value,
            "expires_at": v.expires_at,
            "detail": v.detail,
        }
        for v in sorted(verdicts, key=lambda v: (v.app, v.fingerprint))
        if v.health in (Health.INVALID, Health.EXPIRING)
    ]
