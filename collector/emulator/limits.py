"""Rate limits as the Graph API applies them to the insights edge (SPEC section 6).

Four allowances, each a *sliding-window log* (every counted call's timestamp is
kept until it leaves the window, so a count is exact at any instant):

- ``app``: per app, ``limits.app_calls`` per ``app_window_s`` -> code 4, HTTP 403
  ("(#4) Application request limit reached"); reported in ``X-App-Usage``.
- ``buc``: per app and Instagram account, ``buc_calls`` per ``buc_window_s`` ->
  code 80002; reported in ``X-Business-Use-Case-Usage`` with
  ``estimated_time_to_regain_access``.
- ``token``: per access token, ``token_calls`` per ``token_window_s`` -> code 17
  (off when ``token_calls`` is 0).
- ``custom``: per Instagram account, ``custom_calls`` per ``custom_window_s`` ->
  code 613 (off when ``custom_calls`` is 0).

Decisions (documented because Meta documents only their spirit):

- A call is recorded first and then judged, so with an allowance of N the calls
  1..N pass and call N+1 is refused.
- Refused calls count too (Meta: calls made while throttled still count), so a
  client that keeps hammering a throttled app stays throttled longer.
- When several allowances are spent the first in the order app, buc, token,
  custom names the error.
- Percentages are whole numbers, ``floor(100 * calls_in_window / allowance)``,
  capped at 100. Every call costs the same here, so ``total_time`` and
  ``total_cputime`` equal ``call_count``.
- Headers appear once the window holds ``report_after`` calls (SPEC 6: "a header
  may be absent until enough calls have been made").
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum

import orjson

from collector.emulator.scenario import Account, LimitSettings


class LimitKind(StrEnum):
    """Which allowance refused a call."""

    APP = "app"
    BUC = "buc"
    TOKEN = "token"
    CUSTOM = "custom"


@dataclass(frozen=True)
class LimitError:
    """The Graph error a spent allowance answers with (SPEC 5)."""

    code: int
    message: str
    status: int


LIMIT_ERRORS: dict[LimitKind, LimitError] = {
    LimitKind.APP: LimitError(4, "(#4) Application request limit reached", 403),
    LimitKind.BUC: LimitError(
        80002,
        "There have been too many calls to this Instagram account. Wait a bit and try again.",
        400,
    ),
    LimitKind.TOKEN: LimitError(17, "(#17) User request limit reached", 400),
    LimitKind.CUSTOM: LimitError(613, "Calls to this api have exceeded the rate limit.", 400),
}


class SlidingWindow:
    """Timestamps of calls inside a window of ``window_s`` seconds, per key."""

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self._calls: dict[Hashable, deque[float]] = {}

    def _trim(self, key: Hashable, now: float) -> deque[float]:
        calls = self._calls.setdefault(key, deque())
        # A call made at t is inside the window while now - t < window_s.
        while calls and calls[0] <= now - self.window_s:
            calls.popleft()
        return calls

    def record(self, key: Hashable, now: float) -> int:
        """Add a call at ``now``; return the calls now inside the window."""
        calls = self._trim(key, now)
        calls.append(now)
        return len(calls)

    def count(self, key: Hashable, now: float) -> int:
        """Calls inside the window ending at ``now``."""
        return len(self._trim(key, now))

    def seconds_until_below(self, key: Hashable, allowance: int, now: float) -> float:
        """Seconds until the window holds fewer than ``allowance`` calls (0 if it does now)."""
        calls = self._trim(key, now)
        excess = len(calls) - allowance
        if excess < 0:
            return 0.0
        # The (excess+1)-th oldest call must leave the window for one slot to free up.
        return max(0.0, calls[excess] + self.window_s - now)


def percent(calls: int, allowance: int) -> int:
    """Whole-number share of ``allowance`` used by ``calls``, capped at 100."""
    if allowance <= 0:
        return 0
    return min(100, (100 * calls) // allowance)


@dataclass(frozen=True)
class Usage:
    """What the limiter knows about one call: the verdict and the numbers for the headers.

    ``refused`` is ``None`` when the call may go on. ``buc_calls`` and friends are
    ``None`` when the call had no account (an auth failure counted against the app
    only). ``regain_minutes`` is 0 unless the BUC allowance is spent, then >= 1.
    """

    refused: LimitKind | None
    app_calls: int
    app_pct: int
    buc_calls: int | None = None
    buc_pct: int | None = None
    regain_minutes: int = 0


class Limiter:
    """The emulator's allowances; one per :class:`EmulatorState`, used from one event loop."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._app = SlidingWindow(settings.app_window_s)
        self._buc = SlidingWindow(settings.buc_window_s)
        self._token = SlidingWindow(settings.token_window_s)
        self._custom = SlidingWindow(settings.custom_window_s)

    def count_app_only(self, app: str, now: float) -> Usage:
        """Record a call known only by its app (e.g. a known token that failed auth)."""
        calls = self._app.record(app, now)
        return Usage(refused=None, app_calls=calls, app_pct=percent(calls, self.settings.app_calls))

    def admit(
        self, *, app: str, account: str, token: str, now: float, buc_calls: int | None = None
    ) -> Usage:
        """Record one call against every allowance and judge it (see the module docstring).

        ``buc_calls`` overrides the BUC allowance for this account (a scenario may
        give one account a smaller budget than the rest).
        """
        s = self.settings
        if buc_calls is not None:
            s = dataclasses.replace(s, buc_calls=buc_calls)
        app_calls = self._app.record(app, now)
        buc_calls = self._buc.record((app, account), now)
        token_calls = self._token.record(token, now) if s.token_calls > 0 else 0
        custom_calls = self._custom.record(account, now) if s.custom_calls > 0 else 0
        refused: LimitKind | None = None
        if app_calls > s.app_calls:
            refused = LimitKind.APP
        elif buc_calls > s.buc_calls:
            refused = LimitKind.BUC
        elif s.token_calls > 0 and token_calls > s.token_calls:
            refused = LimitKind.TOKEN
        elif s.custom_calls > 0 and custom_calls > s.custom_calls:
            refused = LimitKind.CUSTOM
        regain = 0
        if buc_calls >= s.buc_calls:
            wait = self._buc.seconds_until_below((app, account), s.buc_calls, now)
            # in minutes, as Meta reports it; scenarios scale the minute for tests
            regain = max(1, math.ceil(wait / s.minute_s)) if wait > 0 else 0
        return Usage(
            refused=refused,
            app_calls=app_calls,
            app_pct=percent(app_calls, s.app_calls),
            buc_calls=buc_calls,
            buc_pct=percent(buc_calls, s.buc_calls),
            regain_minutes=regain,
        )

    def usage(self, *, app: str, account: str, now: float) -> Usage:
        """The current numbers for ``app`` and ``account`` without recording a call."""
        s = self.settings
        app_calls = self._app.count(app, now)
        buc_calls = self._buc.count((app, account), now)
        return Usage(
            refused=None,
            app_calls=app_calls,
            app_pct=percent(app_calls, s.app_calls),
            buc_calls=buc_calls,
            buc_pct=percent(buc_calls, s.buc_calls),
        )


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def app_usage_header(pct: int) -> str:
    """``X-App-Usage`` as documented: three fields and no more (pyfacebook rejects extras)."""
    return _json({"call_count": pct, "total_time": pct, "total_cputime": pct})


