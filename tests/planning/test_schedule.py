"""The daemon's scheduling policy: fresh and history dates, blocks, due accounts, percentiles."""

from __future__ import annotations

import datetime as dt
import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from collector.graph.pacific import MAX_SPAN_S, count_windows, window_of
from collector.planning.schedule import (
    BLOCK_DAYS,
    EPOCH,
    block_start,
    fresh_dates,
    history_blocks,
    history_last,
    is_due,
    percentile,
    plan_cycle,
)

DAY = dt.timedelta(days=1)
dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))
lookbacks = st.integers(min_value=2, max_value=28)


def test_fresh_dates_are_today_partial_and_the_lookback_days_before() -> None:
    """On 2025-11-20 with lookback 3: values of Nov 17, 18, 19 and today's partial (end_time dates Nov 18..21)."""
    assert fresh_dates(dt.date(2025, 11, 20), 3) == (dt.date(2025, 11, 18), dt.date(2025, 11, 21))


def test_history_ends_the_day_before_the_fresh_dates() -> None:
    """With lookback 3 on 2025-11-20 the newest history end_time date is Nov 17."""
    assert history_last(dt.date(2025, 11, 20), 3) == dt.date(2025, 11, 17)


@given(first=dates, today=dates, lookback=lookbacks)
def test_history_blocks_tile_the_history_exactly(
    first: dt.date, today: dt.date, lookback: int
) -> None:
    """Blocks run newest first, without gap or overlap, from block_start(first) to the last history date."""
    blocks = history_blocks(first, today, lookback)
    last = history_last(today, lookback)
    if first > last:
        assert blocks == []
        return
    assert blocks[0][1] == last
    assert blocks[-1][0] == block_start(first) <= first
    for (newer_first, _), (_, older_last) in itertools.pairwise(blocks):
        assert older_last + DAY == newer_first
    for start, end in blocks:
        assert start <= end
        assert (end - start).days + 1 <= BLOCK_DAYS


@given(first=dates, today=dates, lookback=lookbacks)
def test_every_block_but_the_newest_is_whole_and_aligned(
    first: dt.date, today: dt.date, lookback: int
) -> None:
    """Older blocks hold exactly 30 dates starting a multiple of 30 days after the epoch."""
    for start, end in history_blocks(first, today, lookback)[1:]:
        assert (start - EPOCH).days % BLOCK_DAYS == 0
        assert (end - start).days + 1 == BLOCK_DAYS


@given(first=dates, today=dates, lookback=lookbacks, later=st.integers(min_value=1, max_value=90))
def test_finished_blocks_keep_their_dates_as_days_pass(
    first: dt.date, today: dt.date, lookback: int, later: int
) -> None:
    """Every whole block of one day is planned with the same dates on any later day (stable keys)."""
    before = history_blocks(first, today, lookback)[1:]
    after = set(history_blocks(first, today + dt.timedelta(days=later), lookback))
    for block in before:
        assert block in after


@given(start=dates)
def test_a_block_fits_one_request_window(start: dt.date) -> None:
    """30 end_time dates fit Meta's 2,592,000 s, across either DST change: one request per block."""
    first = block_start(start)
    last = first + dt.timedelta(days=BLOCK_DAYS - 1)
    window = window_of(first, last)
    assert window.until - window.since <= MAX_SPAN_S
    assert count_windows(first, last) == 1


@given(today=dates, lookback=lookbacks)
def test_fresh_dates_follow_history_without_gap(today: dt.date, lookback: int) -> None:
    """History's last date and the fresh dates' first are consecutive; fresh ends with today's partial."""
    first, last = fresh_dates(today, lookback)
    assert history_last(today, lookback) + DAY == first
    assert last == today + DAY
    assert (last - first).days == lookback


