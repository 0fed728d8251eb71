"""The adaptive budget curve and the BUC advice: hand-computed points and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from collector.errors import ErrorBody, Scope, Throttled
from collector.graph.usage import AppUsage, BucEntry, parse_buc_usage
from collector.pacing.budget_policy import (
    BucAdvice,
    BudgetPolicy,
    account_pause,
    app_spacing,
    regain_seconds,
    spacing_for,
)
from collector.pacing.retry import Action, RetryPolicy, decide

FAST = settings(deadline=None, max_examples=300)
DEFAULT = BudgetPolicy()  # 75 %, 95 %, 10 s, hold 300 s, BUC backoff 60 s
BASE = 3600 / 1800  # an app allowed 1800 calls an hour: one every 2 s


def entry(call: int = 0, *, regain: float = 0.0, cpu: int = 0, key: str = "b") -> BucEntry:
    """A BUC entry with the given call percentage and regain minutes."""
    return BucEntry(key, "instagram", call, 0, cpu, regain)


@pytest.mark.parametrize("pct", [0, 40, 74, 75])
def test_spacing_is_the_base_up_to_slow_from(pct: int) -> None:
    """At or below 75 % an app runs at its configured rate."""
    assert app_spacing(AppUsage(pct, 0, 0), DEFAULT, base_spacing_s=BASE) == BASE


def test_no_header_yet_means_base_spacing() -> None:
    """Before any X-App-Usage arrives the app runs at its configured rate."""
    assert app_spacing(None, DEFAULT, base_spacing_s=BASE) == BASE


def test_spacing_midway_is_the_quadratic_point() -> None:
    """At 85 % (halfway from 75 to 95) the spacing is base + (10 - base) / 4 = 4 s."""
    assert app_spacing(AppUsage(85, 0, 0), DEFAULT, base_spacing_s=BASE) == pytest.approx(4.0)


def test_spacing_at_stop_is_max_spacing() -> None:
    """At 95 % the spacing reaches max_spacing_s."""
    assert app_spacing(AppUsage(95, 0, 0), DEFAULT, base_spacing_s=BASE) == pytest.approx(10.0)


def test_spacing_past_stop_is_inverse_to_headroom() -> None:
    """At 97.5 % the headroom is half of 5 %, so the spacing doubles: 20 s."""
    assert spacing_for(97.5, DEFAULT, base_spacing_s=BASE) == pytest.approx(20.0)


@pytest.mark.parametrize("pct", [100, 101, 250])
def test_spacing_at_or_past_full_is_hold(pct: int) -> None:
    """At 100 % and beyond the app waits hold_s between calls."""
    assert app_spacing(AppUsage(pct, 0, 0), DEFAULT, base_spacing_s=BASE) == 300.0


def test_spacing_follows_the_peak_field() -> None:
    """A high total_cputime slows the app even when call_count is low."""
    usage = AppUsage(call_count=10, total_time=20, total_cputime=95)
    assert app_spacing(usage, DEFAULT, base_spacing_s=BASE) == pytest.approx(10.0)


def test_nan_usage_counts_as_full() -> None:
    """A NaN usage cannot be compared, so it is read as the worst case."""
    assert spacing_for(math.nan, DEFAULT, base_spacing_s=BASE) == 300.0


def test_slow_app_base_above_max_spacing_is_kept() -> None:
    """An app slower than max_spacing_s keeps its base through 95 % (100 calls/h: 36 s)."""
    assert spacing_for(90, DEFAULT, base_spacing_s=36.0) == 36.0
    assert spacing_for(95, DEFAULT, base_spacing_s=36.0) == 36.0


def test_base_above_hold_is_never_lowered() -> None:
    """An app allowed one call an hour keeps 3600 s even at 100 %."""
    assert spacing_for(100, DEFAULT, base_spacing_s=3600.0) == 3600.0


@pytest.mark.parametrize("base", [-1.0, math.inf, math.nan])
def test_bad_base_spacing_is_refused(base: float) -> None:
    """A negative or non-finite base spacing is a ValueError."""
    with pytest.raises(ValueError):
        spacing_for(50, DEFAULT, base_spacing_s=base)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slow_from_pct": 95.0, "stop_at_pct": 95.0},
        {"slow_from_pct": -1.0},
        {"stop_at_pct": 100.0},
        {"max_spacing_s": 0.0},
        {"max_spacing_s": math.inf},
        {"hold_s": 5.0},
        {"buc_backoff_s": -1.0},
    ],
)
def test_inconsistent_policy_is_refused(kwargs: dict[str, float]) -> None:
    """Thresholds out of order, a zero ceiling or a hold below it are ValueErrors."""
    with pytest.raises(ValueError):
        BudgetPolicy(**kwargs)


@st.composite
def policies(draw: st.DrawFn) -> BudgetPolicy:
    """Any valid policy."""
    slow = draw(st.floats(0, 98))
    stop = draw(st.floats(slow, 99.9).filter(lambda s: s > slow))
    max_spacing = draw(st.floats(0.001, 100))
    hold = draw(st.floats(max_spacing, 10_000))
    return BudgetPolicy(slow, stop, max_spacing, hold, draw(st.floats(0, 1000)))


pcts = st.floats(-10, 300)
bases = st.floats(0, 5000)


@FAST
@given(policies(), bases, pcts, pcts)
def test_spacing_is_monotone_in_usage(
    policy: BudgetPolicy, base: float, a: float, b: float
) -> None:
    """More usage never gives a shorter spacing."""
    low, high = sorted((a, b))
    assert spacing_for(low, policy, base_spacing_s=base) <= spacing_for(
        high, policy, base_spacing_s=base
    )


@FAST
@given(policies(), bases, pcts)
def test_spacing_stays_between_base_and_hold(policy: BudgetPolicy, base: float, pct: float) -> None:
    """The spacing is never below the base nor above max(hold_s, base)."""
    spacing = spacing_for(pct, policy, base_spacing_s=base)
    assert base <= spacing <= max(policy.hold_s, base)


@FAST
@given(policies(), bases, st.floats(-10, 300))
def test_spacing_up_to_stop_is_bounded_by_max_spacing(
    policy: BudgetPolicy, base: float, pct: float
) -> None:
    """Up to stop_at_pct the spacing stays within max(max_spacing_s, base)."""
    assume(pct <= policy.stop_at_pct)
    assert spacing_for(pct, policy, base_spacing_s=base) <= max(policy.max_spacing_s, base)


@FAST
@given(policies(), bases, st.floats(0, 100), st.floats(0, 1))
def test_spacing_is_lipschitz_continuous(
    policy: BudgetPolicy, base: float, pct: float, step: float
) -> None:
    """No jump anywhere: a step in usage moves the spacing by at most L times the step.

    L is the steepest slope of the documented pieces: the quadratic's at stop and the
    hyperbola's where it meets hold_s; a jump at any threshold would break the bound.
    """
    ceiling = max(base, policy.max_spacing_s)
    hold = max(policy.hold_s, ceiling)
    quad = 2 * (ceiling - base) / (policy.stop_at_pct - policy.slow_from_pct)
    hyper = hold * hold / (ceiling * (100 - policy.stop_at_pct))
    bound = max(quad, hyper) * step
    a = spacing_for(pct, policy, base_spacing_s=base)
    b = spacing_for(pct + step, policy, base_spacing_s=base)
    assert 0 <= b - a <= bound * (1 + 1e-9) + 1e-9 * hold


@pytest.mark.parametrize("threshold", ["slow_from_pct", "stop_at_pct"])
def test_spacing_meets_itself_at_each_threshold(threshold: str) -> None:
    """Just below and just above each threshold the spacing is the same to 1e-6 s."""
    pct = getattr(DEFAULT, threshold)
    below = spacing_for(pct - 1e-9, DEFAULT, base_spacing_s=BASE)
    above = spacing_for(pct + 1e-9, DEFAULT, base_spacing_s=BASE)
    assert above - below == pytest.approx(0.0, abs=1e-6)


def test_no_buc_entries_ask_for_nothing() -> None:
    """Without BUC entries an account neither pauses nor spaces its calls."""
    assert account_pause((), DEFAULT) == BucAdvice(0.0, 0.0)


def test_buc_regain_time_is_the_pause() -> None:
    """Meta's estimated_time_to_regain_access of 3 minutes pauses the account 180 s."""
    assert account_pause([entry(100, regain=3)], DEFAULT).pause_s == 180.0


