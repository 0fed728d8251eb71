"""Token endpoints (SPEC 8): debug_token and me/accounts, over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario, parse_scenario
from collector.emulator.testing import running_emulator
from collector.emulator.tokens import parse_fields

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z
APP_TOKEN = "2001|app-secret"
USER = "EAAshared"


def scenario(accounts: int = 3, **token_facts: Any) -> Scenario:
    """One app; ``accounts`` IG accounts all reached by the token ``USER``."""
    return parse_scenario(
        {
            "seed": 3,
            "apps": [{"name": "agency", "app_id": "2001", "app_secret": "app-secret"}],
            "accounts": [
                {
                    "id": f"178414000000{i:05d}",
                    "followers": 1000 + i,
                    "token": USER,
                    "app": "agency",
                    "username": f"user_{i}",
                    **({"revoked_at": NOW + 60} if i == 0 and token_facts.get("revoke") else {}),
                }
                for i in range(accounts)
            ],
            "tokens": [
                {
                    "token": USER,
                    "app": "agency",
                    "expires_at": token_facts.get("expires_at", 0),
                    "scopes": ["instagram_basic", "instagram_manage_insights", "pages_show_list"],
                    "user_id": "u-77",
                }
            ],
        }
    )


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json()


async def test_debug_token_describes_a_valid_token(http: aiohttp.ClientSession) -> None:
    """debug_token returns exactly the documented fields for a token that never expires."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/debug_token?input_token={USER}&access_token={APP_TOKEN}"
        status, body = await get_json(http, url)
    assert status == 200
    assert body == {
        "data": {
            "app_id": "2001",
            "type": "USER",
            "application": "agency",
            "data_access_expires_at": 0,
            "expires_at": 0,
            "is_valid": True,
            "scopes": ["instagram_basic", "instagram_manage_insights", "pages_show_list"],
            "user_id": "u-77",
        }
    }


async def test_debug_token_turns_invalid_after_expiry(http: aiohttp.ClientSession) -> None:
    """A token is valid before its expires_at and invalid once the clock passes it."""
    clock = FixedClock(NOW)
    expiry = int(NOW) + 3600
    async with running_emulator(scenario(expires_at=expiry), clock=clock) as emu:
        url = f"{emu.base_url}/v17.0/debug_token?input_token={USER}&access_token={APP_TOKEN}"
        _, before = await get_json(http, url)
        clock.set(expiry + 1)
        _, after = await get_json(http, url)
    assert (before["data"]["is_valid"], before["data"]["expires_at"]) == (True, expiry)
    assert (after["data"]["is_valid"], after["data"]["error"]["subcode"]) == (False, 463)


async def test_debug_token_needs_the_right_app_secret(http: aiohttp.ClientSession) -> None:
    """An app access token with a wrong secret gets error 190."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/debug_token?input_token={USER}&access_token=2001|wrong"
        status, body = await get_json(http, url)
    assert (status, body["error"]["code"]) == (400, 190)


async def test_debug_token_needs_an_app_token(http: aiohttp.ClientSession) -> None:
    """A user token in place of the app access token gets error 190."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/debug_token?input_token={USER}&access_token={USER}"
        _, body = await get_json(http, url)
    assert body["error"]["code"] == 190


