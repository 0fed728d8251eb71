"""Unit and property tests for collector.pacing.retry: backoff and the retry decisions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.errors import (
    ApiError,
    BadResponse,
    ConnectionFailed,
    ErrorBody,
    GraphError,
    InvalidRequest,
    PermissionDenied,
    RequestTimeout,
    Scope,
    Throttled,
    TokenInvalid,
    TransientApiError,
    UnsupportedRequest,
)
from collector.pacing.retry import Action, Decision, RetryPolicy, backoff, decide

POLICY = RetryPolicy(
    max_attempts=4,
    base_delay_s=0.5,
    max_delay_s=8.0,
    unsupported_attempts=3,
    max_throttle_waits=5,
    throttle_pause_s=60.0,
)


def _body(code: int, subcode: int | None = None) -> ErrorBody:
    return ErrorBody(code=code, message="m", subcode=subcode)


def throttled(code: int, scope: Scope) -> Throttled:
    return Throttled(_body(code), status=400, scope=scope)


draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay_s=st.floats(min_value=1e-3, max_value=100.0),
    max_delay_s=st.floats(min_value=1e-3, max_value=1e4),
    unsupported_attempts=st.integers(1, 20),
    max_throttle_waits=st.integers(0, 30),
    throttle_pause_s=st.floats(min_value=0.0, max_value=3600.0),
)


# -- backoff ---------------------------------------------------------------------------


@given(attempt=st.integers(1, 5000), policy=policies, draw=draws)
def test_backoff_stays_within_full_jitter_bounds(
    attempt: int, policy: RetryPolicy, draw: float
) -> None:
    """The n-th backoff lies in [0, min(cap, base * 2^(n-1))], for any n (exact arithmetic)."""
    ceiling = min(Fraction(policy.max_delay_s), Fraction(policy.base_delay_s) * 2 ** (attempt - 1))
    delay = backoff(attempt, policy, draw)
    assert 0 <= Fraction(delay) <= ceiling


@given(attempt=st.integers(1, 5000), policy=policies)
def test_backoff_is_monotone_in_the_draw(attempt: int, policy: RetryPolicy) -> None:
    """A larger random draw never gives a shorter delay."""
    assert backoff(attempt, policy, 0.25) <= backoff(attempt, policy, 0.75)


def test_backoff_with_zero_draw_is_zero() -> None:
    """A draw of 0 means no wait at all (full jitter starts at 0)."""
    assert backoff(3, POLICY, 0.0) == 0.0


def test_backoff_first_retry_scales_the_base() -> None:
    """Retry 1 draws from [0, base]: half the draw gives half the base."""
    assert backoff(1, POLICY, 0.5) == pytest.approx(0.25)


def test_backoff_doubles_per_attempt_below_the_cap() -> None:
    """Retry 3 draws from [0, base * 4] while under the cap."""
    assert backoff(3, POLICY, 0.5) == pytest.approx(0.5 * 0.5 * 4)


def test_backoff_is_capped() -> None:
    """Past the cap the range stays [0, max_delay_s]."""
    assert backoff(30, POLICY, 0.5) == pytest.approx(4.0)


def test_backoff_past_float_range_still_returns_the_cap() -> None:
    """Attempt numbers where 2^(n-1) overflows a float still give draw * cap."""
    assert backoff(5000, POLICY, 0.5) == pytest.approx(4.0)


# -- decide: every class to its documented action ----------------------------------------


def call(error: GraphError, *, attempts: int = 1, waits: int = 0, **kw: float) -> Decision:
    return decide(error, attempts=attempts, throttle_waits=waits, policy=POLICY, draw=0.5, **kw)


@pytest.mark.parametrize(
    "error",
    [
        RequestTimeout("t"),
        ConnectionFailed("c"),
        BadResponse("b", status=502),
        TransientApiError(_body(2), status=500),
    ],
    ids=["timeout", "connection", "bad_response", "transient"],
)
def test_retryable_errors_retry_the_request_alone(error: GraphError) -> None:
    """Transport failures and transient API errors retry with backoff, pausing nobody else."""
    decision = call(error, attempts=2)
    assert decision == Decision(Action.RETRY, backoff(2, POLICY, 0.5), Scope.REQUEST)


@pytest.mark.parametrize(
    "error",
    [RequestTimeout("t"), TransientApiError(_body(1), status=500)],
    ids=["timeout", "transient"],
)
def test_retryable_errors_fail_at_max_attempts(error: GraphError) -> None:
    """Once the request was sent max_attempts times, a retryable error fails it."""
    assert call(error, attempts=POLICY.max_attempts).action is Action.FAIL


@pytest.mark.parametrize(
    ("code", "scope"), [(4, Scope.APP), (17, Scope.TOKEN), (80002, Scope.ACCOUNT)]
)
def test_throttle_pauses_the_scope_its_code_names(code: int, scope: Scope) -> None:
    """A throttle retries after pausing its scope (app for #4, token for #17, account for #80002)."""
    decision = call(throttled(code, scope))
    assert decision.action is Action.RETRY
    assert decision.scope is scope


@given(waits=st.integers(0, 4), draw=draws)
def test_throttle_pause_without_announcement(waits: int, draw: float) -> None:
    """With no announced wait, the pause is half the throttle pause plus a backoff, at least 1 s."""
    decision = decide(
        throttled(4, Scope.APP), attempts=1, throttle_waits=waits, policy=POLICY, draw=draw
    )
    low = POLICY.throttle_pause_s / 2
    high = low + min(POLICY.max_delay_s, POLICY.base_delay_s * 2**waits)
    assert max(1.0, low) <= decision.delay_s <= high


def test_throttle_pause_follows_the_announced_regain_time() -> None:
    """A positive ``regain_s`` (Meta's estimated_time_to_regain_access) is the pause."""
    assert call(throttled(80002, Scope.ACCOUNT), regain_s=420.0).delay_s == 420.0


def test_throttle_ignores_a_zero_regain_time() -> None:
    """``regain_s`` 0 is no announcement: the computed pause applies."""
    decision = call(throttled(80002, Scope.ACCOUNT), regain_s=0.0)
    assert decision.delay_s >= POLICY.throttle_pause_s / 2


def test_throttle_fails_after_max_throttle_waits() -> None:
    """A request that already waited out max_throttle_waits throttles is given up."""
    decision = call(throttled(4, Scope.APP), waits=POLICY.max_throttle_waits)
    assert decision.action is Action.FAIL
    assert decision.scope is Scope.REQUEST


def test_throttle_is_not_capped_by_max_attempts() -> None:
    """Throttle retries count against max_throttle_waits, not max_attempts."""
    decision = call(throttled(4, Scope.APP), attempts=POLICY.max_attempts + 3, waits=1)
    assert decision.action is Action.RETRY


def test_unsupported_request_retries_a_few_times() -> None:
    """100/33 is retried while attempts stay under unsupported_attempts."""
    decision = call(UnsupportedRequest(_body(100, 33), status=400), attempts=2)
    assert decision == Decision(Action.RETRY, backoff(2, POLICY, 0.5), Scope.REQUEST)


def test_unsupported_request_gives_up_at_its_cap() -> None:
    """100/33 fails once sent unsupported_attempts times."""
    error = UnsupportedRequest(_body(100, 33), status=400)
    assert call(error, attempts=POLICY.unsupported_attempts).action is Action.FAIL


def test_invalid_request_fails_at_once() -> None:
    """Code 100 is never retried as is, even on the first attempt."""
    assert call(InvalidRequest(_body(100), status=400)) == Decision(Action.FAIL)


def test_permission_denied_fails_and_stops_the_account() -> None:
    """Code 10 / 200-299 fails the request and names the account as stopped."""
    decision = call(PermissionDenied(_body(10), status=403))
    assert decision == Decision(Action.FAIL, scope=Scope.ACCOUNT)


def test_token_invalid_fails_and_stops_the_token() -> None:
    """Code 190 fails the request and names the token as dead."""
    decision = call(TokenInvalid(_body(190), status=400))
    assert decision == Decision(Action.FAIL, scope=Scope.TOKEN)


def test_unclassified_api_error_fails() -> None:
    """An ApiError of no known class is not retried."""
    assert call(ApiError(_body(9999), status=400)).action is Action.FAIL


# -- attempts are capped, whatever keeps coming back ---------------------------------------


def _sends_until_given_up(error: GraphError, policy: RetryPolicy, draw: float) -> tuple[int, int]:
    """Send, meet ``error`` every time, follow ``decide`` as the pool does; (sends, waits)."""
    waits = 0
    for attempts in range(1, 10_000):
        decision = decide(error, attempts=attempts, throttle_waits=waits, policy=policy, draw=draw)
        if decision.action is Action.FAIL:
            return attempts, waits
        if decision.scope is not Scope.REQUEST:
            waits += 1
    raise AssertionError("decide never gave up")


@given(policy=policies, draw=draws)
def test_a_recurring_transport_error_is_sent_exactly_max_attempts_times(
    policy: RetryPolicy, draw: float
) -> None:
    """A request that always times out is sent max_attempts times, then failed."""
    assert _sends_until_given_up(RequestTimeout("t"), policy, draw) == (policy.max_attempts, 0)


@given(policy=policies, draw=draws)
def test_a_recurring_unsupported_request_is_sent_unsupported_attempts_times(
    policy: RetryPolicy, draw: float
) -> None:
    """A request always answered 100/33 is sent unsupported_attempts times, then failed."""
    error = UnsupportedRequest(_body(100, 33), status=400)
    assert _sends_until_given_up(error, policy, draw) == (policy.unsupported_attempts, 0)


@given(policy=policies, draw=draws, code=st.sampled_from([4, 17, 32, 613, 80002, 341, 368]))
def test_a_recurring_throttle_is_waited_out_max_throttle_waits_times(
    policy: RetryPolicy, draw: float, code: int
) -> None:
    """A request always throttled waits max_throttle_waits pauses, then fails on the next send."""
    error = throttled(code, Scope.APP)
    assert _sends_until_given_up(error, policy, draw) == (
        policy.max_throttle_waits + 1,
        policy.max_throttle_waits,
    )


@given(policy=policies, draw=draws, attempts=st.integers(1, 50), waits=st.integers(0, 50))
def test_retry_delays_are_never_negative(
    policy: RetryPolicy, draw: float, attempts: int, waits: int
) -> None:
    """No decision asks for a negative wait."""
    for error in (RequestTimeout("t"), throttled(4, Scope.APP)):
        decision = decide(error, attempts=attempts, throttle_waits=waits, policy=policy, draw=draw)
        assert decision.delay_s >= 0
