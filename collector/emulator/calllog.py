"""A log of every call the emulator served, for tests to assert on.

Each record names the app, the account and a *fingerprint* of the token (a
short SHA-256 prefix, never the token itself), the route, the request's path and
parameters (secrets left out: :data:`SECRET_PARAMS`), the answer's status
and Graph error code, whether a rate limit refused it and which fault (if any)
it carried. Records keep two times: ``at`` on the emulator's clock (what the
data and the limits saw) and ``real`` on ``time.monotonic()`` (when it happened,
for measuring request rates while the emulator's clock stands still).

The log is appended to by the server's event loop and read by tests, possibly
from another thread; a lock guards both. A client in another process reads it
through the server's ``GET /_emulator/calls`` (:func:`record_json` per record).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# Parameters never written to the log: tokens, proofs and secrets, and a batch's
# ``batch`` field (its relative_urls may carry tokens; each item is logged on its own).
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "appsecret_proof",
        "input_token",
        "client_secret",
        "fb_exchange_token",
        "batch",
    }
)


class Route(StrEnum):
    INSIGHTS = "insights"
    BATCH_ITEM = "batch-item"
    BATCH = "batch"  # a batch POST refused as a whole (bad or oversized ``batch``)
    DEBUG_TOKEN = "debug_token"
    ME_ACCOUNTS = "me_accounts"
    NODE = "node"  # GET /{page-id}, /{ig-user-id}, /me
    OAUTH = "oauth"  # token exchange and refresh (oauth/access_token, access_token, refresh_access_token)
    UNKNOWN = "unknown"


def fingerprint(token: str | None) -> str | None:
    """A stable, non-reversible 12-hex-digit tag for ``token`` (``None`` stays ``None``)."""
    if token is None:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def public_params(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``params`` without :data:`SECRET_PARAMS`, in their order, as the log keeps them."""
    return tuple((k, v) for k, v in params.items() if k not in SECRET_PARAMS)


@dataclass(frozen=True)
class CallRecord:
    """One call served.

    ``status`` is the HTTP status sent (0 for a batch item answered ``null``);
    ``code`` the Graph error code or ``None`` for a success; ``counted`` whether
    the call was counted against the app's allowance; ``call_number`` the number
    faults are decided by (``None`` for calls that failed authentication);
    ``path`` the path as sent and ``params`` its parameters without secrets.
    """

    at: float
    real: float
    route: Route
    status: int
    app: str | None = None
    account: str | None = None
    token_fp: str | None = None
    code: int | None = None
    throttled: bool = False
    fault: str | None = None
    counted: bool = False
    call_number: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()


def record_json(record: CallRecord) -> dict[str, Any]:
    """``record`` as a JSON object (``params`` as an object; no token is in a record)."""
    out = asdict(record)
    out["route"] = str(record.route)
    out["params"] = dict(record.params)
    return out


class CallLog:
    """Append-only; every query returns a snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []

    def append(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def select(
        self,
        *,
        route: Route | None = None,
        app: str | None = None,
        account: str | None = None,
        throttled: bool | None = None,
        fault: str | None = None,
        where: Callable[[CallRecord], bool] | None = None,
    ) -> list[CallRecord]:
        """Records matching every filter given (``None`` means any)."""
        out = []
        for r in self.records():
            if route is not None and r.route != route:
                continue
            if app is not None and r.app != app:
                continue
            if account is not None and r.account != account:
                continue
            if throttled is not None and r.throttled != throttled:
                continue
            if fault is not None and r.fault != fault:
                continue
            if where is not None and not where(r):
                continue
            out.append(r)
        return out

    def count_by_app(self) -> dict[str | None, int]:
        """Calls per app (``None``: calls whose token named no app)."""
        counts: dict[str | None, int] = {}
        for r in self.records():
            counts[r.app] = counts.get(r.app, 0) + 1
        return counts

    def count_by_account(self) -> dict[str | None, int]:
        """Calls per account (``None``: calls that reached no account)."""
        counts: dict[str | None, int] = {}
        for r in self.records():
            counts[r.account] = counts.get(r.account, 0) + 1
        return counts

    def throttled(self) -> list[CallRecord]:
        """Calls refused by a rate limit (not ``throttle_burst`` faults, which carry ``fault``)."""
        return self.select(throttled=True)

    def per_second(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        app: str | None = None,
        account: str | None = None,
        clock: str = "real",
    ) -> list[int]:
        """Calls in each whole second from ``start`` to ``end``.

        ``clock="real"`` uses the monotonic ``real`` times, ``"emulator"`` the
        emulator clock's ``at``. Bounds default to the first and last matching
        call. Bucket ``i`` holds calls with ``start + i <= t < start + i + 1``.
        """
        if clock not in ("real", "emulator"):
            raise ValueError("clock must be 'real' or 'emulator'")
        times = [
            (r.real if clock == "real" else r.at) for r in self.select(app=app, account=account)
        ]
        if not times:
            return []
        lo = min(times) if start is None else start
        hi = max(times) if end is None else end
        buckets = [0] * max(1, math.floor(hi - lo) + 1)
        for t in times:
            if lo <= t <= hi:
                index = min(len(buckets) - 1, math.floor(t - lo))
                buckets[index] += 1
        return buckets

    def max_per_second(self, *, app: str | None = None, account: str | None = None) -> int:
        """The most calls in any one-second sliding span (real time)."""
        times = sorted(r.real for r in self.select(app=app, account=account))
        best = 0
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best
