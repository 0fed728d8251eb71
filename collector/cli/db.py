"""``ig-collector db upgrade``: create a store or migrate it to this version's schema.

``--store URL`` names a PostgreSQL database (``env:NAME`` or ``file:PATH`` read it
from the environment or a file, as the config's secrets are), ``--schema`` a
schema in it; ``--sqlite PATH`` a SQLite file. One line on stdout names the store
(its URL without the password) and its version; a store of a newer version is
refused (exit 2) and left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
from pathlib import Path

from collector.errors import EXIT_OK, UsageError

__all__ = ["add_db_arguments", "run_db"]


def add_db_arguments(db: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """The ``db`` command's subcommands (``common``: the global options' parent parser)."""
    sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    upgrade = sub.add_parser(
        "upgrade",
        help="create the store's tables or migrate them; print the schema version",
        parents=[common],
        allow_abbrev=False,
    )
    target = upgrade.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--store", metavar="URL", help="a PostgreSQL URL (or env:NAME / file:PATH holding one)"
    )
    target.add_argument("--sqlite", type=Path, metavar="PATH", help="a SQLite file")
    upgrade.add_argument("--schema", help="PostgreSQL schema for the tables (default: public)")


def run_db(args: argparse.Namespace) -> int:
    """Run ``db upgrade``; print one line and return the exit code."""
    if args.store is not None:
        location, before, after = asyncio.run(_upgrade_postgres(_url(args.store), args.schema))
    else:
        if args.schema is not None:
            raise UsageError("--schema is for a PostgreSQL --store, not --sqlite")
        location, before, after = _upgrade_sqlite(args.sqlite)
    if before == 0:
        note = "created"
    elif before == after:
        note = "already current"
    else:
        note = f"upgraded from {before}"
    print(f"{location}: schema version {after} ({note})")
    return EXIT_OK


def _url(text: str) -> str:
    """The URL ``--store`` names: itself, or what ``env:NAME`` / ``file:PATH`` hold."""
    if not text.startswith(("env:", "file:")):
        return text
    from collector.config.secrets import SecretError, SecretResolver

    try:
        return SecretResolver(os.environ).resolve(text, base_dir=Path.cwd())
    except SecretError as error:
        raise UsageError(f"--store {text}: {error}") from None


async def _upgrade_postgres(url: str, schema: str | None) -> tuple[str, int, int]:
    from collector.storage.postgres import SCHEMA_VERSION, PostgresStore

    location, before = await PostgresStore.upgrade(url, schema=schema)
    return location, before, SCHEMA_VERSION


def _upgrade_sqlite(path: Path) -> tuple[str, int, int]:
    from collector.storage.inspect import check_sqlite
    from collector.storage.schema import SCHEMA_VERSION
    from collector.storage.sqlite import Store

    check_sqlite(path)  # a directory, a foreign or read-only file: refused untouched
    before = 0
    if path.exists() and path.stat().st_size:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            before = int(db.execute("PRAGMA user_version").fetchone()[0])
    path.parent.mkdir(parents=True, exist_ok=True)

    async def open_and_close() -> None:
        store = await Store.open(path)  # creates or migrates
        await store.close()

    asyncio.run(open_and_close())
    return str(path), before, SCHEMA_VERSION
