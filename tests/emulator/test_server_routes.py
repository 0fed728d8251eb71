"""The HTTP surface: routes, parameter transports, auth headers and Content-Type."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import default_scenario
from collector.emulator.testing import RunningEmulator, running_emulator
from collector.emulator.truth import truth_values

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2025, 11, 30, 12, tzinfo=LA).timestamp()  # noon in Los Angeles
SINCE = int(dt.datetime(2025, 11, 19, 12, tzinfo=LA).timestamp())  # end_time dates Nov 20..29
UNTIL = int(dt.datetime(2025, 11, 29, 12, tzinfo=LA).timestamp())
ACC, TOKEN = "17841400000000002", "EAAdemoA002"  # 120,000 followers, agency-a (no proof)


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    """The built-in scenario at a fixed noon."""
    async with running_emulator(clock=FixedClock(NOW)) as running:
        yield running


def expected(metric: str) -> list[dict[str, Any]]:
    return truth_values(
        default_scenario(),
        account_id=ACC,
        metric=metric,
        period="day",
        since=SINCE,
        until=UNTIL,
        now=NOW,
    )


def values_of(body: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    (entry,) = [e for e in body["data"] if e["name"] == metric]
    values: list[dict[str, Any]] = entry["values"]
    return values


async def test_get_serves_the_ground_truth(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """A plain GET answers ten days equal, value for value, to the emulator's ground truth."""
    query = f"metric=reach&period=day&since={SINCE}&until={UNTIL}&access_token={TOKEN}"
    async with http.get(f"{emu.base_url}/v17.0/{ACC}/insights?{query}") as r:
        body = await r.json()
    assert len(values_of(body, "reach")) == 10
    assert values_of(body, "reach") == expected("reach")


async def test_post_form_fields_are_read_like_a_query(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """POST /{version}/{id}/insights with form fields answers like the GET."""
    form = {
        "metric": "impressions,reach",
        "period": "day",
        "since": str(SINCE),
        "until": str(UNTIL),
        "access_token": TOKEN,
    }
    async with http.post(f"{emu.base_url}/v17.0/{ACC}/insights", data=form) as r:
        body = await r.json()
    assert values_of(body, "impressions") == expected("impressions")
    assert values_of(body, "reach") == expected("reach")


async def test_form_fields_override_the_query_string(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """In a POST a form field wins over the same query parameter."""
    target = f"{emu.base_url}/v17.0/{ACC}/insights?metric=nonsense&access_token={TOKEN}"
    form = {"metric": "reach", "period": "day", "since": str(SINCE), "until": str(UNTIL)}
    async with http.post(target, data=form) as r:
        body = await r.json()
    assert values_of(body, "reach") == expected("reach")


@pytest.mark.parametrize("scheme", ["Bearer", "OAuth"])
async def test_authorization_header_carries_the_token(
    http: aiohttp.ClientSession, emu: RunningEmulator, scheme: str
) -> None:
    """``Authorization: Bearer|OAuth TOKEN`` authenticates like access_token."""
    query = f"metric=reach&period=day&since={SINCE}&until={UNTIL}"
    headers = {"Authorization": f"{scheme} {TOKEN}"}
    async with http.get(f"{emu.base_url}/v17.0/{ACC}/insights?{query}", headers=headers) as r:
        body = await r.json()
    assert values_of(body, "reach") == expected("reach")


async def test_metric_as_a_json_array_is_accepted(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """``metric=["reach","impressions"]`` (facebook-business style) is served like a list."""
    metric = quote(json.dumps(["reach", "impressions"]))
    query = f"metric={metric}&period=day&since={SINCE}&until={UNTIL}&access_token={TOKEN}"
    async with http.get(f"{emu.base_url}/v17.0/{ACC}/insights?{query}") as r:
        body = await r.json()
    assert [e["name"] for e in body["data"]] == ["reach", "impressions"]
    assert values_of(body, "impressions") == expected("impressions")


async def test_unversioned_path_is_served_as_v17(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """``/{id}/insights`` without a version serves the legacy (v17) catalogue."""
    query = f"metric=impressions&period=day&since={SINCE}&until={UNTIL}&access_token={TOKEN}"
    async with http.get(f"{emu.base_url}/{ACC}/insights?{query}") as r:
        body = await r.json()
    assert values_of(body, "impressions") == expected("impressions")


async def test_unknown_path_is_a_graph_error(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """A path the emulator does not serve answers a Graph-style JSON error, code 2500."""
    async with http.get(f"{emu.base_url}/v17.0/{ACC}/media") as r:
        status, body = r.status, await r.json()
    assert status == 400
    assert body["error"]["code"] == 2500
    assert body["error"]["message"] == f"Unknown path components: /v17.0/{ACC}/media"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v17.0/{ACC}/insights?metric=reach&period=day&access_token={TOKEN}"),
        ("GET", f"/v17.0/{ACC}/insights?metric=bogus&period=day&access_token={TOKEN}"),
        ("GET", f"/v17.0/{ACC}/insights?metric=reach&period=day"),
        ("POST", f"/v17.0/{ACC}/insights?metric=reach&period=day&access_token=nope"),
        ("GET", "/nowhere"),
        ("POST", "/v17.0/"),
        ("GET", "/debug_token?input_token=x&access_token=1|2"),
        ("GET", f"/me/accounts?access_token={TOKEN}"),
    ],
)
async def test_every_json_answer_says_application_json(
    http: aiohttp.ClientSession, emu: RunningEmulator, method: str, path: str
) -> None:
    """Successes and errors on every route carry ``Content-Type: application/json``."""
    async with http.request(method, emu.base_url + path) as r:
        content_type = r.headers["Content-Type"]
        await r.json()  # and the body is JSON
    assert content_type.split(";")[0] == "application/json"


async def test_paging_urls_point_at_the_emulator(
    http: aiohttp.ClientSession, emu: RunningEmulator
) -> None:
    """paging.next is a URL on the emulator's own host and port."""
    query = f"metric=reach&period=day&since={SINCE}&until={UNTIL}&access_token={TOKEN}"
    async with http.get(f"{emu.base_url}/v17.0/{ACC}/insights?{query}") as r:
        body = await r.json()
    assert body["paging"]["next"].startswith(f"{emu.base_url}/v17.0/{ACC}/insights?")
