"""Retry policy as a pure function: given an error and the attempt, what happens next.

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
And Jitter", 2015): the n-th retry waits a uniform random time in
``[0, min(cap, base * 2**(n-1))]``; the random draw is passed in so the function
stays pure and testable.

The SPEC section 5 table, as decisions:

- transport failures, codes 1/2 and ``is_transient``: retry up to ``max_attempts``;
- throttles (4, 17, 32, 613, 80002, 341, 368): pause the scope the code names, then
  retry, up to ``max_throttle_waits`` times;
- 100/33 ("Unsupported get request", a disguised throttle): retry a few times;
- other 100s, 10/200-299 and 190: never retried as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from collector.errors import (
    ApiError,
    GraphError,
    InvalidRequest,
    PermissionDenied,
    Scope,
    Throttled,
    TokenInvalid,
    TransientApiError,
    TransportError,
    UnsupportedRequest,
)


class Action(StrEnum):
    RETRY = "retry"  # send the same request again after ``delay``
    FAIL = "fail"  # give up on this request; ``scope`` says what else stops


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    unsupported_attempts: int = 3
    max_throttle_waits: int = 12
    throttle_pause_s: float = 60.0


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0
    scope: Scope = Scope.REQUEST


def backoff(attempt: int, policy: RetryPolicy, draw: float) -> float:
    """Full-jitter delay before retry number ``attempt`` (1-based); ``draw`` in [0, 1)."""
    try:
        growth = policy.base_delay_s * 2.0 ** max(0, attempt - 1)
    except OverflowError:
        # 2.0 ** n overflows past n = 1023; any positive base is then past every cap.
        growth = math.inf if policy.base_delay_s > 0 else 0.0
    ceiling: float = min(policy.max_delay_s, growth)
    return draw * ceiling


def decide(
    error: GraphError,
    *,
    attempts: int,
    throttle_waits: int,
    policy: RetryPolicy,
    draw: float,
    regain_s: float | None = None,
) -> Decision:
    """What to do after ``error`` on a request already sent ``attempts`` times.

    ``throttle_waits`` counts the throttles this request has already waited out;
    ``regain_s`` is the wait Meta announced (``estimated_time_to_regain_access``),
    when it announced one.
    """
    if isinstance(error, Throttled):
        if throttle_waits >= policy.max_throttle_waits:
            return Decision(Action.FAIL)
        pause = regain_s if regain_s is not None and regain_s > 0 else None
        if pause is None:
            pause = max(
                1.0, backoff(throttle_waits + 1, policy, draw) + policy.throttle_pause_s / 2
            )
        return Decision(Action.RETRY, pause, error.scope)
    if isinstance(error, TokenInvalid):
        return Decision(Action.FAIL, scope=Scope.TOKEN)
    if isinstance(error, PermissionDenied):
        return Decision(Action.FAIL, scope=Scope.ACCOUNT)
    if isinstance(error, UnsupportedRequest):
        if attempts >= policy.unsupported_attempts:
            return Decision(Action.FAIL)
        return Decision(Action.RETRY, backoff(attempts, policy, draw))
    if isinstance(error, InvalidRequest):
        return Decision(Action.FAIL)
    if isinstance(error, TransportError | TransientApiError):
        if attempts >= policy.max_attempts:
            return Decision(Action.FAIL)
        return Decision(Action.RETRY, backoff(attempts, policy, draw))
    if isinstance(error, ApiError):
        return Decision(Action.FAIL)
    return Decision(Action.FAIL)
