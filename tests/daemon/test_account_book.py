"""The daemon's account book: schedule times from the ledger and from runs, dead tokens."""

from __future__ import annotations

from collector.config.registry import AccountConfig
from collector.daemon.account_book import AccountBook, dead_tokens, unix_time
from collector.daemon.tokens import Health, TokenVerdict
from collector.storage.protocol import AccountFreshness

A = AccountConfig("1001", "app", "EAAtokenA")
B = AccountConfig("1002", "app", "EAAtokenB")


def test_the_ledger_sets_refreshed_fresh_and_lifetime_times() -> None:
    book = AccountBook(refreshed={"gone": 1.0})
    book.load(
        [
            AccountFreshness("1001", "2025-11-20T20:00:00Z", "2025-11-20T08:00:00Z", None, 0, 0),
            AccountFreshness("1002", None, None, None, 3, 0),
        ]
    )
    at = unix_time("2025-11-20T20:00:00Z")
    assert book.refreshed == {"1001": at} and book.fresh == {"1001": at}
    assert book.lifetime == {"1001": unix_time("2025-11-20T08:00:00Z")}


def test_a_failed_refresh_moves_the_schedule_but_not_the_freshness() -> None:
    book = AccountBook()
    book.record_run(100.0, refresh=["1001", "1002"], lifetime=["1002"], succeeded=["1001"])
    assert book.refreshed == {"1001": 100.0, "1002": 100.0}
    assert book.fresh == {"1001": 100.0}
    assert book.lifetime == {"1002": 100.0}
    assert book.lags(["1001", "1002"], now=160.0, since=40.0) == [60.0, 120.0]


def test_a_dead_token_pauses_its_accounts_until_a_check_finds_it_valid() -> None:
    book = AccountBook()
    assert book.mark_dead(["EAAtokenA"]) is True
    assert book.mark_dead(["EAAtokenA"]) is False  # already known
    assert book.paused([A, B]) == ["1001"]
    assert "EAAtokenA" not in repr(book)  # kept as fingerprints only
    book.apply_verdicts([TokenVerdict("EAAtokenA", "app", 1, Health.VALID)])
    assert book.paused([A, B]) == []
    book.apply_verdicts([TokenVerdict("EAAtokenB", "app", 1, Health.INVALID)])
    book.apply_verdicts([TokenVerdict("EAAtokenB", "app", 1, Health.UNCHECKED)])
    assert book.paused([A, B]) == ["1002"]  # an unchecked token stays as it was


def test_a_reload_forgets_removed_accounts_and_replaced_tokens() -> None:
    book = AccountBook()
    book.record_run(5.0, refresh=["1001", "1002"], lifetime=[], succeeded=["1001", "1002"])
    book.mark_dead(["EAAtokenA", "EAAtokenB"])
    book.keep_only([AccountConfig("1001", "app", "EAAnewToken")])
    assert set(book.refreshed) == {"1001"} and set(book.fresh) == {"1001"}
    assert book.dead_tokens == set()


def test_only_token_invalid_failures_name_dead_tokens() -> None:
    failed = {"1001": "token_invalid", "1002": "permission", "9999": "token_invalid"}
    assert dead_tokens(failed, [A, B]) == ["EAAtokenA"]
