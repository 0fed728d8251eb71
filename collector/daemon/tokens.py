"""Token health: ask ``GET /debug_token`` about every account token (SPEC 8).

The caller proves to be the app with the app access token ``APP_ID|APP_SECRET``,
so a token is checked only when its app has a secret in the config. The
answer's ``data`` says ``is_valid`` and ``expires_at`` (unix seconds, 0:
never). :func:`assess` turns it into a verdict (pure); :func:`check_tokens`
asks for every distinct token, a few at a time, and logs:

- ``token_invalid`` (error) for a token Meta reports invalid or expired;
- ``token_expiring`` (warning) for one expiring within ``warn_days``;
- ``token_check_failed`` (warning) when the check itself could not be made
  (network, an app token Meta refuses); such a token is left as it was.

Tokens appear in logs only as fingerprints (:func:`collector.logs.token_fingerprint`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from collector.config.load import AccountConfig, AppConfig
from collector.errors import GraphError
from collector.graph.transport import GraphRequest, Transport, checked_body
from collector.logs import token_fingerprint
from collector.tasks import all_or_nothing

log = structlog.get_logger("collector.tokens")

_DAY_S = 86_400.0
INSTAGRAM_LOGIN = "instagram login: refreshed, not debugged"
_PARALLEL = 8


class Health(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    INVALID = "invalid"
    UNCHECKED = "unchecked"  # no app secret, or the check failed


@dataclass(frozen=True, slots=True)
class TokenVerdict:
    """What a check found for one token; ``token`` is hidden from ``repr``."""

    token: str = field(repr=False)
    app: str
    accounts: int
    health: Health
    expires_at: float | None = None  # unix seconds; 0: never; None: unknown
    detail: str = ""
    scopes: tuple[str, ...] = ()
    data_access_expires_at: float | None = None  # unix seconds; 0: never; None: unknown

    @property
    def fingerprint(self) -> str:
        return token_fingerprint(self.token)


def assess(data: Mapping[str, Any], now: float, warn_days: float) -> tuple[Health, float | None]:
    """The verdict on one ``debug_token`` ``data`` object at ``now`` (pure).

    Invalid when ``is_valid`` is not true or ``expires_at`` has passed;
    expiring when it falls within ``warn_days`` days; ``expires_at`` 0 never expires.
    """
    raw = data.get("expires_at")
    expires = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if data.get("is_valid") is not True:
        return Health.INVALID, expires
    if expires is None or expires == 0:
        return Health.VALID, expires
    if expires <= now:
        return Health.INVALID, expires
    if expires - now <= warn_days * _DAY_S:
        return Health.EXPIRING, expires
    return Health.VALID, expires


async def check_tokens(
    accounts: Sequence[AccountConfig],
    apps: Sequence[AppConfig],
    wire: Callable[[str], Transport],
    *,
    now: float,
    warn_days: float,
) -> list[TokenVerdict]:
    """Check every distinct account token once; log and return the verdicts.

    ``wire(app)`` is the transport a check for ``app``'s tokens goes through
    (the daemon's: paced by that app's budget, so checks spend the same allowance).
    """
    by_name = {app.name: app for app in apps}
    holders: dict[str, tuple[str, int]] = {}  # token -> (app, accounts using it)
    for account in accounts:
        app, count = holders.get(account.token, (account.app, 0))
        holders[account.token] = (app, count + 1)
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(token: str, app_name: str, count: int) -> TokenVerdict:
        async with gate:
            return await _check_one(token, by_name[app_name], count, wire(app_name), now, warn_days)

    checks = [one(t, a, n) for t, (a, n) in holders.items()]
    verdicts = await all_or_nothing(checks, name="token-check")  # a TaskGroup
    for verdict in verdicts:
        _log(verdict, now)
    counts = {h.value: sum(1 for v in verdicts if v.health is h) for h in Health}
    log.info("tokens_checked", **counts)
    return verdicts


async def _check_one(
    token: str, app: AppConfig, accounts: int, transport: Transport, now: float, warn_days: float
) -> TokenVerdict:
    if not app.app_secret:
        return TokenVerdict(token, app.name, accounts, Health.UNCHECKED, detail="no app_secret")
    if app.login == "instagram":
        # debug_token is graph.facebook.com's; an Instagram Login token's expiry is known
        # from its exchange or refresh (collector.daemon.ig_tokens keeps it alive).
        return TokenVerdict(token, app.name, accounts, Health.UNCHECKED, detail=INSTAGRAM_LOGIN)
    request = GraphRequest(
        "debug_token", (("input_token", token),), token=f"{app.app_id}|{app.app_secret}"
    )
    try:
        body = checked_body(await transport.send(request))
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return TokenVerdict(token, app.name, accounts, Health.UNCHECKED, detail="no data")
    except GraphError as error:
        return TokenVerdict(
            token, app.name, accounts, Health.UNCHECKED, detail=f"{error.reason}: {error}"
        )
    health, expires = assess(data, now, warn_days)
    detail = ""
    problem = data.get("error")
    if isinstance(problem, dict) and isinstance(problem.get("message"), str):
        detail = problem["message"]
    scopes = data.get("scopes")
    access = data.get("data_access_expires_at")
    return TokenVerdict(
        token,
        app.name,
        accounts,
        health,
        expires,
        detail,
        tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        float(access) if isinstance(access, int | float) else None,
    )


def _log(verdict: TokenVerdict, now: float) -> None:
    fields: dict[str, Any] = {
        "token": verdict.fingerprint,
        "app": verdict.app,
        "accounts": verdict.accounts,
    }
    if verdict.expires_at:
        fields["days_left"] = round((verdict.expires_at - now) / _DAY_S, 1)
    if verdict.health is Health.INVALID:
        log.error("token_invalid", detail=verdict.detail or "is_valid false", **fields)
    elif verdict.health is Health.EXPIRING:
        log.warning("token_expiring", **fields)
    elif verdict.detail and verdict.detail not in ("no app_secret", INSTAGRAM_LOGIN):
        log.warning("token_check_failed", detail=verdict.detail, **fields)
