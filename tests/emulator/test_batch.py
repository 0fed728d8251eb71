"""Batches (SPEC 7): items through the full pipeline, in order, each counted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings, Scenario, default_scenario
from collector.emulator.testing import running_emulator
from collector.emulator.truth import truth_values

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2025, 11, 30, 12, tzinfo=LA).timestamp()
SINCE = int(dt.datetime(2025, 11, 19, 12, tzinfo=LA).timestamp())
UNTIL = int(dt.datetime(2025, 11, 29, 12, tzinfo=LA).timestamp())
ACC_1, TOKEN_1 = "17841400000000001", "EAAdemoA001"
ACC_2, TOKEN_2 = "17841400000000002", "EAAdemoA002"


def item(account: str, token: str | None = None, metric: str = "reach") -> dict[str, str]:
    relative = f"{account}/insights?metric={metric}&period=day&since={SINCE}&until={UNTIL}"
    if token is not None:
        relative += f"&access_token={token}"
    return {"method": "GET", "relative_url": relative}


def truth(account: str, metric: str = "reach") -> list[dict[str, Any]]:
    return truth_values(
        default_scenario(),
        account_id=account,
        metric=metric,
        period="day",
        since=SINCE,
        until=UNTIL,
        now=NOW,
    )


def changed(**changes: Any) -> Scenario:
    base = default_scenario()
    if "faults" in changes:
        return dataclasses.replace(base, faults=changes["faults"])
    return dataclasses.replace(base, limits=dataclasses.replace(base.limits, **changes))


async def post_batch(
    http: aiohttp.ClientSession, base_url: str, items: list[Any], **form: str
) -> tuple[int, Any]:
    data = {"batch": json.dumps(items), "access_token": TOKEN_1, **form}
    async with http.post(f"{base_url}/v17.0/", data=data) as r:
        return r.status, await r.json()


def item_body(entry: dict[str, Any]) -> Any:
    return json.loads(entry["body"])


async def test_items_answer_in_order_with_the_ground_truth(http: aiohttp.ClientSession) -> None:
    """Each item's body is the JSON text of the insights answer, in request order."""
    items = [item(ACC_1, metric="reach"), item(ACC_1, metric="impressions")]
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        status, answer = await post_batch(http, emu.base_url, items)
    assert status == 200
    assert [e["code"] for e in answer] == [200, 200]
    assert item_body(answer[0])["data"][0]["values"] == truth(ACC_1, "reach")
    assert item_body(answer[1])["data"][0]["values"] == truth(ACC_1, "impressions")


async def test_an_item_may_carry_its_own_token(http: aiohttp.ClientSession) -> None:
    """An item with its own access_token reads that token's account; others use the top-level one."""
    items = [item(ACC_2, token=TOKEN_2), item(ACC_1)]
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, items)
    assert item_body(answer[0])["data"][0]["values"] == truth(ACC_2)
    assert item_body(answer[1])["data"][0]["values"] == truth(ACC_1)


async def test_an_item_without_access_inherits_the_top_token_and_fails(
    http: aiohttp.ClientSession,
) -> None:
    """An item for another account with no token of its own fails with code 10 on its own."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, [item(ACC_2), item(ACC_1)])
    assert (answer[0]["code"], item_body(answer[0])["error"]["code"]) == (400, 10)
    assert answer[1]["code"] == 200


async def test_a_bad_item_fails_alone(http: aiohttp.ClientSession) -> None:
    """An item with an unknown metric carries a code 100 error; its neighbours succeed."""
    items = [item(ACC_1), item(ACC_1, metric="bogus"), item(ACC_1)]
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, items)
    assert [e["code"] for e in answer] == [200, 400, 200]
    assert item_body(answer[1])["error"]["code"] == 100


async def test_items_carry_usage_headers(http: aiohttp.ClientSession) -> None:
    """Each item lists its Content-Type and usage headers as name/value pairs."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, [item(ACC_1)])
    names = {h["name"] for h in answer[0]["headers"]}
    assert {"Content-Type", "X-App-Usage", "X-Business-Use-Case-Usage"} <= names


