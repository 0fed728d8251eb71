"""Planned requests survive the queue: a claim rebuilds exactly the request the planner made."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.planning.planner import AccountRef, plan_account
from collector.planning.queued import from_claim, ranked
from collector.storage.queue import Claim, QueuedRequest
from tests.planning.test_planner import spec

LEGACY = ("impressions", "reach", "follower_count", "online_followers", "audience_city")
CURRENT = ("reach", "views", "follower_demographics", "profile_links_taps")
BREAKDOWNS = (("reach", ("media_product_type",)), ("views", ("follow_type",)))


def _claim_of(row: QueuedRequest, token: int = 1) -> Claim:
    """The claim a worker would get for ``row``: the columns it reads back."""
    return Claim(
        row.key, row.account_id, row.app, row.metrics, row.period, row.since, row.until,
        row.params, token,
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    first=st.dates(dt.date(2023, 1, 1), dt.date(2026, 10, 1)),
    days=st.integers(1, 120),
    current=st.booleans(),
)
def test_every_planned_request_comes_back_from_its_claim(
    first: dt.date, days: int, current: bool
) -> None:
    """For any range (DST changes included) and either catalogue, a request queued and
    claimed again equals the planner's, window dates and extra parameters included."""
    last = first + dt.timedelta(days=days - 1)
    if current:
        plan_spec = spec("v24.0", CURRENT, first, last, today=last, breakdowns=BREAKDOWNS)
    else:
        plan_spec = spec("v17.0", LEGACY, first, last, today=last)
    planned = list(plan_account(AccountRef("17841400000000001", "app"), plan_spec))
    rows = list(ranked(planned))
    assert [r.rank for r in rows] == list(range(len(planned)))
    assert [from_claim(_claim_of(r)) for r in rows] == planned


def test_ranks_restart_with_each_account() -> None:
    """Ranks count within an account, so the queue's (priority, rank) order interleaves accounts."""
    plan_spec = spec("v17.0", LEGACY, dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    first = list(plan_account(AccountRef("1", "app"), plan_spec))
    second = list(plan_account(AccountRef("2", "app"), plan_spec))
    rows = list(ranked(first + second))
    assert [r.rank for r in rows] == [*range(len(first)), *range(len(second))]