def buc_usage_header(account: Account, pct: int, regain_minutes: int) -> str:
    """``X-Business-Use-Case-Usage`` keyed by the business id (if any) and the IG user id.

    SPEC 6: one call may be reported under both keys; both carry the same list.
    """
    entry = [
        {
            "type": "instagram",
            "call_count": pct,
            "total_cputime": pct,
            "total_time": pct,
            "estimated_time_to_regain_access": regain_minutes,
        }
    ]
    keyed: dict[str, object] = {}
    if account.business_id:
        keyed[account.business_id] = entry
    keyed[account.id] = entry
    return _json(keyed)


def usage_headers(usage: Usage, account: Account | None, settings: LimitSettings) -> dict[str, str]:
    """The usage headers for a counted answer (empty until ``report_after`` calls)."""
    headers: dict[str, str] = {}
    if usage.app_calls >= settings.report_after:
        headers["X-App-Usage"] = app_usage_header(usage.app_pct)
    if (
        account is not None
        and usage.buc_calls is not None
        and usage.buc_pct is not None
        and usage.buc_calls >= settings.report_after
    ):
        headers["X-Business-Use-Case-Usage"] = buc_usage_header(
            account, usage.buc_pct, usage.regain_minutes
        )
    return headers


def saturated_headers(account: Account | None) -> dict[str, str]:
    """Usage headers at 100 everywhere, for the ``throttle_burst`` fault."""
    headers = {"X-App-Usage": app_usage_header(100)}
    if account is not None:
        headers["X-Business-Use-Case-Usage"] = buc_usage_header(account, 100, 1)
    return headers