def test_buc_longest_regain_wins_across_keys() -> None:
    """Of several entries the longest regain time is the pause, whichever key holds it."""
    entries = [entry(100, regain=2, key="biz"), entry(40, regain=7, key="iguser"), entry(10)]
    assert account_pause(entries, DEFAULT).pause_s == 420.0


def test_buc_regain_wins_over_the_backoff() -> None:
    """A short regain time beats buc_backoff_s even at 100 %: Meta knows best."""
    assert account_pause([entry(100, regain=0.5)], DEFAULT).pause_s == 30.0


def test_buc_full_without_regain_backs_off() -> None:
    """An entry at 100 % with no regain time pauses the account buc_backoff_s."""
    assert account_pause([entry(20), entry(0, cpu=100)], DEFAULT).pause_s == 60.0


def test_buc_below_full_does_not_pause_but_spaces() -> None:
    """At 85 % an account does not pause and spaces calls 10 s / 4 = 2.5 s (base 0)."""
    advice = account_pause([entry(85), entry(30)], DEFAULT)
    assert advice.pause_s == 0.0
    assert advice.spacing_s == pytest.approx(2.5)


def test_buc_below_slow_from_asks_for_nothing() -> None:
    """Below 75 % an account is left alone."""
    assert account_pause([entry(75), entry(12)], DEFAULT) == BucAdvice(0.0, 0.0)


