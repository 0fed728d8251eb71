"""The series-id cache both stores keep: series key -> integer id, bounded, rollback-safe.

Schema version 3 keeps each series (account_id, metric, period, dimensions) once
with an integer id, and a point as (series id, end_ts). Series rows are never
changed or deleted, so an id read from a committed row stays right for the
store's life; ids the open transaction inserted are forgotten if it rolls back.
Each store subclasses :class:`SeriesCache` with the SQL that looks up and
inserts what is missing (``resolve``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from collector.model.rows import SeriesKey

__all__ = ["SeriesCache"]


class SeriesCache:
    """Series key -> id for one store; the store calls :meth:`committed` or
    :meth:`rolled_back` after every transaction and runs one at a time.

    Memory stays bounded: past :data:`MAX_KNOWN` ids the cache starts afresh
    between transactions (10,000 accounts hold ~1,500,000 series; the accounts in
    flight are a few hundred, and a forgotten one costs one SELECT to learn again;
    20,000 ids kept the 10,000-account pull's peak RSS where it was before schema 3).
    """

    MAX_KNOWN: Final = 20_000

    def __init__(self) -> None:
        self.known: dict[SeriesKey, int] = {}
        self._inserted: list[SeriesKey] = []  # by the open transaction

    def committed(self) -> None:
        """The open transaction committed: its inserted ids are now everyone's."""
        self._inserted.clear()
        if len(self.known) > self.MAX_KNOWN:
            self.known.clear()

    def rolled_back(self) -> None:
        """The open transaction rolled back: forget the ids it inserted."""
        for key in self._inserted:
            self.known.pop(key, None)
        self._inserted.clear()

    def missing(self, keys: Iterable[SeriesKey]) -> set[SeriesKey]:
        """The keys whose id is not known."""
        return set(keys).difference(self.known)

    def learn(self, found: Iterable[tuple[SeriesKey, int]], *, inserted: bool = False) -> None:
        """Keep these ids; ``inserted``: the open transaction made them."""
        for key, series_id in found:
            self.known[key] = series_id
            if inserted:
                self._inserted.append(key)
