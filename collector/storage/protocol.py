"""The store seam: what the collector asks of the place insights, ledger and checkpoint live.

Two Protocols, implemented by :mod:`collector.storage.sqlite` and
:mod:`collector.storage.postgres` (``tests/storage/test_store_contract.py``
runs the same tests on both):

- :class:`InsightStore`: the store itself. Reads (ledger summary, checkpoint,
  committed points, freshness) and :meth:`InsightStore.transaction`, the only
  way to write a batch. Which requests are to be sent is the ledger as a
  queue: :class:`~collector.storage.queue.WorkQueue`.
- :class:`StoreTransaction`: one open write transaction. It records a batch
  of outcomes and the NDJSON checkpoint; both become visible together when
  the transaction commits, or not at all.

Callers (:mod:`collector.storage.writer`, the engine, the daemon, reporting)
are typed against these Protocols; only the code that opens a store names an
implementation. The value types that cross the seam live here too, beside the
ones in :mod:`collector.model.outcome`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final, Protocol

from collector.model.outcome import Checkpoint, LedgerSummary, Outcome
from collector.model.records import Point
from collector.model.rows import PointRow
from collector.storage.queue import Fence

__all__ = [
    "REFRESH_SUFFIX",
    "AccountFreshness",
    "InsightStore",
    "NdjsonFile",
    "PointChanges",
    "StoreTransaction",
]

# Ledger keys of the daemon's refresh requests end with this (collector.planning.refresh).
REFRESH_SUFFIX: Final = "|refresh"


@dataclass(frozen=True, slots=True)
class PointChanges:
    """What recording a batch changed: the points to append elsewhere, and the rest.

    ``changed`` are the batch's points that are new or whose value differs from
    the stored one, one per identity (the last copy recorded), in the order
    those last copies arrived; ``unchanged`` counts the other recorded points
    (equal values, and the earlier copies of an identity recorded twice);
    ``fenced`` the keys of outcomes not recorded at all because the fence
    did not match (see :meth:`StoreTransaction.record_outcomes`).
    """

    changed: tuple[PointRow, ...]
    unchanged: int
    fenced: tuple[str, ...] = ()  # keys of outcomes dropped: their lease was taken


@dataclass(frozen=True, slots=True)
class NdjsonFile:
    """One NDJSON file a store committed to: its committed size and first/last commit."""

    path: str
    committed_offset: int
    first_at: str
    last_at: str


@dataclass(frozen=True, slots=True)
class AccountFreshness:
    """How fresh one account's stored data is (RFC 3339 UTC times; ``None``: never)."""

    account_id: str
    last_refresh: str | None
    last_lifetime: str | None
    newest_end_time: str | None
    pending: int
    failed: int


class StoreTransaction(Protocol):
    """One open write transaction, handed out by :meth:`InsightStore.transaction`.

    Everything recorded through it commits together when the ``async with``
    block ends normally, and is rolled back when the block raises (or the
    process dies first). It is usable only inside that block: afterwards every
    method raises :class:`RuntimeError`.
    """

    async def record_outcomes(
        self, outcomes: Sequence[Outcome], fence: Fence | None = None
    ) -> PointChanges:
        """Upsert the outcomes' points and set their ledger rows; return what changed.

        With a ``fence``, an outcome is recorded only if its ledger row is
        still leased to ``fence.owner`` under ``fence.tokens[key]``; the
        others are dropped whole (no point, no ledger change) and their keys
        returned in ``PointChanges.fenced``. A recorded row's lease is cleared.
        Every changed point gets the next value of the store's commit
        sequence, in commit order (see :meth:`InsightStore.committed_after`).

        A point whose identity (account, metric, period, end_time, dimensions)
        is stored with an equal value (numerically: 5 equals 5.0) is left as
        it is, ``fetched_at`` included. A ledger row gets the outcome's state,
        reason and point count, and its attempts are added to the stored
        ones; a ``failed`` outcome never demotes a ``done`` or ``no_data``
        row. May be called more than once; each call compares with what is
        stored, this transaction's earlier calls included. Raises the
        backend's error for a point it cannot store (e.g. a NaN value); the
        transaction must then be left by raising.
        """
        ...

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint, and note its NDJSON file's committed size, at commit.

        The checkpoint moves only with the data of this transaction: a
        transaction rolled back leaves the previous one in place.
        """
        ...


class InsightStore(Protocol):
    """Where insights, the request ledger and the NDJSON checkpoint are kept.

    One instance per store and process; it allows one write transaction at a
    time (a second one waits for the first to end). Reads are not blocked by
    an open transaction and may see its uncommitted rows.
    """

    @property
    def location(self) -> str:
        """Where the store lives, as messages name it (a file path); never a secret."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[StoreTransaction]:
        """The one way to write a batch: ``async with store.transaction() as tx:``.

        Entering waits for any other write transaction of this store to end,
        then begins one. Leaving the block normally commits it (a failing
        commit is rolled back and raises); leaving it by an exception,
        cancellation included, rolls it back and re-raises. Either way the
        next waiting transaction may then begin.
        """
        ...

    async def close(self) -> None:
        """Release the store's connection; an open transaction is rolled back."""
        ...

    async def ledger_summary(self) -> LedgerSummary:
        """Per-account request counts by state, and failures by reason."""
        ...

    async def checkpoint(self) -> Checkpoint | None:
        """The committed checkpoint, or ``None`` if no writer ever started on this store."""
        ...

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` in a transaction of its own (a writer's start)."""
        ...

    async def ndjson_files(self) -> list[NdjsonFile]:
        """Every NDJSON file ever committed to, oldest first (empty: none)."""
        ...

    async def committed_after(self, seq: int, limit: int) -> list[tuple[int, Point]]:
        """Up to ``limit`` stored points whose commit sequence is past ``seq``, in order.

        The sequence is given at commit, under a lock every writer takes, so a
        reader that saw sequence ``n`` committed never later sees a smaller
        one appear: following it (``export --follow``) yields each new or
        changed point once.
        """
        ...

    async def freshness(self) -> list[AccountFreshness]:
        """Per account (sorted by id): when its data was last fetched, from ledger and data.

        ``last_refresh`` is the newest commit of a finished daemon refresh
        request (keys ending in :data:`REFRESH_SUFFIX`), ``last_lifetime`` that
        of a finished request without a date range; ``newest_end_time`` the
        latest end_time stored. Each is ``None`` when there is none. An
        account appears if it has ledger rows or stored points.
        """
        ...
