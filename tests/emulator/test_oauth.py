"""Token exchange and refresh, pages_show_list and graph.instagram.com, over HTTP (SPEC 8)."""

from __future__ import annotations

from typing import Any

import aiohttp

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario, parse_scenario
from collector.emulator.server import INSTAGRAM_PREFIX
from collector.emulator.testing import running_emulator

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z
DAY = 86_400.0
FB_USER = "EAAshort"
IG_USER = "IGQshort"
IG_ID = "17841400000000902"
INSIGHTS = "insights?metric=reach&period=day&since=1764201600&until=1764460800"


def scenario(**ig_token: Any) -> Scenario:
    """A Facebook Login app with one account, an Instagram Login app with another."""
    return parse_scenario(
        {
            "seed": 5,
            "apps": [
                {"name": "fb", "app_id": "3001", "app_secret": "fb-secret"},
                {"name": "ig", "app_id": "3002", "app_secret": "ig-secret", "login": "instagram"},
            ],
            "accounts": [
                {"id": "17841400000000901", "followers": 900, "token": FB_USER, "app": "fb"},
                {"id": IG_ID, "followers": 1200, "token": IG_USER, "app": "ig"},
            ],
            "tokens": [
                {"token": FB_USER, "app": "fb", "expires_at": NOW + 3600},
                {"token": IG_USER, "app": "ig", "expires_at": NOW + 3 * DAY, **ig_token},
            ],
        }
    )


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def test_fb_exchange_gives_a_sixty_day_token_that_reads_insights() -> None:
    """fb_exchange_token answers a new bearer token of 5,184,000 s that the insights edge takes."""
    clock = FixedClock(NOW)
    async with running_emulator(scenario(), clock=clock) as emu, aiohttp.ClientSession() as http:
        query = f"grant_type=fb_exchange_token&client_id=3001&client_secret=fb-secret&fb_exchange_token={FB_USER}"
        status, body = await get(http, f"{emu.base_url}/v21.0/oauth/access_token?{query}")
        clock.advance(2 * 3600)  # the short token has expired; the long one has not
        url = (
            f"{emu.base_url}/v21.0/17841400000000901/{INSIGHTS}&access_token={body['access_token']}"
        )
        insight_status, _ = await get(http, url)
    assert (status, body["token_type"], body["expires_in"], insight_status) == (
        200,
        "bearer",
        5_184_000,
        200,
    )


async def test_fb_exchange_with_a_wrong_secret_is_code_1() -> None:
    """A client_secret that is not the app's is refused with code 1, and no token is minted."""
    async with (
        running_emulator(scenario(), clock=FixedClock(NOW)) as emu,
        aiohttp.ClientSession() as http,
    ):
        query = f"grant_type=fb_exchange_token&client_id=3001&client_secret=nope&fb_exchange_token={FB_USER}"
        status, body = await get(http, f"{emu.base_url}/oauth/access_token?{query}")
        tokens = len(emu.state.scenario.tokens)
    assert (status, body["error"]["code"], tokens) == (400, 1, 2)


async def test_me_accounts_without_pages_show_list_is_a_permission_error() -> None:
    """A user token lacking pages_show_list gets code 200 from /me/accounts."""
    narrow = parse_scenario(
        {
            "apps": [{"name": "fb", "app_id": "3001", "app_secret": "fb-secret"}],
            "accounts": [
                {"id": "17841400000000901", "followers": 9, "token": FB_USER, "app": "fb"}
            ],
            "tokens": [{"token": FB_USER, "app": "fb", "scopes": ["instagram_basic"]}],
        }
    )
    async with (
        running_emulator(narrow, clock=FixedClock(NOW)) as emu,
        aiohttp.ClientSession() as http,
    ):
        status, body = await get(http, f"{emu.base_url}/me/accounts?access_token={FB_USER}")
    assert (status, body["error"]["code"]) == (400, 200)


async def test_instagram_token_is_served_on_the_instagram_host_only() -> None:
    """An Instagram Login token reads insights below the instagram prefix and is 190 elsewhere."""
    async with (
        running_emulator(scenario(), clock=FixedClock(NOW)) as emu,
        aiohttp.ClientSession() as http,
    ):
        ig = f"{emu.base_url}{INSTAGRAM_PREFIX}/v21.0/{IG_ID}/{INSIGHTS}&access_token={IG_USER}"
        fb = f"{emu.base_url}/v21.0/{IG_ID}/{INSIGHTS}&access_token={IG_USER}"
        ig_status, _ = await get(http, ig)
        fb_status, fb_body = await get(http, fb)
    assert (ig_status, fb_status, fb_body["error"]["code"]) == (200, 400, 190)


async def test_refresh_of_a_token_younger_than_a_day_is_refused() -> None:
    """refresh_access_token refuses a token issued less than 24 hours ago (code 100)."""
    async with (
        running_emulator(scenario(issued_at=NOW - 3600), clock=FixedClock(NOW)) as emu,
        aiohttp.ClientSession() as http,
    ):
        url = f"{emu.base_url}{INSTAGRAM_PREFIX}/refresh_access_token?grant_type=ig_refresh_token&access_token={IG_USER}"
        status, body = await get(http, url)
    assert (status, body["error"]["code"]) == (400, 100)


async def test_refreshed_token_outlives_the_old_one() -> None:
    """A refreshed Instagram token still reads insights after the old token's expiry."""
    clock = FixedClock(NOW)
    async with (
        running_emulator(scenario(issued_at=NOW - 2 * DAY), clock=clock) as emu,
        aiohttp.ClientSession() as http,
    ):
        url = f"{emu.base_url}{INSTAGRAM_PREFIX}/refresh_access_token?grant_type=ig_refresh_token&access_token={IG_USER}"
        _, body = await get(http, url)
        clock.advance(4 * DAY)
        base = f"{emu.base_url}{INSTAGRAM_PREFIX}/v21.0/{IG_ID}/{INSIGHTS}"
        old_status, old_body = await get(http, f"{base}&access_token={IG_USER}")
        new_status, _ = await get(http, f"{base}&access_token={body['access_token']}")
    assert (old_status, old_body["error"].get("error_subcode"), new_status) == (400, 463, 200)


async def test_ig_exchange_needs_the_app_secret() -> None:
    """ig_exchange_token mints a 60-day token with the right secret and refuses a wrong one."""
    async with (
        running_emulator(scenario(), clock=FixedClock(NOW)) as emu,
        aiohttp.ClientSession() as http,
    ):
        base = f"{emu.base_url}{INSTAGRAM_PREFIX}/access_token?grant_type=ig_exchange_token"
        good = await get(http, f"{base}&client_secret=ig-secret&access_token={IG_USER}")
        bad = await get(http, f"{base}&client_secret=fb-secret&access_token={IG_USER}")
    assert (good[0], good[1]["expires_in"], bad[1]["error"]["code"]) == (200, 5_184_000, 1)
