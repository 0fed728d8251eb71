"""The daemon's run work: which requests a refresh and a history run send, and their keys."""

from __future__ import annotations

import datetime as dt

from collector.graph.pacific import end_time_of
from collector.model.outcome import Outcome
from collector.planning.planner import AccountRef, PlanSpec
from collector.planning.refresh import HistoryWork, RefreshWork
from collector.planning.schedule import history_blocks

TODAY = dt.date(2025, 11, 20)
SPEC = PlanSpec(
    version="v17.0",
    metrics=("impressions", "follower_count", "audience_city"),
    periods=("day", "lifetime"),
    first=TODAY - dt.timedelta(days=10),
    last=TODAY,
    today=TODAY,
)
ACCOUNT = AccountRef("17841400000000001", "app")


def _refresh(refresh: set[str], lifetime: set[str]) -> RefreshWork:
    return RefreshWork({"app": SPEC}, TODAY, 3, refresh, lifetime, {ACCOUNT.id: "app"})


def _dates(requests: list) -> set[dt.date]:  # type: ignore[type-arg]
    return {d for r in requests if r.window is not None for d in r.window.dates()}


def test_refresh_asks_for_the_lookback_days_and_today_partial() -> None:
    """A refresh on Nov 20 with lookback 3 covers end_time dates Nov 18..21 for every series."""
    requests = list(_refresh({ACCOUNT.id}, set()).requests(ACCOUNT))
    impressions = [r for r in requests if "impressions" in r.metrics]
    assert _dates(impressions) == {dt.date(2025, 11, d) for d in (18, 19, 20, 21)}
    assert all(r.window is not None for r in requests)  # no lifetime snapshot: not due


def test_refresh_keys_are_their_own() -> None:
    """Every refresh key ends in |refresh, so no history row is ever finished by a refresh."""
    requests = list(_refresh({ACCOUNT.id}, set()).requests(ACCOUNT))
    assert requests and all(r.key.endswith("|refresh") for r in requests)
    history = HistoryWork(
        {"app": SPEC}, TODAY, history_blocks(TODAY - dt.timedelta(days=40), TODAY, 3), {"app": 1}
    )
    assert not {r.key for r in requests} & {r.key for r in history.requests(ACCOUNT)}


def test_refresh_sends_lifetime_snapshots_only_when_due() -> None:
    """audience_city (no range) goes with the accounts due for lifetime metrics, keyed by today."""
    lifetime_only = list(_refresh(set(), {ACCOUNT.id}).requests(ACCOUNT))
    assert [r.metrics for r in lifetime_only] == [("audience_city",)]
    assert lifetime_only[0].window is None
    assert lifetime_only[0].key.endswith(f"@{TODAY.isoformat()}")


def test_refresh_planned_counts_what_it_yields() -> None:
    """planned equals the requests yielded by the run's one account."""
    for refresh, lifetime in (
        ({ACCOUNT.id}, set()),
        (set(), {ACCOUNT.id}),
        ({ACCOUNT.id}, {ACCOUNT.id}),
    ):
        work = _refresh(refresh, lifetime)
        assert work.planned == len(list(work.requests(ACCOUNT)))


def test_refresh_always_sends_and_tallies_per_account() -> None:
    """Every refresh request is sent whatever the ledger says; an account with a failure is not refreshed."""
    work = _refresh({ACCOUNT.id}, set())
    assert work.always_send(next(iter(work.requests(ACCOUNT))))
    work = _refresh({"1", "2"}, set())
    for account, state in (("1", "done"), ("1", "no_data"), ("2", "done"), ("2", "failed")):
        work.observe(
            Outcome(f"{account}|x|refresh", account, "app", ("reach",), "day", 0, 1, state, (), 1)  # type: ignore[arg-type]
        )
    assert work.refreshed() == ["1"]


def test_history_covers_blocks_newest_first_without_today() -> None:
    """History requests cover the blocks' dates, newest first, never the fresh dates nor lifetime."""
    blocks = history_blocks(TODAY - dt.timedelta(days=75), TODAY, 3)
    work = HistoryWork({"app": SPEC}, TODAY, blocks, {"app": 1})
    requests = list(work.requests(ACCOUNT))
    impressions = [r for r in requests if "impressions" in r.metrics]
    assert _dates(impressions) == {
        blocks[-1][0] + dt.timedelta(days=i) for i in range((blocks[0][1] - blocks[-1][0]).days + 1)
    }
    firsts = [r.window.first for r in impressions if r.window is not None]
    assert firsts == sorted(firsts, reverse=True)
    assert max(_dates(requests)) == dt.date(2025, 11, 17)
    assert all(r.window is not None and not r.key.endswith("|refresh") for r in requests)
    assert not work.always_send(requests[0])
    assert work.planned == len(requests)


def test_history_clips_follower_count_to_the_served_30_days() -> None:
    """follower_count history starts at today - 29 (SPEC: only the last 30 days, today excluded)."""
    blocks = history_blocks(TODAY - dt.timedelta(days=75), TODAY, 3)
    requests = list(HistoryWork({"app": SPEC}, TODAY, blocks, {"app": 1}).requests(ACCOUNT))
    followers = _dates([r for r in requests if "follower_count" in r.metrics])
    assert min(followers) == TODAY - dt.timedelta(days=29)
    assert end_time_of(min(followers)).endswith("Z")
