"""Rate limits (SPEC 6): the limiter's arithmetic, then the limits as a client sees them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import aiohttp
import orjson

from collector.emulator.clock import FixedClock
from collector.emulator.limits import (
    Limiter,
    LimitKind,
    SlidingWindow,
    buc_usage_header,
    percent,
    usage_headers,
)
from collector.emulator.scenario import Account, LimitSettings, Scenario, default_scenario
from collector.emulator.testing import running_emulator

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z, noon in Los Angeles
ACC_1 = "17841400000000001"  # agency-a, business 900000
ACC_2 = "17841400000000002"  # agency-a, business 900000
ACC_21 = "17841400000000021"  # agency-b
TOKENS = {ACC_1: "EAAdemoA001", ACC_2: "EAAdemoA002", ACC_21: "EAAdemoB021"}


def limited(**limits: Any) -> Scenario:
    base = default_scenario()
    return dataclasses.replace(base, limits=dataclasses.replace(base.limits, **limits))


def insights_url(base: str, account: str) -> str:
    token = TOKENS[account]
    url = f"{base}/v17.0/{account}/insights?metric=reach&period=day&access_token={token}"
    if account == ACC_21:  # agency-b requires appsecret_proof (default scenario)
        proof = hmac.new(b"demo-secret-b", token.encode(), hashlib.sha256).hexdigest()
        url += f"&appsecret_proof={proof}"
    return url


# --- arithmetic -------------------------------------------------------------------


def test_window_forgets_a_call_exactly_one_window_later() -> None:
    """A call made at t stops counting at t + window_s."""
    window = SlidingWindow(10.0)
    window.record("k", 100.0)
    assert window.count("k", 109.999) == 1
    assert window.count("k", 110.0) == 0


def test_percent_is_floored_and_capped() -> None:
    """Usage percentages are whole numbers rounded down and never above 100."""
    assert percent(1, 3) == 33
    assert percent(2, 3) == 66
    assert percent(7, 3) == 100


def test_app_allowance_passes_n_calls_and_refuses_the_next() -> None:
    """With an app allowance of 3, calls 1-3 pass and call 4 is refused with the app kind."""
    limiter = Limiter(LimitSettings(app_calls=3))
    verdicts = [
        limiter.admit(app="a", account=str(i), token="t", now=NOW).refused for i in range(4)
    ]
    assert verdicts == [None, None, None, LimitKind.APP]


def test_buc_allowance_is_per_app_and_account() -> None:
    """A spent BUC allowance refuses that account only; another app on it is unaffected."""
    limiter = Limiter(LimitSettings(buc_calls=2))
    for _ in range(2):
        limiter.admit(app="a", account="x", token="t", now=NOW)
    assert limiter.admit(app="a", account="x", token="t", now=NOW).refused == LimitKind.BUC
    assert limiter.admit(app="a", account="y", token="t", now=NOW).refused is None
    assert limiter.admit(app="b", account="x", token="u", now=NOW).refused is None


def test_token_and_custom_allowances_are_off_at_zero_and_refuse_when_set() -> None:
    """token_calls and custom_calls refuse with their own kinds only when non-zero."""
    off = Limiter(LimitSettings())
    assert all(
        off.admit(app="a", account="x", token="t", now=NOW).refused is None for _ in range(9)
    )
    token = Limiter(LimitSettings(token_calls=1))
    token.admit(app="a", account="x", token="t", now=NOW)
    assert token.admit(app="a", account="y", token="t", now=NOW).refused == LimitKind.TOKEN
    custom = Limiter(LimitSettings(custom_calls=1))
    custom.admit(app="a", account="x", token="t", now=NOW)
    assert custom.admit(app="b", account="x", token="u", now=NOW).refused == LimitKind.CUSTOM


def test_refused_calls_still_count() -> None:
    """Calls refused while throttled keep filling the window (Meta counts them)."""
    limiter = Limiter(LimitSettings(app_calls=1, app_window_s=10))
    limiter.admit(app="a", account="x", token="t", now=0.0)
    limiter.admit(app="a", account="x", token="t", now=5.0)  # refused, but counted
    # At t=10 the first call has left; the refused one (t=5) still fills the allowance.
    assert limiter.admit(app="a", account="x", token="t", now=10.0).refused == LimitKind.APP
    assert limiter.admit(app="a", account="x", token="t", now=20.0).refused is None


def test_regain_minutes_wait_for_the_oldest_excess_call_to_leave() -> None:
    """estimated_time_to_regain_access is the minutes, rounded up, until one BUC slot frees."""
    limiter = Limiter(LimitSettings(buc_calls=2, buc_window_s=600))
    limiter.admit(app="a", account="x", token="t", now=0.0)
    limiter.admit(app="a", account="x", token="t", now=10.0)
    usage = limiter.admit(app="a", account="x", token="t", now=20.0)
    # Three calls, allowance two: the call at t=10 must leave, at t=610, 590 s = 9.83 min away.
    assert (usage.refused, usage.regain_minutes) == (LimitKind.BUC, 10)


def test_regain_minutes_are_zero_with_room_left() -> None:
    """estimated_time_to_regain_access is 0 while the BUC allowance has room."""
    limiter = Limiter(LimitSettings(buc_calls=5))
    assert limiter.admit(app="a", account="x", token="t", now=NOW).regain_minutes == 0


def test_buc_header_is_keyed_by_business_id_and_ig_id_with_the_same_list() -> None:
    """The BUC header carries one identical list under the business id and the IG user id."""
    account = Account(id="178", followers=1, token="t", app="a", business_id="900")
    parsed = orjson.loads(buc_usage_header(account, 42, 3))
    expected = [
        {
            "type": "instagram",
            "call_count": 42,
            "total_cputime": 42,
            "total_time": 42,
            "estimated_time_to_regain_access": 3,
        }
    ]
    assert parsed == {"900": expected, "178": expected}


def test_buc_header_without_business_id_has_only_the_ig_key() -> None:
    """An account with no business id is reported under its IG user id alone."""
    account = Account(id="178", followers=1, token="t", app="a")
    assert list(orjson.loads(buc_usage_header(account, 1, 0))) == ["178"]


def test_headers_wait_for_report_after_calls() -> None:
    """No usage header appears before the window holds report_after calls."""
    settings = LimitSettings(report_after=3)
    limiter = Limiter(settings)
    account = Account(id="178", followers=1, token="t", app="a")
    seen = [
        sorted(
            usage_headers(
                limiter.admit(app="a", account="178", token="t", now=NOW), account, settings
            )
        )
        for _ in range(3)
    ]
    assert seen == [[], [], ["X-App-Usage", "X-Business-Use-Case-Usage"]]


# --- over HTTP ----------------------------------------------------------------------


async def test_app_allowance_answers_code_4_with_http_403(http: aiohttp.ClientSession) -> None:
    """The call past the app allowance gets code 4, HTTP 403 and Meta's message."""
    statuses = []
    async with running_emulator(limited(app_calls=3), clock=FixedClock(NOW)) as emu:
        for account in (ACC_1, ACC_2, ACC_1, ACC_2):
            async with http.get(insights_url(emu.base_url, account)) as r:
                statuses.append(r.status)
                body = await r.json()
    assert statuses == [200, 200, 200, 403]
    assert (body["error"]["code"], body["error"]["message"]) == (
        4,
        "(#4) Application request limit reached",
    )


