"""The PostgreSQL store's tables, and the migration that brings a schema up to date.

The same tables and natural keys as the SQLite store (:mod:`collector.storage.schema`),
in PostgreSQL's types, versioned by the one row of ``schema_version``.
:func:`migrate` runs every step past the stored version in one transaction,
after taking a transaction-scoped advisory lock, so two processes that start
on a new database at once migrate it once (the second waits, then finds it
current); a database of a newer version is refused and left as it was.

Where PostgreSQL differs from the SQLite file:

- ``insights``: the identity is ``UNIQUE NULLS NOT DISTINCT`` (PostgreSQL 15), so
  two points without an end_time collide as they must; ``value`` is NUMERIC
  (exact for integers and for a float's shortest decimal form; 5 equals 5.0
  when an upsert compares) and NaN or infinities are refused, as SQLite's
  NOT NULL refuses the NULL a NaN becomes there; ``id`` is the insertion
  order SQLite's rowid gives.
- Keys and identities compare byte for byte (``COLLATE "C"``), as SQLite's do,
  whatever the database's locale: cheaper to index, and the order Python's
  ``sorted`` gives, which the writers use to lock rows in one order.
- ``ledger.seq`` is a BIGSERIAL: registration order for claims (SQLite's rowid).
- Leases, budgets and heartbeats keep times as Unix seconds (DOUBLE PRECISION)
  from the store's injected clock, never the database's ``now()``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from collector.storage.schema import SchemaError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

__all__ = ["SCHEMA_VERSION", "STEPS", "check_schema_name", "migrate"]

# Version 1: the SQLite store's first tables, in PostgreSQL's types.
_VERSION_1: Final = """
CREATE TABLE insights (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL, metric TEXT COLLATE "C" NOT NULL,
    period TEXT COLLATE "C" NOT NULL, end_time TEXT COLLATE "C" NULL,
    dimensions TEXT COLLATE "C" NOT NULL,
    value NUMERIC NOT NULL CONSTRAINT insights_value_finite
        CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
    api_version TEXT NOT NULL, fetched_at TEXT NOT NULL,
    CONSTRAINT insights_identity
        UNIQUE NULLS NOT DISTINCT (account_id, metric, period, end_time, dimensions));
CREATE TABLE ledger (
    key TEXT COLLATE "C" PRIMARY KEY, account_id TEXT NOT NULL, app TEXT NOT NULL,
    metrics TEXT NOT NULL, period TEXT NOT NULL, since BIGINT NULL, until BIGINT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'no_data', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, reason TEXT NULL, points INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL);
CREATE INDEX ledger_account ON ledger (account_id);
CREATE TABLE checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), ndjson_path TEXT NULL,
    committed_offset BIGINT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE ndjson_files (
    path TEXT PRIMARY KEY, committed_offset BIGINT NOT NULL,
    first_at TEXT NOT NULL, last_at TEXT NOT NULL);
"""

# Version 2: the ledger as a shared queue (collector.storage.queue), jobs, workers,
# leader leases, shared budgets and the commit sequence of insights.
_VERSION_2: Final = """
ALTER TABLE ledger
    ADD COLUMN params TEXT NOT NULL DEFAULT '',
    ADD COLUMN priority INTEGER NOT NULL DEFAULT 100,
    ADD COLUMN rank INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN lease_owner TEXT NULL,
    ADD COLUMN lease_until DOUBLE PRECISION NULL,
    ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN seq BIGSERIAL;
CREATE INDEX ledger_claim ON ledger (priority, rank, seq) WHERE state = 'pending';
ALTER TABLE insights ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE insights SET seq = id;
CREATE INDEX insights_seq ON insights (seq);
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL,
    priority INTEGER NOT NULL, description TEXT NOT NULL, created_at TEXT NOT NULL,
    cancelled_at TEXT NULL);
CREATE TABLE job_requests (
    job_id BIGINT NOT NULL REFERENCES jobs (id), key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (job_id, key));
CREATE INDEX job_requests_key ON job_requests (key, job_id);
CREATE TABLE workers (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, role TEXT NOT NULL,
    started_at TEXT NOT NULL, seen_at DOUBLE PRECISION NOT NULL);
CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until DOUBLE PRECISION NOT NULL);
CREATE TABLE budgets (
    app TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL DEFAULT 0,
    reading TEXT NULL, read_at DOUBLE PRECISION NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO counters (name, value) SELECT 'insights', coalesce(max(seq), 0) FROM insights;
"""

# STEPS[v - 1] brings a schema of version v - 1 to version v. A later version appends
# its step; a step never changes once released.
STEPS: Final = (_VERSION_1, _VERSION_2)
SCHEMA_VERSION: Final = len(STEPS)

# A schema name the store puts in search_path as it is: a plain, unquoted identifier.
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Key of the advisory lock every migration of one schema takes first ("igc" + "migr").
_LOCK_CLASS: Final = 0x69676300


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lower-case identifier, else :class:`SchemaError`."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise SchemaError(
            f"schema name {schema!r} is not a plain identifier;"
            " use lower-case letters, digits and _ (at most 63)"
        )
    return schema


async def migrate(
    conn: AsyncConnection[DictRow], name: str, schema: str | None, *, target: int = SCHEMA_VERSION
) -> int:
    """Bring the store behind ``conn`` to version ``target``, in one transaction; the old version.

    ``conn`` is in autocommit mode with ``search_path`` set to ``schema``
    (``None``: the connection's default, where tables are created in the
    first schema of its search path); ``schema`` is created if missing.
    ``name`` is how messages call the store. Returns the version found (0: a
    new store). Raises :class:`SchemaError`, and changes nothing, for a store
    of a newer version than ``target``. ``target`` below the newest is for
    tests of the upgrade path.
    """
    async with conn.transaction():
        # Both lock keys from the schema's name: migrations of one schema wait for each other.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s::integer, hashtext(coalesce(%s, current_schema(), '')))",
            (_LOCK_CLASS, schema),
        )
        if schema is not None:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {check_schema_name(schema)}")
        version = await _stored_version(conn)
        if version > target:
            raise SchemaError(f"{name} has schema {version}; this version knows {target}")
        for step in STEPS[version:target]:
            await conn.execute(step)
        if version == 0:
            await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (target,))
        elif version < target:
            await conn.execute("UPDATE schema_version SET version = %s", (target,))
    return version


async def _stored_version(conn: AsyncConnection[DictRow]) -> int:
    """The version in ``schema_version`` (0 when the table does not exist yet)."""
    cur = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL AS present")
    row = await cur.fetchone()
    if row is None or not row["present"]:
        return 0
    cur = await conn.execute("SELECT max(version) AS version FROM schema_version")
    row = await cur.fetchone()
    return 0 if row is None or row["version"] is None else int(row["version"])
