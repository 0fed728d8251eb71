"""The pure pacing policy: exact hourly rates, the usage controller's limits, probe waits."""

from __future__ import annotations

import math
from bisect import bisect_left

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.pacing.control import (
    HOUR_S,
    account_wait,
    after_call,
    aged_limit,
    conforms_at,
    exact_bucket,
    next_wait,
    window_limit,
)
from collector.pacing.settings import BudgetSettings


def send_times(calls_per_hour: int, wanted: list[float], window_s: float = HOUR_S) -> list[float]:
    """When each call goes if it asks at ``wanted[i]`` (sorted) and waits for the bucket."""
    interval, tolerance = exact_bucket(calls_per_hour, window_s)
    tat, last, out = -math.inf, -math.inf, []
    for asked in wanted:
        at = max(asked, last, conforms_at(tat, tolerance))
        tat, last = after_call(tat, at, interval), at
        out.append(at)
    return out


def greedy_hour(calls_per_hour: int) -> int:
    """How many calls a sender that always wants to go gets in the hour [0, 3600)."""
    interval, tolerance = exact_bucket(calls_per_hour)
    tat, at, count = -math.inf, 0.0, 0
    while (at := max(at, conforms_at(tat, tolerance))) < HOUR_S:
        tat = after_call(tat, at, interval)
        count += 1
    return count


def most_in_any_hour(times: list[float]) -> int:
    """The most calls in any half-open hour (the worst one starts at a call)."""
    return max(bisect_left(times, t + HOUR_S) - i for i, t in enumerate(times))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 1_000_000))
@example(1)
@example(3599)
@example(3600)
@example(4800)
@example(7199)
@example(1_000_000)
def test_a_greedy_sender_gets_the_configured_hour_within_one_percent(n: int) -> None:
    got = greedy_hour(n)
    assert got <= n
    assert got >= 0.99 * n


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3599))
def test_below_one_call_a_second_the_hour_is_exact(n: int) -> None:
    assert greedy_hour(n) == n


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 20_000),
    st.lists(st.floats(0.0, 900.0), min_size=1, max_size=400),
    st.lists(st.integers(1, 50), min_size=1, max_size=400),
)
def test_no_half_open_hour_ever_holds_more_than_the_rate(
    n: int, gaps: list[float], bursts: list[int]
) -> None:
    """Idle spells and bursts in any order: every hour still holds at most ``n`` calls."""
    wanted, at = [], 0.0
    for gap, burst in zip(gaps, bursts, strict=False):
        at += gap
        wanted += [at] * burst
    assert most_in_any_hour(send_times(n, wanted)) <= n


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1_000_000), st.integers(1, 500))
@example(10_800, 1)
def test_a_burst_after_idle_time_is_at_most_the_catch_up_plus_one(n: int, burst: int) -> None:
    interval, tolerance = exact_bucket(n)
    times = send_times(n, [0.0] * burst)
    at_once = sum(1 for t in times if t == 0.0)
    assert at_once == min(burst, 1 + round(tolerance / interval))
    catch_up = round(tolerance / interval)
    assert catch_up <= n / 3600  # at most a second's worth of calls
    assert catch_up <= n / 200  # and at most 0.5 % of the hour's


def test_a_shortened_usage_window_shrinks_the_burst() -> None:
    """Against an emulator whose hour lasts 10 s, 36,000 calls an hour go one by one."""
    assert exact_bucket(36_000)[1] > 0.0
    assert exact_bucket(36_000, window_s=10.0)[1] == 0.0


def test_a_fractional_rate_rounds_down_but_never_to_zero() -> None:
    assert exact_bucket(4800.9) == exact_bucket(4800)
    assert exact_bucket(0.2)[0] == pytest.approx(HOUR_S)


@given(st.integers(1, 10_000), st.floats(0.5, 150.0), st.floats(1.0, 99.0))
def test_the_window_limit_scales_the_calls_to_the_target(
    calls: int, pct: float, target: float
) -> None:
    limit = window_limit(calls, pct, target)
    assert limit is not None
    assert limit / calls == pytest.approx(target / pct)


def test_a_zero_reading_sets_no_limit_and_someone_elses_usage_blocks() -> None:
    assert window_limit(10, 0.0, 95.0) is None
    assert window_limit(0, 40.0, 95.0) == 0.0


@given(
    st.floats(0.0, 1000.0),
    st.floats(0.0, 7200.0),
    st.floats(0.0, 7200.0),
)
def test_an_aging_limit_relaxes_monotonically_to_the_rate(
    limit: float, age_a: float, age_b: float
) -> None:
    full, window = 1000.0, 3600.0
    young, old = sorted((age_a, age_b))
    a, b = aged_limit(limit, young, window, full), aged_limit(limit, old, window, full)
    if b is not None:
        assert a is not None and limit <= a <= b <= max(full, limit)
    assert aged_limit(limit, window, window, full) is None  # a window later it says nothing
    assert aged_limit(limit, 0.0, window, full) == limit


@given(st.lists(st.booleans(), max_size=12))
def test_failed_probes_double_the_wait_up_to_the_cap(regains: list[bool]) -> None:
    s = BudgetSettings(probe_after_s=5.0, max_wait_s=20.0)
    wait = next_wait(None, s, None)
    assert wait == 5.0
    for given_regain in regains:
        previous = wait
        wait = next_wait(previous, s, 42.0 if given_regain else None)
        assert wait == (42.0 if given_regain else min(20.0, max(5.0, previous * 2)))


@given(st.floats(0.0, 200.0), st.floats(0.0, 200.0))
def test_an_account_waits_longer_the_fuller_its_business_is(a: float, b: float) -> None:
    s = BudgetSettings(probe_after_s=60.0, target_pct=90.0)
    low, high = sorted((a, b))
    assert 0.0 <= account_wait(low, None, s) <= account_wait(high, None, s) <= 60.0
    assert account_wait(low, 120.0, s) == 120.0  # Meta's regain time wins
    assert account_wait(min(low, 90.0), None, s) == 0.0