async def test_debug_token_of_an_unknown_token_is_invalid(http: aiohttp.ClientSession) -> None:
    """An input token the platform never issued is reported is_valid false."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/debug_token?input_token=EAAforged&access_token={APP_TOKEN}"
        status, body = await get_json(http, url)
    assert (status, body["data"]["is_valid"]) == (200, False)


async def test_me_accounts_lists_the_ig_accounts_with_fields(http: aiohttp.ClientSession) -> None:
    """me/accounts gives each page's instagram_business_account with id, username, followers."""
    fields = "instagram_business_account{id,username,followers_count}"
    async with running_emulator(scenario(accounts=2), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/v17.0/me/accounts?fields={fields}&access_token={USER}"
        _, body = await get_json(http, url)
    got = [page["instagram_business_account"] for page in body["data"]]
    assert got == [
        {"id": "17841400000000000", "username": "user_0", "followers_count": 1000},
        {"id": "17841400000000001", "username": "user_1", "followers_count": 1001},
    ]
    assert "next" not in body["paging"]


async def test_me_accounts_pages_by_25_with_cursors(http: aiohttp.ClientSession) -> None:
    """30 accounts come back as 25 then 5, the second page reached with paging.cursors.after."""
    async with running_emulator(scenario(accounts=30), clock=FixedClock(NOW)) as emu:
        base = f"{emu.base_url}/me/accounts?fields=instagram_business_account&access_token={USER}"
        _, first = await get_json(http, base)
        after = first["paging"]["cursors"]["after"]
        _, second = await get_json(http, f"{base}&after={after}")
    ids = [p["instagram_business_account"]["id"] for p in first["data"] + second["data"]]
    assert (len(first["data"]), len(second["data"])) == (25, 5)
    assert ids == [f"178414000000{i:05d}" for i in range(30)]
    assert "next" in first["paging"] and "next" not in second["paging"]


async def test_me_accounts_next_url_leads_to_the_next_page(http: aiohttp.ClientSession) -> None:
    """Following paging.next (token added by the client) with limit=2 walks all 3 accounts."""
    async with running_emulator(scenario(accounts=3), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/me/accounts?limit=2&access_token={USER}"
        pages = []
        while url:
            _, body = await get_json(http, url)
            pages.append(len(body["data"]))
            nxt = body.get("paging", {}).get("next")
            url = f"{nxt}&access_token={USER}" if nxt else ""
    assert pages == [2, 1]


async def test_me_accounts_next_url_repeats_the_token(http: aiohttp.ClientSession) -> None:
    """paging.next repeats the access token, as Meta's links do (SPEC 3)."""
    async with running_emulator(scenario(accounts=3), clock=FixedClock(NOW)) as emu:
        _, body = await get_json(http, f"{emu.base_url}/me/accounts?limit=1&access_token={USER}")
    assert parse_qs(urlsplit(body["paging"]["next"]).query)["access_token"] == [USER]


async def test_me_accounts_drops_a_revoked_account(http: aiohttp.ClientSession) -> None:
    """An account is listed until its revoked_at, then no longer."""
    clock = FixedClock(NOW)
    async with running_emulator(scenario(accounts=2, revoke=True), clock=clock) as emu:
        url = f"{emu.base_url}/me/accounts?fields=instagram_business_account&access_token={USER}"
        _, before = await get_json(http, url)
        clock.advance(120)
        _, after = await get_json(http, url)
    assert (len(before["data"]), len(after["data"])) == (2, 1)


async def test_me_accounts_refuses_an_expired_token(http: aiohttp.ClientSession) -> None:
    """An expired user token gets error 190 with subcode 463."""
    async with running_emulator(scenario(expires_at=NOW - 1), clock=FixedClock(NOW)) as emu:
        _, body = await get_json(http, f"{emu.base_url}/me/accounts?access_token={USER}")
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (190, 463)


async def test_me_accounts_without_a_token_is_refused(http: aiohttp.ClientSession) -> None:
    """me/accounts with no token at all gets code 2500 (no current user)."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        _, body = await get_json(http, f"{emu.base_url}/me/accounts")
    assert body["error"]["code"] == 2500


async def test_me_accounts_rejects_an_unknown_field(http: aiohttp.ClientSession) -> None:
    """Asking for a field a Page does not have is a code 100 error."""
    async with running_emulator(scenario(), clock=FixedClock(NOW)) as emu:
        url = f"{emu.base_url}/me/accounts?fields=bogus&access_token={USER}"
        _, body = await get_json(http, url)
    assert body["error"]["code"] == 100


def test_fields_parser_reads_one_level_of_nesting() -> None:
    """``a,b{c,d}`` parses to a plain field and a field with two sub-fields."""
    assert parse_fields("name, instagram_business_account{id,username}") == {
        "name": None,
        "instagram_business_account": ("id", "username"),
    }


@pytest.mark.parametrize("text", ["a{b", "a}b", "a{b{c}}", "a,,b", ""])
def test_fields_parser_rejects_malformed_text(text: str) -> None:
    """Unbalanced or doubly nested braces and empty names are syntax errors."""
    with pytest.raises(ValueError):
        parse_fields(text)
