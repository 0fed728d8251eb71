"""One batch of outcomes into SQLite, set-wise: stage, find what changed, upsert.

The batch's points go into a per-connection TEMP table (``stage``) with a few
multi-row INSERTs; one join against ``insights`` finds the new or changed
ones; one ``INSERT ... SELECT ... ON CONFLICT`` upserts them; one
``executemany`` sets the ledger rows. The caller holds the transaction
(:meth:`collector.storage.sqlite.Store.transaction`): nothing here begins,
commits or rolls back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

import aiosqlite

from collector.model.outcome import Outcome, latest_points
from collector.storage.protocol import PointChanges
from collector.storage.queue import Fence
from collector.storage.schema import IDENTITY, LEDGER_COLUMNS

__all__ = ["create_stage", "upsert_outcomes"]

# Per-connection scratch table for one batch; TEMP keeps it out of the file.
_STAGE: Final = """
CREATE TEMP TABLE stage (
    seq INTEGER PRIMARY KEY, account_id, metric, period, end_time, dimensions,
    value, api_version, fetched_at);
"""

# Rows per multi-row INSERT into the stage: 9 variables each, within SQLite's
# limit of variables per statement (999 before SQLite 3.32).
_STAGE_ROWS: Final = 512 if sqlite3.sqlite_version_info >= (3, 32) else 64


def _statement_rows(rows: int) -> int:
    """The statement size that stages ``rows`` rows: the next power of two, at least 8.

    The sqlite3 module keeps up to 128 prepared statements, and one of 512 rows
    holds about a megabyte: a statement per exact row count would pile up a new
    one with nearly every batch. A few fixed sizes are prepared once each.
    """
    return max(8, 1 << (rows - 1).bit_length())


@lru_cache(maxsize=16)
def _stage_insert(rows: int) -> str:
    """``INSERT OR IGNORE INTO stage VALUES (?, ...), ...`` for ``rows`` rows of 9 values."""
    return "INSERT OR IGNORE INTO stage VALUES " + ",".join(["(?,?,?,?,?,?,?,?,?)"] * rows)


# Each identity is staged once (the batch's last copy of it: see upsert_outcomes); it
# is changed when no row has that identity yet or the stored value differs (numeric
# comparison: 5 equals 5.0).
_FIND_CHANGED: Final = """
SELECT s.seq AS seq FROM stage AS s
LEFT JOIN insights AS i
  ON i.account_id = s.account_id AND i.metric = s.metric AND i.period = s.period
 AND ifnull(i.end_time, '') = ifnull(s.end_time, '') AND i.dimensions = s.dimensions
WHERE i.rowid IS NULL OR i.value IS NOT s.value
ORDER BY s.seq
"""

# Every staged row: the unchanged ones hit the DO UPDATE guard and stay as they are.
# ("WHERE true": SQLite's parser needs a WHERE before ON CONFLICT in INSERT ... SELECT.)
# A written row takes the commit sequence reserved for its staged place (``? + seq``).
_UPSERT: Final = f"""
INSERT INTO insights (account_id, metric, period, end_time, dimensions, value, api_version,
                      fetched_at, seq)
SELECT account_id, metric, period, end_time, dimensions, value, api_version, fetched_at, ? + seq
FROM stage WHERE true
ON CONFLICT ({IDENTITY}) DO UPDATE SET
    value = excluded.value, api_version = excluded.api_version, fetched_at = excluded.fetched_at,
    seq = excluded.seq
