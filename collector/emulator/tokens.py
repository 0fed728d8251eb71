"""Token endpoints (SPEC 8): ``GET /debug_token`` and ``GET /me/accounts``.

``debug_token`` inspects ``input_token`` for a caller who proves to be an app
with the app access token ``APP_ID|APP_SECRET``. ``me/accounts`` lists the
Facebook Pages the user token has a role on (:mod:`collector.emulator.directory`),
paged with ``limit`` and opaque cursors; ``paging.next`` carries the
``access_token`` as Meta's does, and ``summary=true`` adds ``summary.total_count``.
A Page token's ``/me`` is its Page, which has no ``accounts`` edge (code 100).

Emulator choices where Meta documents nothing:

- An account with no declared ``[[pages]]`` entry is reached through an implied
  Page: id ``"1" + the account id's last 14 digits``, name ``"<username> page"``.
- Pages whose linked account's access was revoked (``revoked_at``) are not listed.
- ``data_access_expires_at`` equals ``expires_at`` (0: never).
- Neither endpoint counts against the insights rate limits or draws faults.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from collector.emulator.directory import directory
from collector.emulator.edge import EdgeAnswer, EdgeRequest, graph_error, token_of
from collector.emulator.nodes import check_fields, nonexisting_field, parse_fields, render_page
from collector.emulator.scenario import App, Scenario, TokenInfo

__all__ = ["debug_token", "me_accounts", "parse_fields"]

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
CANNOT_PARSE = "Invalid OAuth access token - Cannot parse access token"
BAD_SIGNATURE = "Invalid OAuth access token signature."
NO_ACTIVE_TOKEN = "An active access token must be used to query information about the current user."


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
        "type": info.kind,
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
    if info.kind == "PAGE":
        # A Page token's /me is the Page, which has no accounts edge.
        return nonexisting_field("accounts", "Page")
    if scenario.app(info.app).login != "facebook":
        return graph_error(190, CANNOT_PARSE)  # an Instagram Login token (see edge.check_token)
    if "pages_show_list" not in info.scopes:
        # Meta's answer to a user token without the permission, as recorded by clients that
        # branch on it (e.g. "(#200) Requires pages_show_list permission to manage the
        # object" in onboarding tests of Meta-connected apps); code 200, a permission error.
        return graph_error(200, "(#200) Requires pages_show_list permission to manage the object")
    fields = check_fields(req.params.get("fields"), {"id": None, "name": None})
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
    listed = directory(scenario).pages_listed(token, now)
    chosen = listed[start : start + limit]
    body: dict[str, Any] = {"data": [render_page(scenario, p, fields) for p in chosen]}
    if chosen:
        paging: dict[str, Any] = {
            "cursors": {"before": _cursor(start), "after": _cursor(start + len(chosen) - 1)}
        }
        if start + len(chosen) < len(listed):
            # As Meta's: the link repeats the request, access_token included (SPEC 3).
            query = {k: v for k, v in req.params.items() if k not in ("after", "access_token")}
            query["access_token"] = token
            query["after"] = paging["cursors"]["after"]
            paging["next"] = f"{req.base_url}{path}?{urlencode(query)}"
        body["paging"] = paging
    if req.params.get("summary", "").lower() in ("true", "1", "total_count"):
        # facebook-business's Cursor asks summary=true and reads summary.total_count
        # (facebook_business/api.py, Cursor.total()); the Graph API reference of the
        # User accounts edge lists summary.total_count.
        body["summary"] = {"total_count": len(listed)}
    return EdgeAnswer(200, body)
