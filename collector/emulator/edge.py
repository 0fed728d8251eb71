"""The IG User Insights edge, as pure functions of (scenario, request, now).

The HTTP server (``collector.emulator.server``) calls :func:`authenticate` and then
:func:`collector.emulator.answers.answer_insights`; both return plain data, so every rule of SPEC sections 1-5
is testable without a socket. :func:`graph_error` builds Meta's error body for any
code and is shared with the server's rate-limit and fault answers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collector.emulator import pacific
from collector.emulator.directory import directory
from collector.emulator.scenario import Account, App, Scenario, TokenInfo

PROOF_TTL_S = 300  # SPEC 1: a proof signed with appsecret_time expires after 5 minutes
REQUIRED_SCOPES: tuple[str, ...] = ("instagram_basic", "instagram_manage_insights")


@dataclass(frozen=True)
class EdgeRequest:
    """One insights request as the server received it (values are raw strings).

    ``path`` is the path as sent (a batch item's ``relative_url`` path), for the call log.
    """

    version: str
    ig_user_id: str
    params: Mapping[str, str]
    authorization: str | None
    base_url: str
    path: str = ""
    host: str = "facebook"  # "instagram": sent to graph.instagram.com (the server's prefix)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its token, the token's app, the IG user addressed."""

    token: str
    app: App
    account: Account


@dataclass(frozen=True)
class EdgeAnswer:
    """An HTTP status and the JSON body to send."""

    status: int
    body: dict[str, Any]


_trace_counter = itertools.count(1)


def _status_for(code: int) -> int:
    # SPEC 5 (observed): 500 for #1/#2, 403 for #4, 400 for everything else.
    if code in (1, 2):
        return 500
    if code == 4:
        return 403
    return 400


def graph_error(
    code: int,
    message: str,
    *,
    status: int | None = None,
    subcode: int | None = None,
    type_: str = "OAuthException",
    is_transient: bool | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> EdgeAnswer:
    """Meta's error body (SPEC 5) with a deterministic ``fbtrace_id``.

    ``status`` defaults by code (500 for 1/2, 403 for 4, else 400). Optional fields
    appear only when given. The trace id is a hash of a per-process call counter and
    the error, so a fresh process gives the same ids for the same sequence of errors.
    """
    serial = next(_trace_counter)
    digest = hashlib.blake2b(f"{serial}|{code}|{message}".encode(), digest_size=17).hexdigest()
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + digest[:22]
    return EdgeAnswer(status if status is not None else _status_for(code), {"error": error})


def expired_token(expires_at: float, now: float) -> EdgeAnswer:
    """Meta's answer to a token that expired at ``expires_at`` (190, subcode 463)."""
    return graph_error(
        190,
        "Error validating access token: Session has expired on "
        f"{pacific.pacific_text(expires_at)}. The current time is "
        f"{pacific.pacific_text(now)}.",
        subcode=463,
    )


def token_of(req: EdgeRequest) -> str | None:
    """The access token: the ``access_token`` parameter, else ``Authorization: Bearer|OAuth X``."""
    token = req.params.get("access_token")
    if token:
        return token
    if req.authorization:
        scheme, _, value = req.authorization.strip().partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
    return None


def proof_for(app_secret: str, token: str, appsecret_time: str | None = None) -> str:
    """``appsecret_proof``: hex HMAC-SHA256 keyed by the app secret of the token, or of
    ``token|appsecret_time`` in the newer, time-limited form (SPEC 1)."""
    message = token if appsecret_time is None else f"{token}|{appsecret_time}"
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _proof_error(app: App, token: str, params: Mapping[str, str], now: float) -> EdgeAnswer | None:
    proof = params.get("appsecret_proof")
    if not proof:
        if app.require_proof:
            return graph_error(100, "API calls from the server require an appsecret_proof argument")
        return None
    invalid = graph_error(100, "Invalid appsecret_proof provided in the API argument")
    signed_at = params.get("appsecret_time")
    if signed_at is None:
        expected = proof_for(app.app_secret, token)
    else:
        if not signed_at.isdigit():
            return invalid
        age = now - int(signed_at)
        if age > PROOF_TTL_S or age < -PROOF_TTL_S:
            return graph_error(
                100,
                "The appsecret_proof has expired: appsecret_time is more "
                "than 5 minutes away from the server time",
            )
        expected = proof_for(app.app_secret, token, signed_at)
    if not hmac.compare_digest(proof.lower().encode(), expected.encode()):
        return invalid
    return None


def unsupported_get(object_id: str) -> EdgeAnswer:
    """Meta's answer for an object that does not exist or that the token may not see
    (Graph API error reference: code 100, subcode 33, GraphMethodException)."""
    return graph_error(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. Please "
        "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type_="GraphMethodException",
    )


@dataclass(frozen=True)
class Bearer:
    """A token that passed :func:`check_token`: the token, its facts and its app."""

    token: str
    info: TokenInfo
    app: App


def check_token(scenario: Scenario, req: EdgeRequest, now: float) -> Bearer | EdgeAnswer:
    """Token present (104) -> known (190) -> not expired (190/463) -> its app's login
    matches the host (190) -> appsecret_proof (100)."""
    token = token_of(req)
    if token is None:
        return graph_error(104, "An access token is required to request this resource.")
    info = directory(scenario).token_info(token)
    if info is None:
        return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
    if info.expires_at != 0 and info.expires_at <= now:
        return expired_token(info.expires_at, now)
    app = scenario.app(info.app)
    if app.login != req.host:
        # Instagram API with Instagram Login: its user tokens work on graph.instagram.com
        # and Facebook Login tokens do not (Meta, "Instagram API with Instagram Login",
        # Overview: "host URL graph.instagram.com"); the emulator refuses either on the
        # other host as an unreadable token, the answer a foreign token gets.
        return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
    refused = _proof_error(app, token, req.params, now)
    if refused is not None:
        return refused
    return Bearer(token, info, app)


def authenticate(scenario: Scenario, req: EdgeRequest, now: float) -> Caller | EdgeAnswer:
    """Check token, expiry, appsecret_proof, the IG user and the token's access to it.

    Order: :func:`check_token` -> IG user exists (100/33) -> access, scopes, not
    revoked (10). Access follows :mod:`collector.emulator.directory` (own token, same
    user, a user token with a role on the account's Page, or that Page's token).
    """
    bearer = check_token(scenario, req, now)
    if isinstance(bearer, EdgeAnswer):
        return bearer
    people = directory(scenario)
    account = people.account(req.ig_user_id)
    if account is None:
        return unsupported_get(req.ig_user_id)
    revoked = account.revoked_at is not None and account.revoked_at <= now
    scoped = all(scope in bearer.info.scopes for scope in REQUIRED_SCOPES)
    if revoked or not scoped or not people.sees_account(bearer.token, account):
        return graph_error(10, "(#10) Application does not have permission for this action")
    return Caller(token=bearer.token, app=bearer.app, account=account)
