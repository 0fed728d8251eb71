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

Version 2 makes the ledger a queue that processes share
(:mod:`collector.storage.queue`): per ledger row ``params``, ``priority``,
``rank`` and the lease (``lease_owner``, ``lease_until``, ``lease_token``);
``insights.seq``, the commit sequence (``counters`` holds its last value);
``jobs`` and ``job_requests``; ``workers`` (heartbeats); ``leases`` (named
leadership leases); ``budgets`` (each app's shared GCRA schedule and its
latest usage reading). Points stored by version 1 get their rowid as ``seq``.

Version 3 narrows the identity (issue 17): a point is (series id, end time as
an integer) instead of five texts.

- ``series``: one row per (account_id, metric, period, dimensions), an integer
  ``id``; rows are never deleted or changed, so a process may cache the ids.
- ``points``: ``(series_id, end_ts)`` is the primary key of a WITHOUT ROWID
  table (the lookup and the upsert are one B-tree of two integers); ``end_ts``
  is the end_time in Unix seconds, ``0`` for a point without one
  (:data:`collector.model.rows.NO_END_TIME`); ``value``, ``api_version``,
  ``fetched_at`` and ``seq`` as before.
- ``insights`` becomes a view with version 2's columns (``end_time`` as RFC
  3339 text or NULL), so SQL written against the table keeps working.
"""

from __future__ import annotations

from typing import Final

import aiosqlite

from collector.errors import OutputError

__all__ = [
    "LEDGER_COLUMNS", "SCHEMA_VERSION", "SchemaError", "migrate", "schema_version",
]  # fmt: skip

SCHEMA_VERSION: Final = 3

# Version 1's identity index (the table it indexes became a view in version 3).
_V1_IDENTITY: Final = "account_id, metric, period, ifnull(end_time, ''), dimensions"

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
CREATE UNIQUE INDEX IF NOT EXISTS insights_identity ON insights ({_V1_IDENTITY});
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


# Version 1 -> 2. ALTER TABLE ADD COLUMN is not idempotent: run only on a version-1 file.
_V2: Final = """
ALTER TABLE ledger ADD COLUMN params TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN priority INTEGER NOT NULL DEFAULT 100;
ALTER TABLE ledger ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN lease_owner TEXT NULL;
ALTER TABLE ledger ADD COLUMN lease_until REAL NULL;
ALTER TABLE ledger ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ledger_claim ON ledger (priority, rank) WHERE state = 'pending';
ALTER TABLE insights ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE insights SET seq = rowid;
CREATE INDEX insights_seq ON insights (seq);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters (name, value) SELECT 'insights', ifnull(max(seq), 0) FROM insights;
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, priority INTEGER NOT NULL,
    description TEXT NOT NULL, created_at TEXT NOT NULL, cancelled_at TEXT NULL);
CREATE TABLE job_requests (
    job_id INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (job_id, key)) WITHOUT ROWID;
CREATE INDEX job_requests_key ON job_requests (key, job_id);
CREATE TABLE workers (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, role TEXT NOT NULL,
    started_at TEXT NOT NULL, seen_at REAL NOT NULL);
CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL);
CREATE TABLE budgets (
    app TEXT PRIMARY KEY, tat REAL NOT NULL DEFAULT 0, reading TEXT NULL, read_at REAL NULL);
"""


# Version 2 -> 3: the narrow identity. Series are numbered in the order the points
# were first stored; every point keeps its value, payload and commit sequence.
_V3: Final = """
CREATE TABLE series (
    id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, metric TEXT NOT NULL,
    period TEXT NOT NULL, dimensions TEXT NOT NULL,
    UNIQUE (account_id, metric, period, dimensions));
CREATE TABLE points (
    series_id INTEGER NOT NULL, end_ts INTEGER NOT NULL, value NUMERIC NOT NULL,
    api_version TEXT NOT NULL, fetched_at TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (series_id, end_ts)) WITHOUT ROWID;
INSERT INTO series (account_id, metric, period, dimensions)
SELECT account_id, metric, period, dimensions FROM insights
GROUP BY account_id, metric, period, dimensions ORDER BY min(rowid);
INSERT INTO points (series_id, end_ts, value, api_version, fetched_at, seq)
SELECT s.id, ifnull(CAST(strftime('%s', i.end_time) AS INTEGER), 0), i.value, i.api_version,
       i.fetched_at, i.seq
FROM insights AS i JOIN series AS s
  ON s.account_id = i.account_id AND s.metric = i.metric AND s.period = i.period
 AND s.dimensions = i.dimensions;
DROP TABLE insights;
CREATE INDEX points_seq ON points (seq);
CREATE VIEW insights AS
SELECT s.account_id AS account_id, s.metric AS metric, s.period AS period,
       CASE p.end_ts WHEN 0 THEN NULL
            ELSE strftime('%Y-%m-%dT%H:%M:%SZ', p.end_ts, 'unixepoch') END AS end_time,
       s.dimensions AS dimensions, p.value AS value, p.api_version AS api_version,
       p.fetched_at AS fetched_at, p.seq AS seq
FROM points AS p JOIN series AS s ON s.id = p.series_id
"""


# The script that brings a file from version i to i + 1 is _STEPS[i].
_STEPS: Final = (_TABLES, _V2, _V3)


class SchemaError(OutputError):
    """The SQLite file was written by a newer schema than this code knows."""


async def schema_version(db: aiosqlite.Connection) -> int:
    """The file's schema version (``PRAGMA user_version``; 0 for a new file)."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row["user_version"])


async def migrate(db: aiosqlite.Connection, name: str, *, to: int = SCHEMA_VERSION) -> None:
    """Bring the file behind ``db`` to version ``to`` (the current one), in one transaction.

    ``db`` must have :class:`sqlite3.Row` rows and no open transaction;
    ``name`` is how messages call the file. Raises :class:`SchemaError`, and
    changes nothing, for a file of a newer version. (``to`` below the current
    version makes a file as an older release wrote it: the migration tests.)
    """
    version = await schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{name} has schema {version}; this version knows {SCHEMA_VERSION}")
    if version >= to:
        return
    # BEGIN IMMEDIATE: two processes opening a new file at once migrate one after
    # the other; the second finds the version already set and changes nothing.
    await db.execute("BEGIN IMMEDIATE")
    try:
        version = await schema_version(db)
        for step, script in enumerate(_STEPS, start=1):
            if version < step <= to:
                await _script(db, script)
        await db.execute(f"PRAGMA user_version = {max(to, version)}")
        await db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            await db.execute("ROLLBACK")
        raise


async def _script(db: aiosqlite.Connection, script: str) -> None:
    """Run ``script``'s statements one by one inside the open transaction.

    (``executescript`` would COMMIT first; the statements hold no ``;`` inside.)
    """
    for statement in script.split(";"):
        if statement.strip():
            await db.execute(statement)
