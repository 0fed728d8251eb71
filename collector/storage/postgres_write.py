"""One write transaction of the PostgreSQL store: outcomes, fence, checkpoint, commit sequence.

:class:`PostgresTransaction` is the :class:`~collector.storage.protocol.StoreTransaction`
that :meth:`collector.storage.postgres.PostgresStore.transaction` hands out; it
writes on that transaction's connection and never begins, commits or rolls
back.

Recording a batch (:meth:`PostgresTransaction.record_outcomes`):

1. Lock the batch's ledger rows, in key order (every writer, renewal and job
   locks ledger rows in key order, so they wait for each other instead of
   deadlocking), and drop the outcomes the fence does not let through.
2. Give the points' series their ids (:class:`SeriesIds`: from the store's
   memory, else the accounts' series read at once, else inserted), schema
   version 3's narrow identity: a point is (series_id, end_ts).
3. Upsert the points in one statement per chunk, by one of two methods
   (:data:`WRITE_METHODS`, measured in ``docs/benchmarks.md``): ``copy``
   streams them into a per-connection TEMP table and upserts from it with
   ``INSERT ... SELECT``; ``values`` sends multi-row ``INSERT ... VALUES``.
   Either way the rows go in (series_id, end_ts) order, so two writers lock
   shared rows in one order, and ``ON CONFLICT (series_id, end_ts) DO UPDATE
   ... WHERE value IS DISTINCT FROM`` leaves equal values alone; the rows it
   writes carry a provisional, negative ``seq`` (minus their place in this
   transaction), returned by ``RETURNING``: that is how the changed points
   are known.
4. Upsert the ledger rows (attempts added, a failure never demotes a finished
   row, the lease cleared).

At commit (:meth:`PostgresTransaction.finish`) one last statement reserves a
range of the commit sequence, ``UPDATE counters ... RETURNING``, and turns
the provisional seqs of the rows written (found by their keys) into it; a
transaction that wrote no point takes no range. The counter's row lock is held
until COMMIT, so the next writer's range is reserved only after this one is
visible: sequence order is commit order (:meth:`~collector.storage.protocol.InsightStore.committed_after`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal

from collector.clock import Clock
from collector.model.outcome import Checkpoint, Outcome, latest_rows
from collector.model.records import rfc3339
from collector.model.rows import PointRow, SeriesKey
from collector.storage.protocol import PointChanges
from collector.storage.queue import Fence
from collector.storage.series import SeriesCache

if TYPE_CHECKING:
    from psycopg import AsyncConnection, AsyncCursor
    from psycopg.rows import DictRow

__all__ = [
    "DEFAULT_WRITE_METHOD", "STAGE", "WRITE_METHODS", "PostgresTransaction", "SeriesIds",
    "WriteMethod",
]  # fmt: skip

WriteMethod = Literal["copy", "values"]
WRITE_METHODS: Final[tuple[WriteMethod, ...]] = ("copy", "values")
# The faster of the two: 2.4-3 times VALUES' rate (docs/benchmarks.md, section 7).
DEFAULT_WRITE_METHOD: Final[WriteMethod] = "copy"

_POINT_COLUMNS: Final = "series_id, end_ts, value, api_version, fetched_at, seq"

# Per-connection scratch table for the copy method (made when a pool connection opens).
STAGE: Final = """
CREATE TEMP TABLE stage (
    series_id BIGINT, end_ts BIGINT, value NUMERIC, api_version TEXT, fetched_at TEXT,
    seq BIGINT)
"""

# Both methods end in this: a stored equal value (numerically) is not touched.
_ON_CONFLICT: Final = """
ON CONFLICT (series_id, end_ts) DO UPDATE SET
    value = excluded.value, api_version = excluded.api_version,
    fetched_at = excluded.fetched_at, seq = excluded.seq
WHERE p.value IS DISTINCT FROM excluded.value
RETURNING -p.seq AS ord
"""

# Rows are inserted in key order: two writers lock shared rows in the same order.
_FROM_STAGE: Final = f"""
INSERT INTO points AS p ({_POINT_COLUMNS})
SELECT {_POINT_COLUMNS} FROM stage ORDER BY series_id, end_ts
{_ON_CONFLICT}
"""

# Rows per multi-row INSERT: 6 parameters each, within the protocol's 65,535.
_VALUES_ROWS: Final = 1_000

_SERIES_COLUMNS: Final = "id, account_id, metric, period, dimensions"
_SERIES_OF_ACCOUNTS: Final = (
    f"SELECT {_SERIES_COLUMNS} FROM series WHERE account_id = ANY(%s::text[])"
)
# Keys come sorted and go in in their order (WITH ORDINALITY): two writers adding the
# same new series wait for each other's first one instead of deadlocking. A key another
# transaction added meanwhile returns nothing here; _SERIES_OF_KEYS finds it after.
_SERIES_INSERT: Final = f"""
INSERT INTO series (account_id, metric, period, dimensions)
SELECT a, m, p, d FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
    WITH ORDINALITY AS k (a, m, p, d, n) ORDER BY n
