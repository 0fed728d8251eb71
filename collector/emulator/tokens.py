"""Token endpoints (SPEC 8): ``GET /debug_token`` and ``GET /me/accounts``.

``debug_token`` inspects ``input_token`` for a caller who proves to be an app
with the app access token ``APP_ID|APP_SECRET``. ``me/accounts`` lists the
Facebook Pages (one per Instagram account here) whose Instagram business
account the user token can read, paged with ``limit`` and opaque cursors.

Emulator choices where Meta documents nothing:

- Each account is reached through one Page; its id is ``"1" + the account id's
  last 14 digits`` and its name ``"<username> page"``.
- A token reaches the accounts whose ``token`` it is, until their ``revoked_at``.
- ``data_access_expires_at`` equals ``expires_at`` (0: never).
- Neither endpoint counts against the insights rate limits or draws faults.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from collector.emulator.edge import SECRET_PARAMS, EdgeAnswer, EdgeRequest, graph_error, token_of
from collector.emulator.scenario import Account, App, Scenario, TokenInfo

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
CANNOT_PARSE = "Invalid OAuth access token - Cannot parse access token"
BAD_SIGNATURE = "Invalid OAuth access token signature."
NO_ACTIVE_TOKEN = "An active access token must be used to query information about the current user."

PAGE_FIELDS = ("id", "name", "instagram_business_account")
IG_FIELDS = ("id", "username", "followers_count")


def _expired_message(expires_at: float, now: float) -> str:
    def stamp(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")

    return (
        f"Error validating access token: Session has expired on {stamp(expires_at)}. "
        f"The current time is {stamp(now)}."
    )


def _is_valid(info: TokenInfo, now: float) -> bool:
    return info.expires_at == 0 or now < info.expires_at


def _app_of_app_token(scenario: Scenario, token: str | None) -> App | EdgeAnswer:
    """The app whose ``APP_ID|APP_SECRET`` is ``token``, or a 190 error."""
    if not token or token.count("|") != 1:
        return graph_error(190, CANNOT_PARSE)
    app_id, secret = token.split("|")
    for app in scenario.apps:
        if app.app_id == app_id:
            if app.app_secret == secret:
                return app
            return graph_error(190, BAD_SIGNATURE)
    return graph_error(190, CANNOT_PARSE)


def debug_token(scenario: Scenario, req: EdgeRequest, now: float) -> EdgeAnswer:
    """Inspect ``input_token``; the caller must present a valid app access token."""
    app = _app_of_app_token(scenario, token_of(req))
    if isinstance(app, EdgeAnswer):
        return app
    input_token = req.params.get("input_token")
    if not input_token:
        return graph_error(100, "(#100) The parameter input_token is required")
    info = scenario.token_info(input_token)
    if info is None:
        return EdgeAnswer(
            200,
            {
                "data": {
                    "error": {"code": 190, "message": "Invalid OAuth access token."},
                    "is_valid": False,
                    "scopes": [],
                }
            },
        )
    owner = scenario.app(info.app)
    data: dict[str, Any] = {
        "app_id": owner.app_id,
        "type": "USER",
        "application": owner.name,
        "data_access_expires_at": int(info.expires_at),
        "expires_at": int(info.expires_at),
        "is_valid": _is_valid(info, now),
        "scopes": list(info.scopes),
        "user_id": info.user_id,
    }
    if not data["is_valid"]:
        data["error"] = {
            "code": 190,
            "message": _expired_message(info.expires_at, now),
            "subcode": 463,
        }
    return EdgeAnswer(200, {"data": data})


def parse_fields(text: str) -> dict[str, tuple[str, ...] | None]:
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
    out: dict[str, tuple[str, ...] | None] = {}
    for part in parts:
        name, brace, rest = part.strip().partition("{")
        name = name.strip()
        if not name.isidentifier() or (brace and not rest.endswith("}")):
            raise ValueError(text)
        out[name] = tuple(f.strip() for f in rest[:-1].split(",") if f.strip()) if brace else None
    return out


def page_id(account: Account) -> str:
    """The id of the Page an account is reached through (emulator convention)."""
    return "1" + account.id[-14:]


def _page(account: Account, fields: Mapping[str, tuple[str, ...] | None]) -> dict[str, Any]:
    page: dict[str, Any] = {}
    if "name" in fields:
        page["name"] = f"{account.username or account.id} page"
    if "instagram_business_account" in fields:
        ig_all = {
            "id": account.id,
            "username": account.username or "",
            "followers_count": account.followers,
        }
        wanted = fields["instagram_business_account"] or ("id",)
        page["instagram_business_account"] = {k: ig_all[k] for k in IG_FIELDS if k in wanted}
    page["id"] = page_id(account)
    return page


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not raw.startswith("idx:") or not raw[4:].isdigit():
        return None
    return int(raw[4:])


def _check_fields(req: EdgeRequest) -> dict[str, tuple[str, ...] | None] | EdgeAnswer:
    text = req.params.get("fields")
    if not text:
        return {"id": None, "name": None}
    try:
        fields = parse_fields(text)
    except ValueError:
        return graph_error(100, f"(#100) Syntax error in fields: {text}")
    for name, sub in fields.items():
        if name not in PAGE_FIELDS:
            return graph_error(
                100, f"(#100) Tried accessing nonexisting field ({name}) on node type (Page)"
            )
        for subname in sub or ():
            if subname not in IG_FIELDS:
                return graph_error(
                    100,
                    f"(#100) Tried accessing nonexisting field ({subname}) on node type (IGUser)",
                )
    return fields


def me_accounts(scenario: Scenario, req: EdgeRequest, path: str, now: float) -> EdgeAnswer:
    """The Pages (with IG accounts) the user token reaches, one page of ``limit`` at a time.

    ``path`` is the request path (``/me/accounts`` or ``/v17.0/me/accounts``), used
    to build ``paging.next``.
    """
    token = token_of(req)
    if not token:
        return graph_error(2500, NO_ACTIVE_TOKEN)
    info = scenario.token_info(token)
    if info is None:
        return graph_error(190, CANNOT_PARSE)
    if not _is_valid(info, now):
        return graph_error(190, _expired_message(info.expires_at, now), subcode=463)
    fields = _check_fields(req)
    if isinstance(fields, EdgeAnswer):
        return fields
    try:
        limit = int(req.params.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError:
        return graph_error(100, "(#100) Param limit must be a number")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    start = 0
    after = req.params.get("after")
    if after:
        index = _uncursor(after)
        if index is None:
            return graph_error(100, "(#100) Invalid cursor")
        start = index + 1
    reachable = [
        a
        for a in scenario.accounts
        if a.token == token and (a.revoked_at is None or now < a.revoked_at)
    ]
    chosen = reachable[start : start + limit]
    body: dict[str, Any] = {"data": [_page(a, fields) for a in chosen]}
    if chosen:
        paging: dict[str, Any] = {
            "cursors": {"before": _cursor(start), "after": _cursor(start + len(chosen) - 1)}
        }
        if start + len(chosen) < len(reachable):
            # Like the insights paging URLs, ``next`` carries no secret: the client adds its own.
            query = {k: v for k, v in req.params.items() if k != "after" and k not in SECRET_PARAMS}
            query["after"] = paging["cursors"]["after"]
            paging["next"] = f"{req.base_url}{path}?{urlencode(query)}"
        body["paging"] = paging
    return EdgeAnswer(200, body)