async def test_include_headers_false_leaves_headers_out(http: aiohttp.ClientSession) -> None:
    """include_headers=false gives items with code and body only."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, [item(ACC_1)], include_headers="false")
    assert set(answer[0]) == {"code", "body"}


async def test_fifty_one_items_are_refused(http: aiohttp.ClientSession) -> None:
    """A batch of 51 items is refused whole with code 100 and serves no item."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        status, answer = await post_batch(http, emu.base_url, [item(ACC_1)] * 51)
    assert status == 400
    assert answer["error"]["code"] == 100
    assert answer["error"]["message"] == (
        "(#100) Too many requests in batch message. Maximum batch size is 50"
    )
    assert emu.calls.select(route=Route.BATCH_ITEM) == []


async def test_fifty_items_are_served(http: aiohttp.ClientSession) -> None:
    """A batch of exactly 50 items is served item by item."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        status, answer = await post_batch(http, emu.base_url, [item(ACC_1)] * 50)
    assert status == 200
    assert [e["code"] for e in answer] == [200] * 50


async def test_every_item_counts_against_the_limits(http: aiohttp.ClientSession) -> None:
    """With an app allowance of 3, items 4 and 5 of one batch are refused with code 4."""
    async with running_emulator(changed(app_calls=3), clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, [item(ACC_1)] * 5)
    assert [e["code"] for e in answer] == [200, 200, 200, 403, 403]
    assert item_body(answer[4])["error"]["code"] == 4
    assert len(emu.calls.select(route=Route.BATCH_ITEM, app="agency-a")) == 5


async def test_null_items_follow_the_seeded_rate(http: aiohttp.ClientSession) -> None:
    """batch_null_rate answers some items null, the same ones on every run of a seed."""
    scenario = changed(faults=FaultSettings(batch_null_rate=0.5))
    runs = []
    for _ in range(2):
        async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
            _, answer = await post_batch(http, emu.base_url, [item(ACC_1)] * 20)
        runs.append([entry is None for entry in answer])
    assert runs[0] == runs[1]
    assert 0 < sum(runs[0]) < 20


async def test_null_items_still_count(http: aiohttp.ClientSession) -> None:
    """Items answered null were counted calls (logged with the batch_null fault)."""
    scenario = changed(faults=FaultSettings(batch_null_rate=1.0))
    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        _, answer = await post_batch(http, emu.base_url, [item(ACC_1)] * 3)
    assert answer == [None, None, None]
    assert [r.fault for r in emu.calls.select(route=Route.BATCH_ITEM)] == ["batch_null"] * 3


async def test_a_graph_fault_hits_one_item(http: aiohttp.ClientSession) -> None:
    """A transient fault injected for one account fails only that account's item."""
    items = [item(ACC_1), item(ACC_2, token=TOKEN_2)]
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("transient_1", account=ACC_2)
        _, answer = await post_batch(http, emu.base_url, items)
    assert [e["code"] for e in answer] == [200, 500]
    assert item_body(answer[1])["error"]["code"] == 1


async def test_a_transport_fault_hits_the_whole_batch(http: aiohttp.ClientSession) -> None:
    """An html_502 drawn by an item turns the whole batch answer into the proxy's page."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        emu.state.faults.inject("html_502")
        data = {"batch": json.dumps([item(ACC_1)] * 2), "access_token": TOKEN_1}
        async with http.post(f"{emu.base_url}/v17.0/", data=data) as r:
            status, content_type = r.status, r.headers["Content-Type"]
    assert status == 502
    assert content_type.startswith("text/html")


async def test_batch_is_served_without_a_version(http: aiohttp.ClientSession) -> None:
    """POST / takes a batch like POST /{version}/."""
    async with running_emulator(clock=FixedClock(NOW)) as emu:
        data = {"batch": json.dumps([item(ACC_1)]), "access_token": TOKEN_1}
        async with http.post(f"{emu.base_url}/", data=data) as r:
            answer = await r.json()
    assert item_body(answer[0])["data"][0]["values"] == truth(ACC_1)
