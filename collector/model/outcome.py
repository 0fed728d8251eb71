"""The records of what became of planned requests: outcomes, ledger rows, the checkpoint.

An :class:`Outcome` is what the worker pool hands the sink writer for one
planned request. It is the unit the ledger tracks: its ``key`` is the
planner's ``PlannedRequest.key``, and one outcome moves one ledger row to
``done``, ``no_data`` or ``failed`` in the same transaction that stores its
points. The other types are what the stores (:mod:`collector.storage.protocol`)
read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from collector.model.records import Point
from collector.model.rows import PointRow, point_of

OutcomeState = Literal["done", "no_data", "failed"]
STATES: Final = ("pending", "done", "no_data", "failed")  # every ledger state


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one planned request after all its attempts.

    ``rows`` are its points (:mod:`collector.model.rows`), empty for ``no_data`` and
    ``failed``. ``since``/``until`` are the
    request's Unix edges (``None`` for requests without a range). ``attempts``
    counts the HTTP attempts made for it in this run. ``reason`` says why a
    request failed (e.g. ``"code 100"``); it never contains a token.
    """

    key: str
    account_id: str
    app: str
    metrics: tuple[str, ...]
    period: str
    since: int | None
    until: int | None
    state: OutcomeState
    rows: tuple[PointRow, ...]
    attempts: int
    reason: str | None = None

    @property
    def points(self) -> tuple[Point, ...]:
        """The rows as :class:`Point` objects (for readers and tests, not the hot path)."""
        return tuple(point_of(row) for row in self.rows)


def latest_rows(outcomes: Iterable[Outcome]) -> tuple[list[PointRow], int]:
    """The outcomes' rows, one per identity: the last copy, in the order the last copies
    arrived; and how many rows there were in all (copies included).

    (A dict deduplicates cheaper than a GROUP BY over a store's stage table; a batch
    without a repeated identity, the common case, is returned as it came.)
    """
    rows = [row for outcome in outcomes for row in outcome.rows]
    latest: dict[tuple[object, ...], PointRow] = {row[:5]: row for row in rows}
    if len(latest) == len(rows):
        return rows, len(rows)
    # A repeated identity: its last copy goes where the last copy arrived.
    last = {key: i for i, key in enumerate(row[:5] for row in rows)}
    return [rows[i] for i in sorted(last.values())], len(rows)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far the NDJSON file is committed: ``path`` ``None`` means no NDJSON sink."""

    path: str | None
    offset: int


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as stored."""

    key: str
    account_id: str
    app: str
    metrics: tuple[str, ...]
    period: str
    since: int | None
    until: int | None
    state: str
    attempts: int
    reason: str | None
    points: int
    updated_at: str


@dataclass(frozen=True, slots=True)
class AccountLedger:
    """Ledger counts of one account: ``counts`` has every state of :data:`STATES`."""

    account_id: str
    counts: Mapping[str, int]
    failures: Mapping[str, int]  # failure reason -> requests that failed with it


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """Per-account ledger counts, sorted by account id (for ``ig-collector status``)."""

    accounts: tuple[AccountLedger, ...]

    def totals(self) -> dict[str, int]:
        """Requests per state over all accounts."""
        return {s: sum(a.counts[s] for a in self.accounts) for s in STATES}
