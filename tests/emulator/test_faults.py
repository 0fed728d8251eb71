"""Faults: which calls fail (seeded, scheduled, injected) and how each looks to a raw client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import aiohttp
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.faults import FaultPlan, latency_s
from collector.emulator.scenario import (
    FAULT_KINDS,
    FaultSettings,
    LatencySettings,
    Scenario,
    ScheduledFault,
    default_scenario,
)
from collector.emulator.testing import running_emulator

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z, noon in Los Angeles
ACC_1, TOKEN_1 = "17841400000000001", "EAAdemoA001"
ACC_2, TOKEN_2 = "17841400000000002", "EAAdemoA002"


def with_faults(**settings: Any) -> Scenario:
    return dataclasses.replace(default_scenario(), faults=FaultSettings(**settings))


def url(base: str, account: str = ACC_1, token: str = TOKEN_1) -> str:
    return f"{base}/v17.0/{account}/insights?metric=impressions&period=day&access_token={token}"


# --- decisions ----------------------------------------------------------------------


def test_same_seed_fails_the_same_calls_with_the_same_kinds() -> None:
    """Two plans with one seed and rate decide every call number identically."""
    settings = FaultSettings(rate=0.3)
    a, b = FaultPlan(settings, seed=5), FaultPlan(settings, seed=5)
    assert [a.decide(n, None) for n in range(1, 301)] == [b.decide(n, None) for n in range(1, 301)]


def test_another_seed_fails_other_calls() -> None:
    """A different seed gives a different fault sequence."""
    settings = FaultSettings(rate=0.3)
    a, b = FaultPlan(settings, seed=5), FaultPlan(settings, seed=6)
    assert [a.decide(n, None) for n in range(1, 301)] != [b.decide(n, None) for n in range(1, 301)]


def test_rate_fails_about_that_share_with_listed_kinds_only() -> None:
    """rate=0.2 fails roughly a fifth of calls, each with a kind from ``kinds``."""
    plan = FaultPlan(FaultSettings(rate=0.2, kinds=("transient_1", "html_502")), seed=1)
    kinds = [plan.decide(n, None) for n in range(1, 5001)]
    failed = [k for k in kinds if k is not None]
    assert 850 < len(failed) < 1150  # 1000 expected; 5 sigma is about 140
    assert set(failed) == {"transient_1", "html_502"}


def test_zero_rate_never_fails() -> None:
    """Without a rate, schedule or injection, no call fails."""
    plan = FaultPlan(FaultSettings(), seed=1)
    assert all(plan.decide(n, "x") is None for n in range(1, 1001))


def test_schedule_names_the_call_number() -> None:
    """A scheduled fault hits exactly the listed call number."""
    plan = FaultPlan(FaultSettings(schedule=(ScheduledFault(3, "slow"),)), seed=1)
    assert [plan.decide(n, None) for n in range(1, 6)] == [None, None, "slow", None, None]


def test_injected_faults_hit_the_next_matching_calls_then_stop() -> None:
    """inject(kind, count, account) fails the next ``count`` calls for that account only."""
    plan = FaultPlan(FaultSettings(), seed=1)
    plan.inject("transient_2", count=2, account="a")
    got = [plan.decide(n, acc) for n, acc in enumerate(["b", "a", "b", "a", "a"], start=1)]
    assert got == [None, "transient_2", None, "transient_2", None]


def test_inject_rejects_an_unknown_kind() -> None:
    """Injecting a kind the emulator cannot produce is an error, not a silent no-op."""
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(FaultSettings(), seed=1).inject("teapot")


def test_batch_nulls_follow_the_seed() -> None:
    """batch_null_rate draws are a function of (seed, call number)."""
    settings = FaultSettings(batch_null_rate=0.5)
    a, b = FaultPlan(settings, seed=9), FaultPlan(settings, seed=9)
    draws = [a.batch_null(n) for n in range(1, 201)]
    assert draws == [b.batch_null(n) for n in range(1, 201)]
    assert 60 < sum(draws) < 140


def test_latency_is_fixed_plus_bounded_jitter() -> None:
    """Latency lies in [fixed, fixed + jitter] and repeats for the same (seed, call)."""
    waits = [latency_s(3, n, 100.0, 50.0) for n in range(1, 101)]
    assert all(0.1 <= w <= 0.15 for w in waits)
    assert waits == [latency_s(3, n, 100.0, 50.0) for n in range(1, 101)]
    assert len(set(waits)) > 50


# --- on the wire ----------------------------------------------------------------------


async def _first_call_with(
    kind: str, http: aiohttp.ClientSession
) -> tuple[int, dict[str, str], bytes]:
    async with running_emulator(with_faults(), clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject(kind)
        async with http.get(url(emu.base_url)) as r:
            return r.status, dict(r.headers), await r.read()


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("transient_1", 500, 1, "An unknown error occurred"),
        (
            "transient_2",
            500,
            2,
            "An unexpected error has occurred. Please retry your request later.",
        ),
    ],
)
async def test_transient_faults_are_500s_marked_transient(
    http: aiohttp.ClientSession, kind: str, status: int, code: int, message: str
) -> None:
    """transient_1/2 answer HTTP 500 with code 1/2, Meta's message and is_transient true."""
    got_status, headers, body = await _first_call_with(kind, http)
    error = json.loads(body)["error"]
    assert (got_status, error["code"], error["message"], error["is_transient"]) == (
        status,
        code,
        message,
        True,
    )
    assert headers["Content-Type"].startswith("application/json")


