"""One batch of outcomes into SQLite, set-wise, on the narrow identity (schema version 3).

Per batch: the rows' series get their integer ids (:class:`SeriesIds`: from
memory, else one SELECT per batch of unknown accounts, else an INSERT of the
new series); a commit-sequence block is reserved; the points go in with a few
multi-row ``INSERT ... ON CONFLICT DO UPDATE ... WHERE value IS NOT ...
RETURNING seq``: an upsert into a two-integer primary key that reports exactly
the rows it wrote (new, or a changed value), so no stage table and no separate
lookup of what changed. One ``executemany`` sets the ledger rows. The caller
holds the transaction (:meth:`collector.storage.sqlite.Store.transaction`):
nothing here begins, commits or rolls back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import count
from typing import Final, TypeVar

import aiosqlite

from collector.model.outcome import Outcome, latest_rows
from collector.model.rows import PointRow, SeriesKey
from collector.storage.protocol import PointChanges
from collector.storage.queue import Fence
from collector.storage.schema import LEDGER_COLUMNS
from collector.storage.series import SeriesCache

__all__ = ["SeriesIds", "padded", "upsert_outcomes"]

T = TypeVar("T")

# Rows per multi-row INSERT of points: 6 variables each, within SQLite's limit of
# variables per statement (999 before SQLite 3.32).
_CHUNK: Final = 512 if sqlite3.sqlite_version_info >= (3, 32) else 128
_SERIES_CHUNK: Final = 128  # series rows (4 variables) or accounts per statement


def _statement_rows(rows: int) -> int:
    """The statement size that writes ``rows`` rows: the next power of two, at least 8.

    The sqlite3 module keeps up to 128 prepared statements, and one of 512 rows
    holds about a megabyte: a statement per exact row count would pile up a new
    one with nearly every batch. A few fixed sizes are prepared once each; the
    rest of a statement repeats its last row, which the upsert's value guard
    leaves alone (the first copy made the stored value equal).
    """
    return max(8, 1 << (rows - 1).bit_length())


def padded(items: Sequence[T]) -> list[T]:
    """``items`` repeated at the end up to :func:`_statement_rows` of their count.

    For statements whose size follows a batch (``IN (...)`` lists, multi-row
    INSERTs that ignore duplicates): a few fixed sizes keep the sqlite3 module's
    statement cache from filling with one statement per count (a 10,000-account
    pull grew by tens of MiB so).
    """
    out = list(items)
    if out:
        out += out[-1:] * (_statement_rows(len(out)) - len(out))
    return out


@lru_cache(maxsize=16)
def _select_series(accounts: int) -> str:
    marks = ",".join("?" * accounts)
    return (
        "SELECT id, account_id, metric, period, dimensions FROM series"
        f" WHERE account_id IN ({marks})"
    )


@lru_cache(maxsize=16)
def _insert_series(rows: int) -> str:
    """Insert ``rows`` series; repeats of one (padding) are ignored, the new ones returned."""
    return (
        "INSERT INTO series (account_id, metric, period, dimensions) VALUES "
        + ",".join(["(?,?,?,?)"] * rows)
        + " ON CONFLICT DO NOTHING RETURNING id, account_id, metric, period, dimensions"
    )


@lru_cache(maxsize=16)
def _upsert(rows: int) -> str:
    """The points upsert for ``rows`` rows; it returns the ``seq`` of each row it wrote."""
    return (
        "INSERT INTO points (series_id, end_ts, value, api_version, fetched_at, seq) VALUES "
        + ",".join(["(?,?,?,?,?,?)"] * rows)
        + " ON CONFLICT (series_id, end_ts) DO UPDATE SET value = excluded.value,"
        " api_version = excluded.api_version, fetched_at = excluded.fetched_at,"
        " seq = excluded.seq WHERE points.value IS NOT excluded.value RETURNING seq"
    )


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


class SeriesIds(SeriesCache):
    """The SQLite store's series ids (:class:`~collector.storage.series.SeriesCache`)."""

    async def resolve(
        self, db: aiosqlite.Connection, keys: Iterable[SeriesKey]
    ) -> dict[SeriesKey, int]:
        """Series key -> id, holding every one of ``keys``, adding the series not stored yet.

        Unknown series are looked up by account (the account's every series is
        learned at once: its next answers need them), and what is still missing
        is inserted (the caller's transaction holds SQLite's write lock: no other
        writer can add one in between).
        """
        missing = self.missing(keys)
        if not missing:
            return self.known
        accounts = sorted({key[0] for key in missing})
        for start in range(0, len(accounts), _SERIES_CHUNK):
            chunk = padded(accounts[start : start + _SERIES_CHUNK])
            self.learn(_ids(await db.execute_fetchall(_select_series(len(chunk)), chunk)))
        new = sorted(key for key in missing if key not in self.known)
        for start in range(0, len(new), _SERIES_CHUNK):
            keys = new[start : start + _SERIES_CHUNK]
            sql = _insert_series(_statement_rows(len(keys)))
            values = [f for key in padded(keys) for f in key]
            self.learn(_ids(await db.execute_fetchall(sql, values)), inserted=True)
        return self.known


