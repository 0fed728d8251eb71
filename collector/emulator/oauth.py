"""Token exchange and refresh (SPEC 8): Facebook Login's and Instagram Login's.

- ``GET graph.facebook.com/oauth/access_token?grant_type=fb_exchange_token&client_id
  &client_secret&fb_exchange_token`` trades a user token of the app for a long-lived
  one. Source: Meta, "Long-Lived Access Tokens" (Facebook Login docs): the answer is
  ``{"access_token", "token_type": "bearer", "expires_in"}``, about 60 days.
- ``GET graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret
  &access_token`` trades a short-lived Instagram User token for a 60-day one, and
  ``GET graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token
  &access_token`` renews a token "at least 24 hours old but not expired" for 60 days
  from the refresh. Source: Meta, "Instagram API with Instagram Login", Business Login
  and the ``refresh_access_token`` reference; the same shape of answer.

Each success mints a new token, derived from the seed, the old token and the time, so
the same scenario and clock give the same bytes. The old token stays valid until its
own expiry: Meta documents no revocation on refresh. Error answers follow the Graph
error reference where it has them: an unknown ``client_id`` is code 101 "Error
validating application. Invalid application ID.", a wrong secret code 1 "Error
validating client secret.", an unknown token 190, an expired one 190/463. Where Meta
publishes no wording (a wrong ``grant_type``, a token refreshed before it is 24 hours
old), the emulator answers code 100 with its own plain message; a client should branch
on the code only.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from collector.emulator.edge import (
    EdgeAnswer,
    EdgeRequest,
    expired_token,
    graph_error,
    token_of,
)
from collector.emulator.scenario import Scenario, TokenInfo

LONG_LIVED_S = 5_184_000  # SPEC 8: "expires_in ~5,184,000" (60 days)
REFRESH_MIN_AGE_S = 86_400  # Meta: "at least 24 hours old"
INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"

Minted = tuple[EdgeAnswer, TokenInfo | None]


def exchange(scenario: Scenario, req: EdgeRequest, now: float, *, refresh: bool) -> Minted:
    """The answer to a token exchange (``refresh``: a refresh) and the token it mints.

    ``req.host`` says which endpoint was called: ``facebook`` is ``oauth/access_token``,
    ``instagram`` is ``access_token`` or, with ``refresh``, ``refresh_access_token``.
    """
    params = req.params
    if req.host == "facebook":
        return _fb_exchange(scenario, params, now)
    if refresh:
        return _ig_refresh(scenario, token_of(req), params, now)
    return _ig_exchange(scenario, token_of(req), params, now)


def _fb_exchange(scenario: Scenario, params: Any, now: float) -> Minted:
    if params.get("grant_type") != "fb_exchange_token":
        return _bad_grant("fb_exchange_token")
    app = next((a for a in scenario.apps if a.app_id == params.get("client_id")), None)
    if app is None or app.login != "facebook":
        return graph_error(101, "Error validating application. Invalid application ID."), None
    if params.get("client_secret") != app.app_secret:
        return graph_error(1, "Error validating client secret.", status=400), None
    info = _usable(scenario, params.get("fb_exchange_token"), now)
    if isinstance(info, EdgeAnswer):
        return info, None
    if info.app != app.name or info.kind != "USER":
        return graph_error(190, INVALID_TOKEN), None
    return _mint(scenario, info, now, "EAAL")


def _ig_exchange(scenario: Scenario, token: str | None, params: Any, now: float) -> Minted:
    if params.get("grant_type") != "ig_exchange_token":
        return _bad_grant("ig_exchange_token")
    info = _instagram_token(scenario, token, now)
    if isinstance(info, EdgeAnswer):
        return info, None
    if params.get("client_secret") != scenario.app(info.app).app_secret:
        return graph_error(1, "Error validating client secret.", status=400), None
    return _mint(scenario, info, now, "IGAL")


def _ig_refresh(scenario: Scenario, token: str | None, params: Any, now: float) -> Minted:
    if params.get("grant_type") != "ig_refresh_token":
        return _bad_grant("ig_refresh_token")
    info = _instagram_token(scenario, token, now)
    if isinstance(info, EdgeAnswer):
        return info, None
    if now - info.issued_at < REFRESH_MIN_AGE_S:
        message = "(#100) The access token is less than 24 hours old and cannot be refreshed yet"
        return graph_error(100, message), None
    return _mint(scenario, info, now, "IGAR")


def _instagram_token(scenario: Scenario, token: str | None, now: float) -> TokenInfo | EdgeAnswer:
    if not token:
        return graph_error(104, "An access token is required to request this resource.")
    info = _usable(scenario, token, now)
    if isinstance(info, TokenInfo) and scenario.app(info.app).login != "instagram":
        return graph_error(190, INVALID_TOKEN)
    return info


def _usable(scenario: Scenario, token: str | None, now: float) -> TokenInfo | EdgeAnswer:
    info = scenario.token_info(token) if token else None
    if info is None:
        return graph_error(190, INVALID_TOKEN)
    if info.expires_at != 0 and info.expires_at <= now:
        return expired_token(info.expires_at, now)
    return info


def _bad_grant(expected: str) -> Minted:
    return graph_error(100, f"(#100) grant_type must be {expected}"), None


def _mint(scenario: Scenario, info: TokenInfo, now: float, prefix: str) -> Minted:
    seed = f"{scenario.seed}|{info.token}|{now:.3f}|{prefix}".encode()
    token = prefix + hashlib.blake2b(seed, digest_size=18).hexdigest()
    minted = replace(
        info,
        token=token,
        expires_at=now + LONG_LIVED_S,
        issued_at=now,
        user_id=info.user_id,
    )
    body = {"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_S}
    return EdgeAnswer(200, body), minted