async def test_subcode_33_is_a_code_100_with_subcode_33(http: aiohttp.ClientSession) -> None:
    """subcode_33 answers HTTP 400, code 100, error_subcode 33."""
    status, _, body = await _first_call_with("subcode_33", http)
    error = json.loads(body)["error"]
    assert (status, error["code"], error["error_subcode"]) == (400, 100, 33)


async def test_throttle_burst_is_code_4_with_usage_at_100(http: aiohttp.ClientSession) -> None:
    """throttle_burst answers code 4 (HTTP 403) with every X-App-Usage field at 100."""
    status, headers, body = await _first_call_with("throttle_burst", http)
    assert (status, json.loads(body)["error"]["code"]) == (403, 4)
    assert json.loads(headers["X-App-Usage"]) == {
        "call_count": 100,
        "total_time": 100,
        "total_cputime": 100,
    }


async def test_html_502_is_an_html_page(http: aiohttp.ClientSession) -> None:
    """html_502 answers HTTP 502 with a text/html body, not JSON."""
    status, headers, body = await _first_call_with("html_502", http)
    assert status == 502
    assert headers["Content-Type"].startswith("text/html")
    assert body.lstrip().startswith(b"<html>")


async def test_truncated_json_has_an_honest_length_and_bad_json(
    http: aiohttp.ClientSession,
) -> None:
    """truncated_json is a 200 application/json whose full body fails to parse."""
    status, headers, body = await _first_call_with("truncated_json", http)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert int(headers["Content-Length"]) == len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


async def test_drop_mid_body_breaks_the_read(http: aiohttp.ClientSession) -> None:
    """drop_mid_body sends headers and part of the body, then the client's read fails."""
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        await _first_call_with("drop_mid_body", http)


async def test_slow_answer_runs_into_a_client_timeout(http: aiohttp.ClientSession) -> None:
    """A slow answer stalls past the client's timeout, and stopping the emulator does not wait."""
    started = time.monotonic()
    async with running_emulator(with_faults(slow_s=30), clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("slow")
        with pytest.raises(asyncio.TimeoutError):
            async with http.get(url(emu.base_url), timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
    assert time.monotonic() - started < 5


async def test_slow_answer_stops_when_its_client_leaves(http: aiohttp.ClientSession) -> None:
    """The stalled answer is cancelled once the client gives up, not left to run 30 s."""
    async with running_emulator(with_faults(slow_s=30), clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("slow")
        with pytest.raises(asyncio.TimeoutError):
            async with http.get(url(emu.base_url), timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
        for _ in range(50):
            if emu.state.in_flight == 0:
                break
            await asyncio.sleep(0.02)
        assert emu.state.in_flight == 0


async def test_schedule_fails_the_listed_call_over_http(http: aiohttp.ClientSession) -> None:
    """A fault scheduled for call 2 fails the second call and no other."""
    scenario = with_faults(schedule=(ScheduledFault(2, "transient_1"),))
    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        statuses = []
        for _ in range(4):
            async with http.get(url(emu.base_url)) as r:
                statuses.append(r.status)
    assert statuses == [200, 500, 200, 200]


async def test_seeded_faults_repeat_across_emulator_runs(http: aiohttp.ClientSession) -> None:
    """Two runs of one seeded scenario fail the same calls with the same kinds."""
    graph_kinds = ("transient_1", "transient_2", "subcode_33", "throttle_burst")
    scenario = with_faults(rate=0.4, kinds=graph_kinds)
    runs = []
    for _ in range(2):
        async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
            for _ in range(30):
                async with http.get(url(emu.base_url)):
                    pass
            runs.append([r.fault for r in emu.calls.records()])
    assert runs[0] == runs[1]
    assert any(runs[0]) and not all(runs[0])


async def test_injected_fault_for_one_account_spares_the_others(
    http: aiohttp.ClientSession,
) -> None:
    """A fault injected for one account skips calls for other accounts."""
    async with running_emulator(with_faults(), clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("transient_1", account=ACC_2)
        async with http.get(url(emu.base_url, ACC_1, TOKEN_1)) as r:
            first = r.status
        async with http.get(url(emu.base_url, ACC_2, TOKEN_2)) as r:
            second = r.status
    assert (first, second) == (200, 500)


async def test_latency_delays_every_answer(http: aiohttp.ClientSession) -> None:
    """With fixed_ms=150 no answer comes back sooner than 150 ms."""
    scenario = dataclasses.replace(default_scenario(), latency=LatencySettings(fixed_ms=150))
    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        started = time.monotonic()
        async with http.get(url(emu.base_url)) as r:
            await r.read()
        assert time.monotonic() - started >= 0.15


def test_every_fault_kind_is_covered_here() -> None:
    """This module exercises every kind the scenario format accepts."""
    assert set(FAULT_KINDS) == {
        "transient_1",
        "transient_2",
        "subcode_33",
        "html_502",
        "drop_mid_body",
        "truncated_json",
        "slow",
        "throttle_burst",
    }