def _ids(found: Iterable[sqlite3.Row]) -> Iterator[tuple[SeriesKey, int]]:
    for r in found:
        yield (r["account_id"], r["metric"], r["period"], r["dimensions"]), int(r["id"])


async def upsert_outcomes(
    db: aiosqlite.Connection,
    series: SeriesIds,
    outcomes: Sequence[Outcome],
    now: str,
    fence: Fence | None = None,
) -> PointChanges:
    """Store the outcomes' new or changed points and their ledger rows (``updated_at`` ``now``).

    Runs inside the caller's open transaction on ``db`` (which has
    :class:`sqlite3.Row` rows); returns what changed, as
    :meth:`collector.storage.protocol.StoreTransaction.record_outcomes` says.
    """
    fenced: tuple[str, ...] = ()
    if fence is not None:
        outcomes, fenced = await _within_fence(db, outcomes, fence)
    # The last copy of each identity wins, in the order the last copies arrived.
    unique, staged = latest_rows(outcomes)
    changed: tuple[PointRow, ...] = ()
    if unique:
        keys = [(row[0], row[1], row[2], row[3]) for row in unique]
        ids = await series.resolve(db, keys)
        reserved = await db.execute_fetchall(_RESERVE, (len(unique),))
        base = int(next(iter(reserved))["value"]) - len(unique) + 1
        written: list[int] = []
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            values: list[object] = []
            for seq, key, row in zip(count(base + start), keys[start : start + _CHUNK], chunk):
                values += (ids[key], row[4], row[5], row[6], row[7], seq)
            size = _statement_rows(len(chunk))
            values += values[-6:] * (size - len(chunk))
            written += [r[0] for r in await db.execute_fetchall(_upsert(size), values)]
        written.sort()
        changed = tuple([unique[seq - base] for seq in written])
    await db.executemany(
        _LEDGER_UPSERT,
        [
            (o.key, o.account_id, o.app, ",".join(o.metrics), o.period, o.since, o.until,
             o.state, o.attempts, o.reason, len(o.rows), now)
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
    for start in range(0, len(keys), 512):
        chunk = padded(keys[start : start + 512])
        sql = (
            "SELECT key, lease_token FROM ledger WHERE lease_owner = ? AND state = 'pending'"
            f" AND key IN ({','.join('?' * len(chunk))})"
        )
        for row in await db.execute_fetchall(sql, (fence.owner, *chunk)):
            held[str(row["key"])] = int(row["lease_token"])
    kept = [o for o in outcomes if held.get(o.key, -1) == fence.tokens.get(o.key)]
    dropped = tuple(o.key for o in outcomes if held.get(o.key, -1) != fence.tokens.get(o.key))
    return kept, dropped