@FAST
@given(st.lists(st.tuples(st.integers(0, 200), st.floats(0, 1e4)), min_size=1, max_size=40))
def test_buc_any_regain_sets_the_pause(items: list[tuple[int, float]]) -> None:
    """When any entry has a regain time, the pause is the longest one, in seconds."""
    assume(any(regain > 0 for _, regain in items))
    advice = account_pause([entry(c, regain=r) for c, r in items], DEFAULT)
    assert advice.pause_s == max(r for _, r in items) * 60


@FAST
@given(policies(), st.integers(0, 300), st.integers(0, 300))
def test_buc_spacing_is_monotone_in_peak(policy: BudgetPolicy, a: int, b: int) -> None:
    """A busier account never gets a shorter spacing."""
    low, high = sorted((a, b))
    assert account_pause([entry(low)], policy).spacing_s <= (
        account_pause([entry(high)], policy).spacing_s
    )


def test_regain_seconds_is_none_without_regain() -> None:
    """No entry announcing a regain time gives None, decide()'s "not announced"."""
    assert regain_seconds([entry(100), entry(50)]) is None


def test_header_to_decide_pauses_the_announced_time() -> None:
    """A parsed BUC header's regain time, fed to decide(), is the 80002 pause."""
    raw = (
        '{"biz": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 0}],'
        ' "ig": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 4}]}'
    )
    error = Throttled(ErrorBody(80002, "too many calls"), status=400, scope=Scope.ACCOUNT)
    decision = decide(
        error,
        attempts=1,
        throttle_waits=0,
        policy=RetryPolicy(),
        draw=0.5,
        regain_s=regain_seconds(parse_buc_usage(raw)),
    )
    assert (decision.action, decision.delay_s) == (Action.RETRY, 240.0)
