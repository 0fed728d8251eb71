"""Keeping Instagram Login tokens alive: ``GET graph.instagram.com/refresh_access_token``.

Meta (SPEC 8): a long-lived Instagram User token lasts 60 days and can be refreshed
once it is at least 24 hours old and still valid; the refresh gives a token valid for
another 60 days. There is no ``debug_token`` for these tokens, so the daemon learns a
token's life from the refresh itself: it refreshes every Instagram Login token held in
a ``file:`` reference when it starts, then again when half the new token's life has
passed (:func:`next_refresh`), well before the end. A refused refresh (too young, a
network failure) is tried again an hour later; an expired or revoked token is
reported (``token_refresh_failed``, error) and left to the daily token check.

The new token is written atomically to its file (0600,
:func:`collector.config.secret_files.write_secret`); the daemon then reloads its config
through the ordinary reload path, so every account on that file sends the new token.
Logs carry fingerprints (``collector.logs.token_fingerprint``) and dates, never a token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from collector.config.load import AccountConfig, AppConfig
from collector.config.secret_files import write_secret
from collector.errors import GraphError
from collector.graph.transport import GraphRequest, Transport, checked_body
from collector.logs import REDACTOR, token_fingerprint

log = structlog.get_logger("collector.daemon.ig_tokens")

MIN_AGE_S = 86_400.0  # Meta: refreshable once 24 hours old
RETRY_S = 3_600.0


def next_refresh(now: float, expires_in: float) -> float:
    """When to refresh a token just issued for ``expires_in`` seconds (pure).

    Halfway through its life, and never before Meta allows it (24 hours).
    """
    return now + max(MIN_AGE_S, expires_in / 2)


class InstagramRefresher:
    """Which Instagram Login token files are due, and refreshing those that are."""

    def __init__(self) -> None:
        self._due: dict[Path, float] = {}  # token file -> when to refresh it next

    async def refresh_due(
        self,
        accounts: Sequence[AccountConfig],
        apps: Sequence[AppConfig],
        wire: Callable[[str], Transport],
        now: float,
    ) -> int:
        """Refresh every due token file of an Instagram Login app; how many were rewritten."""
        instagram = {app.name: app for app in apps if app.login == "instagram"}
        files: dict[Path, tuple[str, AppConfig]] = {}
        for account in accounts:
            if account.app in instagram and account.token_file is not None:
                files.setdefault(account.token_file, (account.token, instagram[account.app]))
        written = 0
        for path, (token, app) in files.items():
            if self._due.get(path, 0.0) <= now:
                written += await self._refresh(path, token, app, wire(app.name), now)
        return written

    async def _refresh(
        self, path: Path, token: str, app: AppConfig, transport: Transport, now: float
    ) -> int:
        request = GraphRequest(
            "refresh_access_token",
            (("grant_type", "ig_refresh_token"),),
            token,
            version=app.api_version,
            base_url=app.base_url,
        )
        old = token_fingerprint(token)
        try:
            body = checked_body(await transport.send(request))
            new, lifetime = body.get("access_token"), body.get("expires_in")
            if not isinstance(new, str) or not isinstance(lifetime, int | float):
                raise ValueError("the answer holds no access_token and expires_in")
            REDACTOR.add([new])
            write_secret(path, new)
        except (GraphError, ValueError, OSError) as error:
            self._due[path] = now + RETRY_S
            reason = getattr(error, "reason", type(error).__name__)
            log.warning("token_refresh_failed", token=old, app=app.name, detail=reason)
            return 0
        self._due[path] = next_refresh(now, float(lifetime))
        expires = dt.datetime.fromtimestamp(now + lifetime, dt.UTC).isoformat()
        log.info(
            "token_refreshed",
            token=token_fingerprint(new),
            previous=old,
            app=app.name,
            expires_at=expires,
        )
        return 1
