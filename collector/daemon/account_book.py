"""The daemon's per-account bookkeeping: when each account was last refreshed, and dead tokens.

Three times per account, wall-clock unix seconds (absent: never):

- ``refreshed``: when its last refresh *attempt* started (the schedule counts
  from it, so a failing account does not loop);
- ``fresh``: when its last fully successful refresh started (the data lag);
- ``lifetime``: when its last lifetime snapshot started.

A restart picks them up from the SQLite ledger (:meth:`AccountBook.load`).
Dead tokens are kept as fingerprints: an account is paused while its token is
dead, and a reload that gives it another token un-pauses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.config.load import AccountConfig
from collector.daemon.tokens import Health, TokenVerdict
from collector.logs import token_fingerprint
from collector.planning.schedule import lags
from collector.storage.sqlite import AccountFreshness


def unix_time(text: str | None) -> float | None:
    """RFC 3339 UTC text (the store's times) as unix seconds; ``None`` stays ``None``."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class AccountBook:
    """Mutable schedule state of the daemon's accounts."""

    refreshed: dict[str, float] = field(default_factory=dict)
    fresh: dict[str, float] = field(default_factory=dict)
    lifetime: dict[str, float] = field(default_factory=dict)
    dead_tokens: set[str] = field(default_factory=set)  # fingerprints
    expiries: dict[str, float] = field(default_factory=dict)  # fingerprint -> unix s (inf: never)

    def load(self, rows: Iterable[AccountFreshness]) -> None:
        """Start from what the ledger says (replacing any times held)."""
        self.refreshed, self.fresh, self.lifetime = {}, {}, {}
        for row in rows:
            refreshed = unix_time(row.last_refresh)
            if refreshed is not None:
                self.refreshed[row.account_id] = self.fresh[row.account_id] = refreshed
            lifetime = unix_time(row.last_lifetime)
            if lifetime is not None:
                self.lifetime[row.account_id] = lifetime

    def record_run(
        self,
        started: float,
        *,
        refresh: Iterable[str],
        lifetime: Iterable[str],
        succeeded: Iterable[str],
    ) -> None:
        """A refresh run that started at ``started`` attempted and (partly) succeeded."""
        for account in refresh:
            self.refreshed[account] = started
        for account in lifetime:
            self.lifetime[account] = started
        for account in succeeded:
            self.fresh[account] = started

    def keep_only(self, accounts: Sequence[AccountConfig]) -> None:
        """Forget accounts no longer configured and tokens no longer used."""
        ids = {a.id for a in accounts}
        for table in (self.refreshed, self.fresh, self.lifetime):
            for account in [a for a in table if a not in ids]:
                del table[account]
        self.dead_tokens &= {token_fingerprint(a.token) for a in accounts}
        for gone in set(self.expiries) - {token_fingerprint(a.token) for a in accounts}:
            del self.expiries[gone]

    def apply_verdicts(self, verdicts: Iterable[TokenVerdict]) -> None:
        """Tokens found invalid die; tokens found valid (again) live; unchecked stay as they were."""
        for verdict in verdicts:
            if verdict.expires_at is not None:  # 0: Meta's "never"
                self.expiries[verdict.fingerprint] = verdict.expires_at or float("inf")
            if verdict.health is Health.INVALID:
                self.dead_tokens.add(verdict.fingerprint)
            elif verdict.health in (Health.VALID, Health.EXPIRING):
                self.dead_tokens.discard(verdict.fingerprint)

    def mark_dead(self, tokens: Iterable[str]) -> bool:
        """Tokens that answered code 190 in a run; whether any was not known dead."""
        before = len(self.dead_tokens)
        self.dead_tokens.update(token_fingerprint(t) for t in tokens)
        return len(self.dead_tokens) != before

    def paused(self, accounts: Sequence[AccountConfig]) -> list[str]:
        """Ids of the accounts whose token is dead."""
        return [a.id for a in accounts if token_fingerprint(a.token) in self.dead_tokens]

    def lags(self, accounts: Iterable[str], now: float, since: float) -> list[float]:
        """Seconds since each account's last successful refresh (``since`` when never)."""
        return lags(accounts, self.fresh, now, since)


def dead_tokens(failed_accounts: Mapping[str, str], accounts: Iterable[AccountConfig]) -> list[str]:
    """The tokens of the accounts a run failed with ``token_invalid`` (code 190)."""
    tokens = {a.id: a.token for a in accounts}
    return [
        tokens[a] for a, why in failed_accounts.items() if why == "token_invalid" and a in tokens
    ]
