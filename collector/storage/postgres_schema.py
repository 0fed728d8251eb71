"""The PostgreSQL store's tables, and the migration that brings a schema up to date.

The same tables and natural keys as the SQLite store (:mod:`collector.storage.schema`),
in PostgreSQL's types, versioned by the one row of ``schema_version``.
:func:`migrate` runs every step past the stored version in one transaction,
after taking a transaction-scoped advisory lock, so two processes that start
on a new database at once migrate it once (the second waits, then finds it
current); a database of a newer version is refused and left as it was.

Where PostgreSQL differs from the SQLite file:

- ``points`` (version 3; ``insights`` up to version 2): ``value`` is NUMERIC
  (exact for integers and for a float's shortest decimal form; 5 equals 5.0
  when an upsert compares) and NaN or infinities are refused, as SQLite's
  NOT NULL refuses the NULL a NaN becomes there. Version 2's ``insights``
  table had a ``UNIQUE NULLS NOT DISTINCT`` identity (PostgreSQL 15) and an
  ``id`` (SQLite's rowid); version 3's ``insights`` view keeps an ``id``
  column, the commit sequence, so SQL that ordered by it still runs.
- ``series`` and ``points`` (version 3): the narrow identity, as in the
  SQLite store: a series row per (account_id, metric, period, dimensions),
  never changed or deleted (a writer caches the ids), and a point per
  (series_id, end_ts), ``end_ts`` the end_time in Unix seconds (0: none).
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

# Version 3: the narrow identity (issue 17), as the SQLite store's version 3. Series are
# numbered in the order their first point was stored (the old id), explicitly rather
# than by the order INSERT ... SELECT happens to draw identity values; every point
# keeps its value, payload and commit sequence; end_ts is the end_time in Unix
# seconds, 0 for none (collector.model.rows.NO_END_TIME). The view gives SQL written
# against the version-2 table its columns, ``id`` being the commit sequence (a
# point's place in commit order, unique like the old id). ``points.series_id`` has no
# foreign key, as in SQLite: series rows are never deleted, the writer takes ids only
# from committed rows or its own transaction, and the check on every new point (and
# again on its commit-sequence update) cost a third of the insert rate.
_VERSION_3: Final = """
CREATE TABLE series (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL, metric TEXT COLLATE "C" NOT NULL,
    period TEXT COLLATE "C" NOT NULL, dimensions TEXT COLLATE "C" NOT NULL,
    CONSTRAINT series_identity UNIQUE (account_id, metric, period, dimensions));
CREATE TABLE points (
    series_id BIGINT NOT NULL,
    end_ts BIGINT NOT NULL,
    value NUMERIC NOT NULL CONSTRAINT points_value_finite
        CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
    api_version TEXT NOT NULL, fetched_at TEXT NOT NULL, seq BIGINT NOT NULL,
    PRIMARY KEY (series_id, end_ts));
INSERT INTO series (id, account_id, metric, period, dimensions) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY min(id)), account_id, metric, period, dimensions
FROM insights GROUP BY account_id, metric, period, dimensions;
SELECT setval(pg_get_serial_sequence('series', 'id'), coalesce(max(id), 0) + 1, false)
FROM series;
INSERT INTO points (series_id, end_ts, value, api_version, fetched_at, seq)
SELECT s.id, coalesce(extract(epoch FROM i.end_time::timestamptz)::bigint, 0), i.value,
       i.api_version, i.fetched_at, i.seq
FROM insights AS i JOIN series AS s
  ON s.account_id = i.account_id AND s.metric = i.metric AND s.period = i.period
 AND s.dimensions = i.dimensions;
DROP TABLE insights;
CREATE INDEX points_seq ON points (seq);
CREATE VIEW insights AS
SELECT p.seq AS id, s.account_id AS account_id, s.metric AS metric, s.period AS period,
       CASE WHEN p.end_ts = 0 THEN NULL
            ELSE to_char(to_timestamp(p.end_ts) AT TIME ZONE 'UTC',
                         'YYYY-MM-DD"T"HH24:MI:SS"Z"') END COLLATE "C" AS end_time,
       s.dimensions AS dimensions, p.value AS value, p.api_version AS api_version,
       p.fetched_at AS fetched_at, p.seq AS seq
FROM points AS p JOIN series AS s ON s.id = p.series_id;
"""

# STEPS[v - 1] brings a schema of version v - 1 to version v. A later version appends
# its step; a step never changes once released.
STEPS: Final = (_VERSION_1, _VERSION_2, _VERSION_3)
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
