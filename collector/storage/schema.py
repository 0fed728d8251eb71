"""The SQLite store's tables and the migration that brings a file up to date.

The file's ``PRAGMA user_version`` is its schema version. :func:`migrate`
refuses a file newer than :data:`SCHEMA_VERSION` and otherwise creates what is
missing, in one transaction, so a file is never left half migrated.

Tables (version 1):

- ``insights``: one row per point identity (account_id, metric, period,
  end_time, dimensions). SQLite's UNIQUE treats NULLs as distinct, so the
  identity index is on ``ifnull(end_time, '')`` (end_time is never ``''``:
  it is RFC 3339 or NULL) and the upsert names the same expression as its
  conflict target. ``value`` has NUMERIC affinity: integers stay integers.
- ``ledger``: one row per planned request (the planner's key), its state
  ``pending | done | no_data | failed`` and attempt count.
- ``checkpoint``: a single row, the NDJSON path and its committed byte offset.
- ``ndjson_files``: every NDJSON file this store ever committed to (rotation
  starts new ones), its committed size and when it was first and last
  written; updated in the same transaction as the checkpoint.
"""

from __future__ import annotations

from typing import Final

import aiosqlite

from collector.errors import OutputError

__all__ = [
    "IDENTITY", "LEDGER_COLUMNS", "SCHEMA_VERSION", "SchemaError", "migrate", "schema_version",
]  # fmt: skip

SCHEMA_VERSION: Final = 1

# The expression the identity index is on; an upsert names it as its conflict target.
IDENTITY: Final = "account_id, metric, period, ifnull(end_time, ''), dimensions"

# The ledger's columns, in the order of the table (and of LedgerEntry's fields).
LEDGER_COLUMNS: Final = (
    "key", "account_id", "app", "metrics", "period", "since", "until", "state", "attempts",
    "reason", "points", "updated_at",
)  # fmt: skip

# Every statement is idempotent (IF NOT EXISTS), so running it on a file of this
# version changes nothing. A later version appends its steps (ALTER TABLE ...)
# and raises SCHEMA_VERSION; migrate runs them inside the same transaction.
_TABLES: Final = f"""
CREATE TABLE IF NOT EXISTS insights (
    account_id TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,
    end_time TEXT NULL, dimensions TEXT NOT NULL, value NUMERIC NOT NULL,
    api_version TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS insights_identity ON insights ({IDENTITY});
CREATE TABLE IF NOT EXISTS ledger (
    key TEXT PRIMARY KEY, account_id TEXT NOT NULL, app TEXT NOT NULL,
    metrics TEXT NOT NULL, period TEXT NOT NULL, since INTEGER NULL, until INTEGER NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'no_data', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, reason TEXT NULL, points INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account_id);
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), ndjson_path TEXT NULL,
    committed_offset INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ndjson_files (
    path TEXT PRIMARY KEY, committed_offset INTEGER NOT NULL,
    first_at TEXT NOT NULL, last_at TEXT NOT NULL);
"""


class SchemaError(OutputError):
    """The SQLite file was written by a newer schema than this code knows."""


async def schema_version(db: aiosqlite.Connection) -> int:
    """The file's schema version (``PRAGMA user_version``; 0 for a new file)."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row["user_version"])


async def migrate(db: aiosqlite.Connection, name: str) -> None:
    """Bring the file behind ``db`` to :data:`SCHEMA_VERSION`, in one transaction.

    ``db`` must have :class:`sqlite3.Row` rows and no open transaction;
    ``name`` is how messages call the file. Raises :class:`SchemaError`, and
    changes nothing, for a file of a newer version.
    """
    version = await schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{name} has schema {version}; this version knows {SCHEMA_VERSION}")
    await db.executescript(f"BEGIN; {_TABLES} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
