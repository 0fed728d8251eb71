"""One write transaction of the PostgreSQL store: outcomes, fence, checkpoint, commit sequence.

:class:`PostgresTransaction` is the :class:`~collector.storage.protocol.StoreTransaction`
that :meth:`collector.storage.postgres.PostgresStore.transaction` hands out; it
writes on that transaction's connection and never begins, commits or rolls
back.

Recording a batch (:meth:`PostgresTransaction.record_outcomes`):

1. Lock the batch's ledger rows, in key order (every writer, renewal and job
   locks ledger rows in key order, so they wait for each other instead of
   deadlocking), and drop the outcomes the fence does not let through.
2. Upsert the points in one statement per chunk, by one of two methods
   (:data:`WRITE_METHODS`, measured in ``docs/benchmarks.md``): ``copy``
   streams them into a per-connection TEMP table and upserts from it with
   ``INSERT ... SELECT``; ``values`` sends multi-row ``INSERT ... VALUES``.
   Either way ``ON CONFLICT ... DO UPDATE ... WHERE value IS DISTINCT FROM``
   leaves equal values alone, and the rows it writes carry a provisional,
   negative ``seq`` (minus their place in this transaction), returned by
   ``RETURNING``: that is how the changed points are known.
3. Upsert the ledger rows (attempts added, a failure never demotes a finished
   row, the lease cleared).

At commit (:meth:`PostgresTransaction.finish`) one last statement reserves a
range of the commit sequence, ``UPDATE counters ... RETURNING``, and turns
the provisional seqs into it. The counter's row lock is held until COMMIT, so
the next writer's range is reserved only after this one is visible: sequence
order is commit order (:meth:`~collector.storage.protocol.InsightStore.committed_after`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal

from collector.clock import Clock
from collector.model.outcome import Checkpoint, Outcome, latest_rows
from collector.model.records import rfc3339
from collector.model.rows import end_time_text
from collector.storage.protocol import PointChanges
from collector.storage.queue import Fence

if TYPE_CHECKING:
    from psycopg import AsyncConnection, AsyncCursor
    from psycopg.rows import DictRow

__all__ = ["DEFAULT_WRITE_METHOD", "STAGE", "WRITE_METHODS", "PostgresTransaction", "WriteMethod"]

WriteMethod = Literal["copy", "values"]
WRITE_METHODS: Final[tuple[WriteMethod, ...]] = ("copy", "values")
# The faster of the two: 2.4-3 times VALUES' rate (docs/benchmarks.md, section 7).
DEFAULT_WRITE_METHOD: Final[WriteMethod] = "copy"

_POINT_COLUMNS: Final = (
    "account_id, metric, period, end_time, dimensions, value, api_version, fetched_at"
)

# Per-connection scratch table for the copy method (made when a pool connection opens).
STAGE: Final = """
CREATE TEMP TABLE stage (
    account_id TEXT COLLATE "C", metric TEXT COLLATE "C", period TEXT COLLATE "C",
    end_time TEXT COLLATE "C", dimensions TEXT COLLATE "C", value NUMERIC, api_version TEXT, fetched_at TEXT, seq BIGINT)
"""

# Both methods end in this: a stored equal value (numerically) is not touched.
_ON_CONFLICT: Final = """
ON CONFLICT ON CONSTRAINT insights_identity DO UPDATE SET
    value = excluded.value, api_version = excluded.api_version,
    fetched_at = excluded.fetched_at, seq = excluded.seq
WHERE i.value IS DISTINCT FROM excluded.value
RETURNING -i.seq AS ord
"""

# Rows are inserted in identity order: two writers lock shared rows in the same order.
_FROM_STAGE: Final = f"""
INSERT INTO insights AS i ({_POINT_COLUMNS}, seq)
SELECT {_POINT_COLUMNS}, seq FROM stage
ORDER BY account_id, metric, period, end_time, dimensions
{_ON_CONFLICT}
"""

# Rows per multi-row INSERT: 9 parameters each, within the protocol's 65,535.
_VALUES_ROWS: Final = 1_000

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

# The commit sequence: the transaction's last statement (see the module docstring).
_SEQUENCE: Final = """
WITH reserved AS (
    UPDATE counters SET value = value + %(n)s WHERE name = 'insights' RETURNING value)
UPDATE insights SET seq = reserved.value - %(n)s - insights.seq
FROM reserved WHERE insights.seq < 0
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
    row = "(%s, %s, %s, %s, %s, %s::numeric, %s, %s, %s)"
    return (
        f"INSERT INTO insights AS i ({_POINT_COLUMNS}, seq) VALUES "
        + ", ".join([row] * rows)
        + _ON_CONFLICT
    )


def value_text(value: int | float) -> str:
    """A point's value as NUMERIC input text: exact for ints and for a float's shortest form.

    (A float sent as float8 would be cast to NUMERIC with 15 significant digits.)
    """
    return str(value) if isinstance(value, int) else repr(value)


class PostgresTransaction:
    """A :class:`~collector.storage.protocol.StoreTransaction` on one open transaction.

    Made only by :meth:`~collector.storage.postgres.PostgresStore.transaction`;
    once its block has ended every method raises :class:`RuntimeError`.
    """

    def __init__(self, conn: AsyncConnection[DictRow], clock: Clock, method: WriteMethod) -> None:
        self._conn = conn
        self._clock = clock
        self._method = method
        self._open = True
        self._issued = 0  # provisional seqs handed out: -1 .. -issued

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
        base = self._issued
        rows: list[_Row] = [
            (r[0], r[1], r[2], end_time_text(r[4]), r[3], value_text(r[5]), r[6], r[7], -(base + i))
            for i, r in enumerate(unique, 1)
        ]
        self._issued += len(rows)
        if self._method == "copy":
            ords = await _upsert_by_copy(cur, rows)
        else:
            ords = await _upsert_by_values(cur, rows)
        changed = tuple(unique[o - base - 1] for o in sorted(ords))
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
        if self._issued:
            await self._conn.execute(_SEQUENCE, {"n": self._issued})

    def _usable(self) -> AsyncConnection[DictRow]:
        if not self._open:
            raise RuntimeError("the transaction has already ended")
        return self._conn


_Row = tuple[object, ...]


async def _upsert_by_copy(cur: AsyncCursor[DictRow], rows: list[_Row]) -> list[int]:
    """COPY ``rows`` into the connection's stage, upsert from it; the ords of the rows written."""
    if not rows:
        return []
    await cur.execute("TRUNCATE stage")
    async with cur.copy(f"COPY stage ({_POINT_COLUMNS}, seq) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)
    await cur.execute(_FROM_STAGE)
    return [int(r["ord"]) for r in await cur.fetchall()]


async def _upsert_by_values(cur: AsyncCursor[DictRow], rows: list[_Row]) -> list[int]:
    """Upsert ``rows`` by multi-row INSERTs; the ords of the rows written."""
    ords: list[int] = []
    rows = sorted(rows, key=_identity_order)
    for start in range(0, len(rows), _VALUES_ROWS):
        chunk = rows[start : start + _VALUES_ROWS]
        await cur.execute(_values_insert(len(chunk)), [v for row in chunk for v in row])
        ords += [int(r["ord"]) for r in await cur.fetchall()]
    return ords


def _identity_order(row: _Row) -> tuple[str, str, str, bool, str, str]:
    """Sort key of a row's identity, as the copy method's ORDER BY (NULL end_time last)."""
    account, metric, period, end_time, dimensions = (str(v) for v in row[:5])
    return (account, metric, period, row[3] is None, end_time, dimensions)
