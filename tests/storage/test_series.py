"""The series-id cache both stores keep: bounded, and forgetting what a rollback undid."""

from __future__ import annotations

from collector.storage.series import SeriesCache


def _keys(n: int, account: str = "1") -> list[tuple[str, str, str, str]]:
    return [(account, f"m{i}", "day", "{}") for i in range(n)]


def test_ids_inserted_by_a_rolled_back_transaction_are_forgotten() -> None:
    cache = SeriesCache()
    cache.learn([(k, i) for i, k in enumerate(_keys(2))])
    cache.committed()
    cache.learn([(("2", "reach", "day", "{}"), 7)], inserted=True)
    cache.rolled_back()
    assert cache.known == {k: i for i, k in enumerate(_keys(2))}


def test_ids_inserted_by_a_committed_transaction_stay() -> None:
    cache = SeriesCache()
    cache.learn([(("2", "reach", "day", "{}"), 7)], inserted=True)
    cache.committed()
    cache.rolled_back()  # a later transaction's rollback does not undo an earlier commit
    assert cache.known == {("2", "reach", "day", "{}"): 7}


def test_past_its_bound_the_cache_starts_afresh_at_the_next_commit() -> None:
    cache = SeriesCache()
    cache.learn([(k, i) for i, k in enumerate(_keys(SeriesCache.MAX_KNOWN + 1))])
    assert cache.missing(_keys(1)) == set()
    cache.committed()
    assert cache.known == {} and cache.missing(_keys(1)) == set(_keys(1))