ON CONFLICT (account_id, metric, period, dimensions) DO NOTHING
RETURNING {_SERIES_COLUMNS}
"""
_SERIES_OF_KEYS: Final = """
SELECT s.id, s.account_id, s.metric, s.period, s.dimensions
FROM series AS s JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k (a, m, p, d)
  ON s.account_id = k.a AND s.metric = k.m AND s.period = k.p AND s.dimensions = k.d
"""

_LOCK_LEDGER: Final = """
SELECT key, lease_owner, lease_token FROM ledger WHERE key = ANY(%s::text[])
ORDER BY key FOR UPDATE
"""

# A failed outcome never demotes a finished row: the points it stored stay valid.
_KEEP: Final = "excluded.state = 'failed' AND l.state IN ('done', 'no_data')"
_LEDGER_UPSERT: Final = f"""
INSERT INTO ledger AS l (key, account_id, app, metrics, period, since, until, state,
                         attempts, reason, points, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    attempts = l.attempts + excluded.attempts,
    updated_at = excluded.updated_at,
    state = CASE WHEN {_KEEP} THEN l.state ELSE excluded.state END,
    reason = CASE WHEN {_KEEP} THEN l.reason ELSE excluded.reason END,
    points = CASE WHEN {_KEEP} THEN l.points ELSE excluded.points END,
    lease_owner = NULL, lease_until = NULL
"""

# The commit sequence: the transaction's last statement (see the module docstring). The
# rows written are named by key: a search for seq < 0 is a scan of the whole table
# whenever the planner lacks statistics (a new or freshly loaded store).
_SEQUENCE: Final = """
WITH reserved AS (
    UPDATE counters SET value = value + %(n)s WHERE name = 'insights' RETURNING value)
UPDATE points AS p SET seq = reserved.value - %(n)s - p.seq
FROM reserved, unnest(%(series)s::bigint[], %(ends)s::bigint[]) AS w (series_id, end_ts)
WHERE p.series_id = w.series_id AND p.end_ts = w.end_ts AND p.seq < 0
"""

_CHECKPOINT: Final = """
INSERT INTO checkpoint (id, ndjson_path, committed_offset, updated_at) VALUES (1, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET ndjson_path = excluded.ndjson_path,
    committed_offset = excluded.committed_offset, updated_at = excluded.updated_at
"""
_NDJSON_FILE: Final = """
INSERT INTO ndjson_files (path, committed_offset, first_at, last_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (path) DO UPDATE SET committed_offset = excluded.committed_offset,
    last_at = excluded.last_at
"""


@lru_cache(maxsize=8)
def _values_insert(rows: int) -> str:
    """``INSERT ... VALUES`` of ``rows`` points, upserting like the copy method."""
    row = "(%s, %s, %s::numeric, %s, %s, %s)"
    return (
        f"INSERT INTO points AS p ({_POINT_COLUMNS}) VALUES "
        + ", ".join([row] * rows)
        + _ON_CONFLICT
    )


def value_text(value: int | float) -> str:
    """A point's value as NUMERIC input text: exact for ints and for a float's shortest form.

    (A float sent as float8 would be cast to NUMERIC with 15 significant digits.)
    """
    return str(value) if isinstance(value, int) else repr(value)


class SeriesIds(SeriesCache):
    """The PostgreSQL store's series ids (:class:`~collector.storage.series.SeriesCache`),
    shared by the store's transactions."""

    async def resolve(
        self, cur: AsyncCursor[DictRow], rows: Sequence[PointRow]
    ) -> dict[SeriesKey, int]:
        """Series key -> id, holding every row's series; adds the series not stored yet.

        Runs in the caller's open transaction (READ COMMITTED). Unknown series
        are looked up by account (an account's every series at once: its next
        answers need them), the rest inserted; a series another transaction
        committed in between is read back after the insert skipped it.
        """
        known = self.known
        missing = self.missing((row[0], row[1], row[2], row[3]) for row in rows)
        if not missing:
            return known
        await cur.execute(_SERIES_OF_ACCOUNTS, (sorted({key[0] for key in missing}),))
        self.learn(_ids(await cur.fetchall()))
        new = sorted(key for key in missing if key not in known)
        if not new:
            return known
        await cur.execute(_SERIES_INSERT, _columns(new))
        self.learn(_ids(await cur.fetchall()), inserted=True)
        lost = [key for key in new if key not in known]
        if lost:
            await cur.execute(_SERIES_OF_KEYS, _columns(lost))
            self.learn(_ids(await cur.fetchall()))
            if any(key not in known for key in lost):
                raise RuntimeError("a series neither inserted nor found (not READ COMMITTED?)")
        return known


def _ids(found: Iterable[DictRow]) -> Iterator[tuple[SeriesKey, int]]:
    for row in found:
        yield (row["account_id"], row["metric"], row["period"], row["dimensions"]), int(row["id"])


def _columns(keys: Sequence[SeriesKey]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``keys`` as four arrays (account_id, metric, period, dimensions), for ``unnest``."""
    return [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys]


class PostgresTransaction:
    """A :class:`~collector.storage.protocol.StoreTransaction` on one open transaction.

    Made only by :meth:`~collector.storage.postgres.PostgresStore.transaction`;
    once its block has ended every method raises :class:`RuntimeError`.
    """

    def __init__(
        self, conn: AsyncConnection[DictRow], clock: Clock, method: WriteMethod, series: SeriesIds
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._method = method
        self._series = series
        self._open = True
        self._issued = 0  # provisional seqs handed out: -1 .. -issued
        # The keys (series_id, end_ts) of the rows written with a provisional seq.
        self._written: tuple[list[int], list[int]] = ([], [])

    async def record_outcomes(
        self, outcomes: Sequence[Outcome], fence: Fence | None = None
    ) -> PointChanges:
        """Upsert the outcomes' points and ledger rows; return what changed (see the Protocol)."""
        conn = self._usable()
        cur = conn.cursor()
        keys = sorted({o.key for o in outcomes})
        await cur.execute(_LOCK_LEDGER, (keys,))
        fenced: tuple[str, ...] = ()
        if fence is not None:
            held = {
                row["key"]
                for row in await cur.fetchall()
                if row["lease_owner"] == fence.owner
                and row["lease_token"] == fence.tokens.get(row["key"])
            }
            fenced = tuple(dict.fromkeys(o.key for o in outcomes if o.key not in held))
            outcomes = [o for o in outcomes if o.key in held]
        # The last copy of each identity wins, in the order the last copies arrived.
        unique, staged = latest_rows(outcomes)
        changed: tuple[PointRow, ...] = ()
        if unique:
            ids = await self._series.resolve(cur, unique)
            base = self._issued
            rows: list[_Row] = [
                (ids[r[0], r[1], r[2], r[3]], r[4], value_text(r[5]), r[6], r[7], -(base + i))
                for i, r in enumerate(unique, 1)
            ]
            self._issued += len(rows)
            rows.sort(key=_point_key)  # (series_id, end_ts): the order rows are locked in
            if self._method == "copy":
                ords = await _upsert_by_copy(cur, rows)
            else:
                ords = await _upsert_by_values(cur, rows)
            changed = tuple([unique[o - base - 1] for o in sorted(ords)])
            series_ids, ends = self._written
            for r in changed:
                series_ids.append(ids[r[0], r[1], r[2], r[3]])
                ends.append(r[4])
        now = rfc3339(self._clock.now())
        ledger = [
            (o.key, o.account_id, o.app, ",".join(o.metrics), o.period, o.since, o.until,
             o.state, o.attempts, o.reason, len(o.rows), now)
            for o in outcomes
        ]  # fmt: skip
        ledger.sort(key=lambda row: str(row[0]))  # key order (stable: a key's own order kept)
        if ledger:
            await cur.executemany(_LEDGER_UPSERT, ledger)
        return PointChanges(changed, staged - len(changed), fenced)

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint row and note its file's committed size (see the Protocol)."""
        conn = self._usable()
        now = rfc3339(self._clock.now())
        await conn.execute(_CHECKPOINT, (checkpoint.path, checkpoint.offset, now))
        if checkpoint.path is not None:
            await conn.execute(_NDJSON_FILE, (checkpoint.path, checkpoint.offset, now, now))

    def end(self) -> None:
        """Mark the transaction ended (by the store): later calls raise."""
        self._open = False

    async def finish(self) -> None:
        """Give this transaction's changed points their commit sequence: the last statement.

        Called by the store right before COMMIT, after :meth:`end`.
        """
        series_ids, ends = self._written
        if series_ids:  # (nothing written: no sequence numbers to take)
            params = {"n": self._issued, "series": series_ids, "ends": ends}
            await self._conn.execute(_SEQUENCE, params)

    def _usable(self) -> AsyncConnection[DictRow]:
        if not self._open:
            raise RuntimeError("the transaction has already ended")
        return self._conn


# (series_id, end_ts, value as NUMERIC text, api_version, fetched_at, provisional seq)
_Row = tuple[int, int, str, str, str, int]


def _point_key(row: _Row) -> tuple[int, int]:
    return row[0], row[1]


async def _upsert_by_copy(cur: AsyncCursor[DictRow], rows: list[_Row]) -> list[int]:
    """COPY ``rows`` into the connection's stage, upsert from it; the ords of the rows written."""
    await cur.execute("TRUNCATE stage")
    async with cur.copy(f"COPY stage ({_POINT_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)
    await cur.execute(_FROM_STAGE)
    return [int(r["ord"]) for r in await cur.fetchall()]


async def _upsert_by_values(cur: AsyncCursor[DictRow], rows: list[_Row]) -> list[int]:
    """Upsert ``rows`` (in key order) by multi-row INSERTs; the ords of the rows written."""
    ords: list[int] = []
    for start in range(0, len(rows), _VALUES_ROWS):
        chunk = rows[start : start + _VALUES_ROWS]
        await cur.execute(_values_insert(len(chunk)), [v for row in chunk for v in row])
        ords += [int(r["ord"]) for r in await cur.fetchall()]
    return ords
