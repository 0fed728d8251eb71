"""Graph nodes onboarding reads: ``GET /{page-id}``, ``GET /{ig-user-id}`` and ``GET /me``.

Sources: the Page reference (fields ``id``, ``name``, ``access_token``,
``instagram_business_account``); the IG User reference (fields ``id``, ``ig_id``,
``username``, ``name``, ``biography``, ``followers_count``, ``follows_count``,
``media_count``, ``profile_picture_url``, ``website``). Airbyte source-instagram 4.x
reads ``/{page-id}/?fields=instagram_business_account`` in ``check`` (through
facebook-business) and ``/{ig-user-id}?fields=id,biography,ig_id,...`` in its ``users``
stream; tap-instagram 0.4.6 reads ``/{ig-user-id}?fields=id,ig_id,name,...`` unversioned.

Answers (Graph API error reference for the errors):

- no ``fields``: Page ``id``, ``name``; IG User ``id`` (Meta's defaults);
- ``fields=a,b{c,d}``: the fields asked for, ``id`` always; a subfield list applies
  to ``instagram_business_account``; a field the node type lacks is
  ``(#100) Tried accessing nonexisting field (x) on node type (Page|IGUser)``;
- a node that does not exist or that the token may not see (:mod:`.directory`):
  code 100, subcode 33 "Unsupported get request" (the same answer for both, as Meta
  gives, so ids cannot be probed);
- ``/me``: for a user token ``id`` and ``name`` of its user; for a Page token, its Page.

The profile values not in the scenario are derived from the seed (``ig_id``,
``follows_count``, ``media_count``) or the username (``name``, ``biography``,
``website``, ``profile_picture_url``); :func:`ig_profile` is their single source.
Node reads are not counted against the insights limits and draw no faults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.emulator import data
from collector.emulator.directory import directory
from collector.emulator.edge import (
    EdgeAnswer,
    EdgeRequest,
    check_token,
    graph_error,
    unsupported_get,
)
from collector.emulator.scenario import Account, Page, Scenario

PAGE_FIELDS = ("id", "name", "access_token", "instagram_business_account")
IG_FIELDS = (
    "id",
    "ig_id",
    "username",
    "name",
    "biography",
    "followers_count",
    "follows_count",
    "media_count",
    "profile_picture_url",
    "website",
)
Fields = dict[str, tuple[str, ...] | None]


def parse_fields(text: str) -> Fields:
    """Parse a Graph ``fields`` value: ``a,b{c,d}`` -> ``{"a": None, "b": ("c", "d")}``.

    Raises ``ValueError`` on unbalanced braces, nesting deeper than one level or
    an empty name.
    """
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth not in (0, 1):
            raise ValueError(text)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise ValueError(text)
    parts.append("".join(current))
    out: Fields = {}
    for part in parts:
        name, brace, rest = part.strip().partition("{")
        name = name.strip()
        if not name.isidentifier() or (brace and not rest.endswith("}")):
            raise ValueError(text)
        out[name] = tuple(f.strip() for f in rest[:-1].split(",") if f.strip()) if brace else None
    return out


def nonexisting_field(name: str, node_type: str) -> EdgeAnswer:
    return graph_error(
        100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})"
    )


def check_fields(text: str | None, default: Fields) -> Fields | EdgeAnswer:
    """``fields`` of a Page read (listing or node): parsed and checked, or Meta's error."""
    if not text:
        return default
    try:
        fields = parse_fields(text)
    except ValueError:
        return graph_error(100, f"(#100) Syntax error in fields: {text}")
    for name, sub in fields.items():
        if name not in PAGE_FIELDS:
            return nonexisting_field(name, "Page")
        for subname in sub or ():
            if subname not in IG_FIELDS:
                return nonexisting_field(subname, "IGUser")
    return fields