async def test_app_allowance_returns_after_the_window_slides(http: aiohttp.ClientSession) -> None:
    """Calls leave the app window as the emulator clock moves past them."""
    clock = FixedClock(NOW)
    statuses = []
    async with running_emulator(limited(app_calls=1, app_window_s=2), clock=clock) as emu:
        for step in (0.0, 1.0, 2.5, 3.5):
            clock.set(NOW + step)
            async with http.get(insights_url(emu.base_url, ACC_1)) as r:
                statuses.append(r.status)
    # t=0 ok; t=1 refused but counted; t=2.5 the t=1 call is still in; t=3.5 only t=2.5 is.
    assert statuses == [200, 403, 403, 403]


async def test_app_window_empties_after_a_quiet_window(http: aiohttp.ClientSession) -> None:
    """After a whole quiet window the app's calls succeed again."""
    clock = FixedClock(NOW)
    statuses = []
    async with running_emulator(limited(app_calls=1, app_window_s=2), clock=clock) as emu:
        for step in (0.0, 1.0, 3.0):
            clock.set(NOW + step)
            async with http.get(insights_url(emu.base_url, ACC_1)) as r:
                statuses.append(r.status)
    assert statuses == [200, 403, 200]


async def test_app_limit_does_not_touch_another_app(http: aiohttp.ClientSession) -> None:
    """Spending agency-a's allowance leaves agency-b's accounts served."""
    async with running_emulator(limited(app_calls=1), clock=FixedClock(NOW)) as emu:
        for _ in range(2):
            async with http.get(insights_url(emu.base_url, ACC_1)):
                pass
        async with http.get(insights_url(emu.base_url, ACC_21)) as r:
            assert r.status == 200