WHERE insights.value IS NOT excluded.value
"""

# Reserve commit sequence numbers; SQLite's write lock orders transactions, so
# numbers reserved earlier always commit earlier.
_RESERVE: Final = "UPDATE counters SET value = value + ? WHERE name = 'insights' RETURNING value"

# A failed outcome never demotes a finished row: the points it stored stay valid.
_KEEP: Final = "excluded.state = 'failed' AND ledger.state IN ('done', 'no_data')"
_LEDGER_UPSERT: Final = f"""
INSERT INTO ledger ({", ".join(LEDGER_COLUMNS)})
VALUES ({", ".join("?" * len(LEDGER_COLUMNS))})
ON CONFLICT (key) DO UPDATE SET
    attempts = ledger.attempts + excluded.attempts,
    updated_at = excluded.updated_at,
    state = CASE WHEN {_KEEP} THEN ledger.state ELSE excluded.state END,
    reason = CASE WHEN {_KEEP} THEN ledger.reason ELSE excluded.reason END,
    points = CASE WHEN {_KEEP} THEN ledger.points ELSE excluded.points END,
    lease_owner = NULL, lease_until = NULL
"""


async def create_stage(db: aiosqlite.Connection) -> None:
    """Create the connection's ``stage`` table (once per connection, before any batch)."""
    await db.executescript(_STAGE)


async def upsert_outcomes(
    db: aiosqlite.Connection, outcomes: Sequence[Outcome], now: str, fence: Fence | None = None
) -> PointChanges:
    """Store the outcomes' new or changed points and their ledger rows (``updated_at`` ``now``).

    Runs inside the caller's open transaction on ``db`` (which has
    :class:`sqlite3.Row` rows and a ``stage`` table); returns what changed, as
    :meth:`collector.storage.protocol.StoreTransaction.record_outcomes` says.
    """
    fenced: tuple[str, ...] = ()
    if fence is not None:
        outcomes, fenced = await _within_fence(db, outcomes, fence)
    # The last copy of each identity wins, in the order the last copies arrived.
    latest, staged = latest_points(outcomes)
    unique = list(latest.values())
    await db.execute("DELETE FROM stage")
    # Multi-row INSERTs: one statement step per chunk instead of one per point
    # (executemany steps row by row, and each step hands the GIL back and forth
    # with the event loop's thread).
    items = list(latest.items())
    for start in range(0, len(items), _STAGE_ROWS):
        chunk = items[start : start + _STAGE_ROWS]
        values: list[object] = []
        for seq, (key, point) in enumerate(chunk, start):
            values += (seq, *key, point.value, point.api_version, point.fetched_at)
        # Padded to the statement's size with copies of the last row, which
        # OR IGNORE drops (their seq is taken).
        size = _statement_rows(len(chunk))
        values += values[-9:] * (size - len(chunk))
        await db.execute(_stage_insert(size), values)
    # One round trip to the connection's thread for the whole answer.
    rows = await db.execute_fetchall(_FIND_CHANGED)
    changed = tuple([unique[row["seq"]] for row in rows])
    if changed:
        reserved = list(await db.execute_fetchall(_RESERVE, (len(unique),)))
        await db.execute(_UPSERT, (int(reserved[0]["value"]) - len(unique) + 1,))
    await db.executemany(
        _LEDGER_UPSERT,
        [
            (o.key, o.account_id, o.app, ",".join(o.metrics), o.period, o.since, o.until,
             o.state, o.attempts, o.reason, len(o.points), now)
            for o in outcomes
        ],
    )  # fmt: skip
    return PointChanges(changed, staged - len(changed), fenced)


async def _within_fence(
    db: aiosqlite.Connection, outcomes: Sequence[Outcome], fence: Fence
) -> tuple[Sequence[Outcome], tuple[str, ...]]:
    """Split ``outcomes`` into those whose lease ``fence`` still holds, and the others' keys."""
    held: dict[str, int] = {}
    keys = [o.key for o in outcomes]
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        sql = (
            "SELECT key, lease_token FROM ledger WHERE lease_owner = ? AND state = 'pending'"
            f" AND key IN ({','.join('?' * len(chunk))})"
        )
        for row in await db.execute_fetchall(sql, (fence.owner, *chunk)):
            held[str(row["key"])] = int(row["lease_token"])
    kept = [o for o in outcomes if held.get(o.key, -1) == fence.tokens.get(o.key)]
    dropped = tuple(o.key for o in outcomes if held.get(o.key, -1) != fence.tokens.get(o.key))
    return kept, dropped
