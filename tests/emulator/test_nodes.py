"""The Page and IG User nodes onboarding reads, and /me/accounts' summary (pure, no HTTP)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from collector.emulator.edge import EdgeAnswer, EdgeRequest
from collector.emulator.nodes import IG_FIELDS, answer_node, ig_profile
from collector.emulator.scenario import Scenario, parse_scenario
from collector.emulator.tokens import me_accounts

NOW = 1_764_532_800.0  # 2025-11-30T20:00:00Z
BASE = "http://127.0.0.1:9"
ACME, BEAN, CORK = "17841400000000001", "17841400000000002", "17841400000000003"
AGENCY = "EAA-system-user"  # an agency's system user: a role on two Pages
PAGE_TOKEN = "EAAP-104001"


def world() -> Scenario:
    return parse_scenario(
        {
            "seed": 5,
            "apps": [{"name": "agency", "app_id": "3001", "app_secret": "s"}],
            "accounts": [
                {
                    "id": ACME,
                    "followers": 5400,
                    "token": "EAA-acme",
                    "app": "agency",
                    "username": "acme_coffee",
                    "name": "Acme Coffee",
                    "biography": "Roasters",
                    "media_count": 321,
                },
                {"id": BEAN, "followers": 800, "token": "EAA-bean", "app": "agency"},
                {"id": CORK, "followers": 90, "token": "EAA-cork", "app": "agency"},
            ],
            "tokens": [{"token": AGENCY, "app": "agency", "pages": ["104001", "104002"]}],
            "pages": [
                {"id": "104001", "name": "Acme page", "account": ACME, "access_token": PAGE_TOKEN},
                {"id": "104002", "name": "Bean page", "account": BEAN},
                {"id": "104003", "name": "Cork page", "account": CORK},
                {"id": "104009", "name": "No IG page"},
            ],
        },
        "test_nodes",
    )


WORLD = world()


def get(node: str, token: str | None, **params: str) -> EdgeAnswer:
    full = dict(params)
    if token is not None:
        full["access_token"] = token
    return answer_node(WORLD, EdgeRequest("v21.0", node, full, None, BASE), node, NOW)


def error(answer: EdgeAnswer) -> tuple[int, int, int | None, str]:
    e = answer.body["error"]
    return answer.status, e["code"], e.get("error_subcode"), e["message"]


def test_page_node_gives_its_instagram_business_account() -> None:
    """GET /{page-id}?fields=instagram_business_account (Airbyte's check) gives the IG id."""
    answer = get("104001", AGENCY, fields="instagram_business_account")
    assert answer.status == 200
    assert answer.body == {"instagram_business_account": {"id": ACME}, "id": "104001"}


def test_page_node_defaults_to_id_and_name() -> None:
    """Without fields a Page answers id and name, as Meta's defaults."""
    assert get("104002", AGENCY).body == {"name": "Bean page", "id": "104002"}


def test_page_node_expands_subfields_and_shows_its_token() -> None:
    """instagram_business_account{...} expands IG fields; access_token is the Page token."""
    answer = get(
        "104001", AGENCY, fields="id,name,access_token,instagram_business_account{username}"
    )
    assert answer.body == {
        "name": "Acme page",
        "access_token": PAGE_TOKEN,
        "instagram_business_account": {"username": "acme_coffee", "id": ACME},
        "id": "104001",
    }


def test_page_without_ig_account_omits_the_field() -> None:
    """A Page with no linked IG account answers without instagram_business_account."""
    lonely = parse_scenario(
        {
            "seed": 5,
            "apps": [{"name": "agency", "app_id": "3001", "app_secret": "s"}],
            "accounts": [{"id": ACME, "followers": 5400, "token": "EAA-acme", "app": "agency"}],
            "tokens": [{"token": AGENCY, "app": "agency", "pages": ["104009"]}],
            "pages": [{"id": "104009", "name": "No IG page"}],
        },
        "test_nodes",
    )
    params = {"access_token": AGENCY, "fields": "instagram_business_account"}
    req = EdgeRequest("v21.0", "104009", params, None, BASE)
    assert answer_node(lonely, req, "104009", NOW).body == {"id": "104009"}


@pytest.mark.parametrize(
    ("node", "token"),
    [
        ("104003", AGENCY),  # a Page the system user has no role on
        ("104002", PAGE_TOKEN),  # a Page token sees its own Page only
        ("104001", "EAA-bean"),  # another account's user token
        ("999999", AGENCY),  # no such node
    ],
)
def test_node_the_token_may_not_see_is_unsupported_get(node: str, token: str) -> None:
    """Unseen and absent nodes get the same code 100 / subcode 33 answer (ids cannot be probed)."""
    status, code, subcode, message = error(get(node, token, fields="id"))
    assert (status, code, subcode) == (400, 100, 33)
    assert message.startswith(f"Unsupported get request. Object with ID '{node}' does not exist")


def test_page_node_refuses_an_unknown_field() -> None:
    """A field a Page lacks is '(#100) Tried accessing nonexisting field (x) on node type (Page)'."""
    assert error(get("104001", AGENCY, fields="id,followers_count")) == (
        400,
        100,
        None,
        "(#100) Tried accessing nonexisting field (followers_count) on node type (Page)",
    )
    assert (
        "node type (IGUser)"
        in error(get("104001", AGENCY, fields="instagram_business_account{fans}"))[3]
    )


TAP_FIELDS = "id,ig_id,name,username,biography,followers_count,media_count"


def test_ig_user_node_answers_tap_instagram_fields() -> None:
    """GET /{ig-user-id}?fields=id,ig_id,name,... (tap-instagram) answers each field asked."""
    answer = get(ACME, AGENCY, fields=TAP_FIELDS)
    assert answer.status == 200
    profile = ig_profile(WORLD, WORLD.accounts[0])
    assert answer.body == {k: profile[k] for k in TAP_FIELDS.split(",")}
    assert answer.body["name"] == "Acme Coffee" and answer.body["media_count"] == 321
    assert answer.body["followers_count"] == 5400 and isinstance(answer.body["ig_id"], int)


def test_ig_user_node_serves_every_documented_field() -> None:
    """All ten IG User fields of the reference are served, deterministically."""
    answer = get(ACME, "EAA-acme", fields=",".join(IG_FIELDS))
    assert set(answer.body) == set(IG_FIELDS)
    assert get(ACME, "EAA-acme", fields=",".join(IG_FIELDS)).body == answer.body


def test_ig_user_node_defaults_to_id() -> None:
    """Without fields the IG User node answers its id only."""
    assert get(BEAN, AGENCY).body == {"id": BEAN}


def test_ig_user_node_refuses_an_unknown_field() -> None:
    """A field the IG User lacks is code 100 naming the field and IGUser."""
    assert error(get(ACME, AGENCY, fields="id,fan_count")) == (
        400,
        100,
        None,
        "(#100) Tried accessing nonexisting field (fan_count) on node type (IGUser)",
    )


def test_ig_user_node_through_page_token_and_refused_elsewhere() -> None:
    """The Page token reads its linked IG account; the agency token cannot read an unlinked one."""
    assert get(ACME, PAGE_TOKEN, fields="username").body == {"username": "acme_coffee", "id": ACME}
    assert error(get(CORK, AGENCY, fields="id"))[:3] == (400, 100, 33)


def test_node_without_token_is_104() -> None:
    """A node read without a token is Meta's code 104."""
    assert error(get(ACME, None))[:2] == (400, 104)


def _accounts(token: str, **params: str) -> EdgeAnswer:
    full = {"access_token": token, **params}
    req = EdgeRequest("v21.0", "me", full, None, BASE)
    return me_accounts(WORLD, req, "/v21.0/me/accounts", NOW)


def test_me_accounts_summary_has_the_total_count() -> None:
    """summary=true (facebook-business's Cursor) adds summary.total_count, every page."""
    first = _accounts(AGENCY, summary="true", limit="1", fields="instagram_business_account")
    assert first.body["summary"] == {"total_count": 2}
    assert first.body["data"] == [{"instagram_business_account": {"id": ACME}, "id": "104001"}]
    nxt = parse_qs(urlsplit(first.body["paging"]["next"]).query)
    assert nxt["access_token"] == [AGENCY] and nxt["summary"] == ["true"]
    second = _accounts(AGENCY, **{k: v[0] for k, v in nxt.items()})
    assert second.body["summary"] == {"total_count": 2}
    assert [p["id"] for p in second.body["data"]] == ["104002"]
    assert "next" not in second.body["paging"]


def test_me_accounts_without_summary_has_none() -> None:
    """Without summary=true the answer has no summary."""
    assert "summary" not in _accounts(AGENCY).body