async def test_buc_allowance_answers_80002_for_that_account_only(
    http: aiohttp.ClientSession,
) -> None:
    """The account past its BUC allowance gets 80002; another account of the app is served."""
    async with running_emulator(limited(buc_calls=2), clock=FixedClock(NOW)) as emu:
        for _ in range(2):
            async with http.get(insights_url(emu.base_url, ACC_1)):
                pass
        async with http.get(insights_url(emu.base_url, ACC_1)) as r:
            refused = await r.json()
            header = orjson.loads(r.headers["X-Business-Use-Case-Usage"])
        async with http.get(insights_url(emu.base_url, ACC_2)) as r:
            other_status = r.status
    assert refused["error"]["code"] == 80002
    assert refused["error"]["message"] == (
        "There have been too many calls to this Instagram account. Wait a bit and try again."
    )
    assert header[ACC_1][0]["call_count"] == 100
    assert header[ACC_1][0]["estimated_time_to_regain_access"] >= 1
    assert other_status == 200


async def test_usage_headers_report_the_share_of_each_allowance(
    http: aiohttp.ClientSession,
) -> None:
    """After 3 calls of an app allowance of 10 and a BUC allowance of 4: 30 % and 75 %."""
    scenario = limited(app_calls=10, buc_calls=4)
    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        for _ in range(3):
            async with http.get(insights_url(emu.base_url, ACC_1)) as r:
                app = orjson.loads(r.headers["X-App-Usage"])
                buc = orjson.loads(r.headers["X-Business-Use-Case-Usage"])
    assert app == {"call_count": 30, "total_time": 30, "total_cputime": 30}
    assert set(buc) == {"900000", ACC_1}
    assert buc["900000"] == buc[ACC_1]
    assert buc[ACC_1][0]["call_count"] == 75
    assert buc[ACC_1][0]["type"] == "instagram"


async def test_token_limit_answers_17(http: aiohttp.ClientSession) -> None:
    """The call past the per-token allowance gets code 17 and Meta's message."""
    async with running_emulator(limited(token_calls=1), clock=FixedClock(NOW)) as emu:
        for _ in range(2):
            async with http.get(insights_url(emu.base_url, ACC_1)) as r:
                body = await r.json()
    assert (body["error"]["code"], body["error"]["message"]) == (
        17,
        "(#17) User request limit reached",
    )


async def test_custom_limit_answers_613(http: aiohttp.ClientSession) -> None:
    """The call past the per-account custom allowance gets code 613 and Meta's message."""
    async with running_emulator(limited(custom_calls=1), clock=FixedClock(NOW)) as emu:
        for _ in range(2):
            async with http.get(insights_url(emu.base_url, ACC_1)) as r:
                body = await r.json()
    assert (body["error"]["code"], body["error"]["message"]) == (
        613,
        "Calls to this api have exceeded the rate limit.",
    )


async def test_failed_auth_with_a_known_token_counts_against_its_app(
    http: aiohttp.ClientSession,
) -> None:
    """A known token addressing an account it cannot read still spends its app's allowance."""
    async with running_emulator(limited(app_calls=1), clock=FixedClock(NOW)) as emu:
        # ACC_1's token asking for ACC_2: error 10, but agency-a made the call.
        url = insights_url(emu.base_url, ACC_2).replace(TOKENS[ACC_2], TOKENS[ACC_1])
        async with http.get(url) as r:
            first = (await r.json())["error"]["code"]
        async with http.get(insights_url(emu.base_url, ACC_1)) as r:
            second = (await r.json())["error"]["code"]
    assert (first, second) == (10, 4)


async def test_unknown_tokens_count_against_no_app(http: aiohttp.ClientSession) -> None:
    """Calls with a token the scenario does not know spend no app's allowance."""
    async with running_emulator(limited(app_calls=1), clock=FixedClock(NOW)) as emu:
        url = insights_url(emu.base_url, ACC_1).replace(TOKENS[ACC_1], "EAAnobody")
        for _ in range(3):
            async with http.get(url):
                pass
        async with http.get(insights_url(emu.base_url, ACC_1)) as r:
            assert r.status == 200
