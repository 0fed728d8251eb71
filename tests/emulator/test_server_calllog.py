"""The call log: one record per call served, with what tests need and no secret."""

from __future__ import annotations

import dataclasses
import hashlib

import aiohttp

from collector.emulator.calllog import CallLog, CallRecord, Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import default_scenario
from collector.emulator.testing import running_emulator

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z, noon in Los Angeles
ACC_1, TOKEN_1 = "17841400000000001", "EAAdemoA001"
ACC_2, TOKEN_2 = "17841400000000002", "EAAdemoA002"


def url(base: str, account: str, token: str) -> str:
    return f"{base}/v17.0/{account}/insights?metric=reach&period=day&access_token={token}"


async def test_a_served_call_is_logged_with_its_facts(http: aiohttp.ClientSession) -> None:
    """A successful insights call logs route, app, account, status, clock time and call number."""
    async with (
        running_emulator(clock=FixedClock(NOW)) as emu,
        http.get(url(emu.base_url, ACC_1, TOKEN_1)),
    ):
        pass
    (record,) = emu.calls.records()
    assert (
        record.route,
        record.app,
        record.account,
        record.status,
        record.code,
        record.at,
        record.call_number,
        record.counted,
        record.throttled,
        record.fault,
    ) == (Route.INSIGHTS, "agency-a", ACC_1, 200, None, NOW, 1, True, False, None)


async def test_the_log_holds_a_fingerprint_never_the_token(http: aiohttp.ClientSession) -> None:
    """Records carry a 12-hex SHA-256 prefix of the token and nothing with the token in it."""
    async with (
        running_emulator(clock=FixedClock(NOW)) as emu,
        http.get(url(emu.base_url, ACC_1, TOKEN_1)),
    ):
        pass
    (record,) = emu.calls.records()
    assert record.token_fp == hashlib.sha256(TOKEN_1.encode()).hexdigest()[:12]
    assert TOKEN_1 not in repr(record)


async def test_errors_are_logged_with_their_code(http: aiohttp.ClientSession) -> None:
    """An unknown token is logged with status 400, code 190, no app and not counted."""
    async with (
        running_emulator(clock=FixedClock(NOW)) as emu,
        http.get(url(emu.base_url, ACC_1, "EAAnobody")),
    ):
        pass
    (record,) = emu.calls.records()
    assert (record.status, record.code, record.app, record.counted, record.call_number) == (
        400,
        190,
        None,
        False,
        None,
    )


async def test_throttled_calls_are_marked(http: aiohttp.ClientSession) -> None:
    """A call refused by a rate limit is logged as throttled with the limit's code."""
    base = default_scenario()
    scenario = dataclasses.replace(base, limits=dataclasses.replace(base.limits, app_calls=1))
    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        for _ in range(2):
            async with http.get(url(emu.base_url, ACC_1, TOKEN_1)):
                pass
    assert [(r.throttled, r.code) for r in emu.calls.records()] == [(False, None), (True, 4)]
    assert len(emu.calls.throttled()) == 1


async def test_injected_fault_is_logged_with_its_kind(http: aiohttp.ClientSession) -> None:
    """A call that carried a fault is logged with the fault's kind."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("transient_2")
        async with http.get(url(emu.base_url, ACC_1, TOKEN_1)):
            pass
    assert [r.fault for r in emu.calls.records()] == ["transient_2"]


async def test_counts_by_app_and_account(http: aiohttp.ClientSession) -> None:
    """count_by_app and count_by_account add up the calls per app and per account."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        for account, token in ((ACC_1, TOKEN_1), (ACC_2, TOKEN_2), (ACC_1, TOKEN_1)):
            async with http.get(url(emu.base_url, account, token)):
                pass
    assert emu.calls.count_by_app() == {"agency-a": 3}
    assert emu.calls.count_by_account() == {ACC_1: 2, ACC_2: 1}


async def test_the_log_keeps_path_and_parameters_without_secrets(
    http: aiohttp.ClientSession,
) -> None:
    """A record holds the path and the parameters as sent, less access_token and proof."""
    query = "metric=reach&period=day&since=1764000000&until=1764086400&appsecret_proof=ab12"
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        target = f"{emu.base_url}/v17.0/{ACC_1}/insights?{query}&access_token={TOKEN_1}"
        async with http.get(target):
            pass
    (record,) = emu.calls.records()
    assert record.path == f"/v17.0/{ACC_1}/insights"
    assert dict(record.params) == {
        "metric": "reach",
        "period": "day",
        "since": "1764000000",
        "until": "1764086400",
    }


async def test_batch_items_are_logged_with_their_own_path(http: aiohttp.ClientSession) -> None:
    """Each batch item's record names its relative_url path; the batch field is never kept."""
    items = f'[{{"method":"GET","relative_url":"{ACC_1}/insights?metric=reach&period=day"}}]'
    async with (
        running_emulator(clock=FixedClock(NOW)) as emu,
        http.post(f"{emu.base_url}/v17.0/", data={"batch": items, "access_token": TOKEN_1}),
    ):
        pass
    (record,) = emu.calls.records()
    assert (record.route, record.path, dict(record.params)) == (
        Route.BATCH_ITEM,
        f"/{ACC_1}/insights",
        {"metric": "reach", "period": "day"},
    )


async def test_other_processes_read_the_log_over_http(http: aiohttp.ClientSession) -> None:
    """GET /_emulator/calls serves the records from ``start`` on and the next index, no token."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        for account, token in ((ACC_1, TOKEN_1), (ACC_2, TOKEN_2)):
            async with http.get(url(emu.base_url, account, token)):
                pass
        async with http.get(f"{emu.base_url}/_emulator/calls") as response:
            everything = await response.json()
            text = await response.text()
        async with http.get(f"{emu.base_url}/_emulator/calls?start=1") as response:
            later = await response.json()
        assert len(emu.calls) == 2  # reading the log is not logged
    assert everything["next"] == 2
    assert [c["account"] for c in everything["calls"]] == [ACC_1, ACC_2]
    first = everything["calls"][0]
    assert (first["route"], first["status"], first["path"], first["params"]) == (
        "insights",
        200,
        f"/v17.0/{ACC_1}/insights",
        {"metric": "reach", "period": "day"},
    )
    assert TOKEN_1 not in text and TOKEN_2 not in text
    assert [c["account"] for c in later["calls"]] == [ACC_2]


def _record(real: float, app: str = "a") -> CallRecord:
    return CallRecord(at=0.0, real=real, route=Route.INSIGHTS, status=200, app=app)


def test_per_second_buckets_whole_seconds_from_start() -> None:
    """per_second counts calls in [start + i, start + i + 1) for each second i."""
    log = CallLog()
    for t in (10.0, 10.5, 11.2, 13.9, 14.0):
        log.append(_record(t))
    assert log.per_second(10.0, 14.0) == [2, 1, 0, 1, 1]


def test_per_second_filters_by_app() -> None:
    """per_second with ``app`` counts that app's calls only."""
    log = CallLog()
    for t, app in ((0.1, "a"), (0.2, "b"), (1.5, "a")):
        log.append(_record(t, app))
    assert log.per_second(0.0, 1.99, app="a") == [1, 1]


def test_max_per_second_finds_the_densest_second() -> None:
    """max_per_second is the most calls in any sliding one-second span."""
    log = CallLog()
    for t in (0.0, 0.6, 0.9, 1.5, 1.55, 1.58, 3.0):
        log.append(_record(t))
    # [0.6, 1.58] holds 0.6, 0.9, 1.5, 1.55, 1.58.
    assert log.max_per_second() == 5