def ig_profile(scenario: Scenario, account: Account) -> dict[str, Any]:
    """Every IG User field of ``account``, in IG_FIELDS order (the ground truth)."""
    seed = scenario.seed
    username = account.username or f"account_{account.id[-6:]}"
    ig_id = account.ig_id
    if ig_id is None:
        ig_id = 1_000_000_000 + int(data.unit(seed, account.id, "ig_id") * 8_999_999_999)
    follows = account.follows_count
    if follows is None:
        follows = 50 + int(data.unit(seed, account.id, "follows_count") * 1950)
    media = account.media_count
    if media is None:
        media = 10 + int(data.unit(seed, account.id, "media_count") * 990)
    return {
        "id": account.id,
        "ig_id": ig_id,
        "username": username,
        "name": account.name or username.replace("_", " ").title(),
        "biography": account.biography or f"Insights of {username}, served by the emulator",
        "followers_count": account.followers,
        "follows_count": follows,
        "media_count": media,
        "profile_picture_url": (
            f"https://scontent.cdninstagram.com/v/t51.2885-19/{account.id}_n.jpg?ccb=7-5"
        ),
        "website": account.website or f"https://example.com/{username}",
    }


def render_ig(scenario: Scenario, account: Account, wanted: tuple[str, ...]) -> dict[str, Any]:
    """The IG User fields in ``wanted`` (already checked), ``id`` always."""
    profile = ig_profile(scenario, account)
    body = {k: profile[k] for k in IG_FIELDS if k in wanted and k != "id"}
    body["id"] = account.id
    return body


def render_page(scenario: Scenario, page: Page, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The Page fields in ``fields`` (already checked), ``id`` last as Meta writes it.

    ``instagram_business_account`` is left out for a Page with no linked account and
    ``access_token`` for a Page that has no token (Meta omits absent values).
    """
    body: dict[str, Any] = {}
    if "name" in fields:
        body["name"] = page.name
    if "access_token" in fields and page.access_token is not None:
        body["access_token"] = page.access_token
    if "instagram_business_account" in fields and page.account is not None:
        account = directory(scenario).account(page.account)
        if account is not None:
            wanted = fields["instagram_business_account"] or ("id",)
            body["instagram_business_account"] = render_ig(scenario, account, tuple(wanted))
    body["id"] = page.id
    return body


def _ig_fields(text: str | None) -> tuple[str, ...] | EdgeAnswer:
    if not text:
        return ("id",)
    try:
        fields = parse_fields(text)
    except ValueError:
        return graph_error(100, f"(#100) Syntax error in fields: {text}")
    for name, sub in fields.items():
        if name not in IG_FIELDS or sub is not None:
            return nonexisting_field(name, "IGUser")
    return tuple(fields)


def answer_node(scenario: Scenario, req: EdgeRequest, node_id: str, now: float) -> EdgeAnswer:
    """``GET /{node_id}?fields=...`` as Meta answers it at ``now`` (see the module doc)."""
    bearer = check_token(scenario, req, now)
    if isinstance(bearer, EdgeAnswer):
        return bearer
    people = directory(scenario)
    fields_text = req.params.get("fields")
    if node_id == "me":
        if bearer.info.kind == "PAGE":
            mine = next((p for p in people.pages if p.access_token == bearer.token), None)
            if mine is not None:
                node_id = mine.id
        else:
            return _me(bearer.info.user_id or f"u{bearer.token[-8:]}", fields_text)
    page = people.page(node_id)
    if page is not None:
        if not people.sees_page(bearer.token, page):
            return unsupported_get(node_id)
        fields = check_fields(fields_text, {"id": None, "name": None})
        if isinstance(fields, EdgeAnswer):
            return fields
        return EdgeAnswer(200, render_page(scenario, page, fields))
    account = people.account(node_id)
    revoked = account is not None and account.revoked_at is not None and account.revoked_at <= now
    if account is None or revoked or not people.sees_account(bearer.token, account):
        return unsupported_get(node_id)
    wanted = _ig_fields(fields_text)
    if isinstance(wanted, EdgeAnswer):
        return wanted
    return EdgeAnswer(200, render_ig(scenario, account, wanted))


def _me(user_id: str, fields_text: str | None) -> EdgeAnswer:
    try:
        fields = parse_fields(fields_text) if fields_text else {"id": None, "name": None}
    except ValueError:
        return graph_error(100, f"(#100) Syntax error in fields: {fields_text}")
    values = {"id": user_id, "name": f"User {user_id}"}
    for name in fields:
        if name not in values:
            return nonexisting_field(name, "User")
    return EdgeAnswer(200, {k: values[k] for k in ("name", "id") if k in fields or k == "id"})