ACCOUNTS = ["a1", "a2", "a3", "a4"]
times = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(
    now=st.floats(min_value=1e6, max_value=2e6, allow_nan=False),
    refreshed=st.dictionaries(st.sampled_from(ACCOUNTS), times),
    lifetime=st.dictionaries(st.sampled_from(ACCOUNTS), times),
    paused=st.sets(st.sampled_from(ACCOUNTS)),
    interval=st.floats(min_value=1, max_value=5e5, allow_nan=False),
    pending=st.booleans(),
)
def test_cycle_picks_exactly_the_due_active_accounts(
    now: float,
    refreshed: dict[str, float],
    lifetime: dict[str, float],
    paused: set[str],
    interval: float,
    pending: bool,
) -> None:
    """Refresh lists the unpaused accounts never refreshed or refreshed interval ago; history only when idle."""
    cycle = plan_cycle(
        ACCOUNTS,
        now=now,
        refreshed=refreshed,
        lifetime_done=lifetime,
        paused=paused,
        refresh_interval_s=interval,
        lifetime_interval_s=86400.0,
        history_pending=pending,
    )
    expected = [
        a
        for a in ACCOUNTS
        if a not in paused and (a not in refreshed or refreshed[a] + interval <= now)
    ]
    assert list(cycle.refresh) == expected
    assert not set(cycle.lifetime) & paused
    active = len(paused) < len(ACCOUNTS)
    assert cycle.history == (pending and active and not cycle.refresh and not cycle.lifetime)
    if len(paused) < len(ACCOUNTS):
        assert cycle.preempt_at is not None and cycle.wake_at is not None
        if not cycle.refresh and not cycle.lifetime:
            assert cycle.preempt_at > now  # idle: the next refresh is in the future
    else:
        assert cycle.idle and cycle.wake_at is None


def test_cycle_wakes_when_the_next_account_comes_due() -> None:
    """Refreshed at 100 and 160 with a 60 s interval: nothing at 150, wake at 160 (a1 due)."""
    cycle = plan_cycle(
        ["a1", "a2"],
        now=150.0,
        refreshed={"a1": 100.0, "a2": 140.0},
        lifetime_done={"a1": 100.0, "a2": 100.0},
        paused=set(),
        refresh_interval_s=60.0,
        lifetime_interval_s=1000.0,
        history_pending=False,
    )
    assert cycle.idle
    assert cycle.wake_at == 160.0


def test_history_waits_for_its_retry_time() -> None:
    """A failed history run is not retried before history_not_before, and the wake time says so."""
    kwargs = dict(
        refreshed={"a1": 100.0},
        lifetime_done={"a1": 100.0},
        paused=set(),
        refresh_interval_s=1000.0,
        lifetime_interval_s=1000.0,
        history_pending=True,
        history_not_before=200.0,
    )
    early = plan_cycle(["a1"], now=150.0, **kwargs)  # type: ignore[arg-type]
    assert not early.history and early.wake_at == 200.0
    assert plan_cycle(["a1"], now=200.0, **kwargs).history  # type: ignore[arg-type]


def test_never_refreshed_is_due() -> None:
    """Work that never ran is due at once; after a run it is due exactly one interval later."""
    assert is_due(None, 60.0, 0.0)
    assert not is_due(100.0, 60.0, 159.9)
    assert is_due(100.0, 60.0, 160.0)


def test_percentile_nearest_rank() -> None:
    """p95 of 1..100 is 95, of one value that value, of nothing 0."""
    assert percentile([float(v) for v in range(100, 0, -1)], 95) == 95.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 95) == 0.0


@given(values=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1))
def test_percentile_splits_the_values_at_95_percent(values: list[float]) -> None:
    """p95 is one of the values, at least 95 % are at or under it and fewer than 95 % under it."""
    p = percentile(values, 95)
    assert p in values
    n = len(values)
    assert sum(v <= p for v in values) >= math.ceil(0.95 * n)
    assert sum(v < p for v in values) < math.ceil(0.95 * n)
