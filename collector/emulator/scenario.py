"""The emulator's world: apps, accounts, tokens, limits, faults and latency.

A scenario is read once from TOML (or the built-in ``default_scenario.toml``)
into frozen dataclasses. Everything the emulator serves is a function of the
scenario, its ``seed`` and the emulator's clock, so a test that fixes both gets
the same bytes every time.

TOML layout (every table but ``[[apps]]`` and ``[[accounts]]`` is optional)::

    seed = 7
    revision_hours = 48          # values this recent may still change
    since_edge = "exclusive"     # is a value whose end_time == since returned?
    retired_metrics = ["profile_views"]   # "retired yesterday": refused in every version

    [limits]
    app_calls = 4800             # per-app rolling allowance (calls per window)
    app_window_s = 3600
    buc_calls = 4800             # per app and account (BUC) allowance
    buc_window_s = 86400
    token_calls = 0              # per-token allowance, error 17 (0 = off)
    token_window_s = 3600
    custom_calls = 0             # per-account custom limit, error 613 (0 = off)
    custom_window_s = 3600
    report_after = 1             # headers appear from this call count on

    [latency]
    fixed_ms = 0
    jitter_ms = 0

    [faults]
    rate = 0.1                   # fraction of counted calls that fail
    kinds = ["transient_1", "html_502"]   # drawn uniformly; default: all kinds
    slow_s = 30                  # how long a "slow" answer stalls
    batch_null_rate = 0.05       # batch items answered null ("no time for it")
    [[faults.schedule]]          # explicit faults, by 1-based call number
    call = 3
    kind = "truncated_json"

    [[apps]]
    name = "agency-a"
    app_id = "1001"
    app_secret = "s3cret"
    require_proof = false
    login = "facebook"           # or "instagram": Instagram Login (graph.instagram.com)

    [[accounts]]
    id = "17841400000000001"
    followers = 5400
    token = "EAA-token-1"
    app = "agency-a"
    business_id = "9001"         # optional: the BUC header is keyed by it
    username = "acme"            # optional
    revoked_at = 1767225600      # optional: token loses access (error 10) then

    name = "Acme Coffee"         # optional IG User node fields (defaults derived)
    biography = "Roasters"       # ... also website, ig_id, follows_count, media_count

    [[tokens]]                   # optional facts about a token
    token = "EAA-token-1"
    expires_at = 1767225600      # unix seconds, or a TOML datetime; 0 = never
    scopes = ["instagram_basic", "instagram_manage_insights"]
    pages = ["104001"]           # a user token (an agency's system user) that sees these Pages
    issued_at = 1764633600       # optional: when it was issued (Instagram refresh needs 24 h)

    [[pages]]                    # optional: Facebook Pages and their IG accounts
    id = "104001"
    name = "Acme page"
    account = "17841400000000001"  # its instagram_business_account (omit: none)
    access_token = "EAAP-104001"   # optional Page token; it reads the linked account
    app = "agency-a"               # the Page token's app (default: the account's)

    [fidelity]                   # where Meta's behaviour is disputed (docs/emulator.md)
    reach_long_periods = true    # v18+: reach takes period=week/days_28
    since_equal_until = "accept" # or "reject"
    future_since = "reject"      # or "accept": since later than now
    paging_stops_at_now = false  # true: no paging.next once it would start after now
    follower_demographics_timeframe = "optional"  # or "required"
    max_since_age_days = 0       # > 0: refuse a since older than this many days

Every account without a ``[[pages]]`` entry naming it is reached through an
implied Page (id ``"1" + its id's last 14 digits``, no Page token), seen by the
account's own token: scenarios written before Pages existed mean what they meant.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "transient_1",  # HTTP 500, code 1, is_transient
    "transient_2",  # HTTP 500, code 2, is_transient
    "subcode_33",  # HTTP 400, code 100 subcode 33 ("Unsupported get request")
    "html_502",  # HTTP 502 with an HTML page from a "proxy"
    "drop_mid_body",  # headers and half the body sent, then the connection closes
    "truncated_json",  # HTTP 200, Content-Length honest, JSON cut short
    "slow",  # the answer stalls for ``slow_s`` seconds before it starts
    "throttle_burst",  # a code 4 answer although the allowance is not spent
)

DEFAULT_SCOPES: tuple[str, ...] = (
    "instagram_basic",
    "instagram_manage_insights",
    "pages_read_engagement",
    "pages_show_list",
)


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class App:
    name: str
    app_id: str
    app_secret: str
    require_proof: bool = False
    login: str = (
        "facebook"  # "instagram": Instagram Login, its tokens valid on graph.instagram.com only
    )


@dataclass(frozen=True)
class Account:
    """An IG professional account. ``token`` is its own user token; the profile fields
    (``name`` .. ``media_count``) answer ``GET /{ig-user-id}``, derived when ``None``."""

    id: str
    followers: int
    token: str
    app: str
    business_id: str | None = None
    username: str | None = None
    revoked_at: float | None = None
    buc_calls: int | None = None  # this account's own BUC allowance (default: [limits])
    name: str | None = None
    biography: str | None = None
    website: str | None = None
    ig_id: int | None = None
    follows_count: int | None = None
    media_count: int | None = None


@dataclass(frozen=True)
class TokenInfo:
    """Facts about a token. ``kind`` is ``"USER"`` or ``"PAGE"`` (debug_token's type);
    ``pages`` lists the Page ids a user token sees beyond its own accounts' Pages."""

    token: str
    app: str
    expires_at: float = 0.0  # 0 = never
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    user_id: str = ""
    pages: tuple[str, ...] = ()
    kind: str = "USER"
    issued_at: float = 0.0  # unix seconds; an Instagram token is refreshable 24 h after this


@dataclass(frozen=True)
class Page:
    """A Facebook Page. ``account`` is its linked IG account (``None``: none);
    ``access_token`` its Page token (``None``: none issued), of app ``app``."""

    id: str
    name: str
    account: str | None = None
    access_token: str | None = None
    app: str | None = None


@dataclass(frozen=True)
class Fidelity:
    """Switches for behaviour where the public evidence is split (docs/emulator.md).

    Defaults are the best-supported reading; each names its alternative.
    """

    reach_long_periods: bool = True  # v18+: reach accepts period=week and days_28
    since_equal_until: str = "accept"  # "reject": since == until is a code 100 error
    future_since: str = "reject"  # "accept": a since later than now is served (empty)
    paging_stops_at_now: bool = False  # True: no paging.next once it would start after now
    follower_demographics_timeframe: str = "optional"  # "required": as engaged_audience_*
    max_since_age_days: int = 0  # > 0: a since older than this is refused ("2 years")


@dataclass(frozen=True)
class LimitSettings:
    app_calls: int = 200_000
    app_window_s: float = 3600.0
    buc_calls: int = 200_000
    buc_window_s: float = 86400.0
    token_calls: int = 0
    token_window_s: float = 3600.0
    custom_calls: int = 0
    custom_window_s: float = 3600.0
    report_after: int = 1
    minute_s: float = 60.0  # estimated_time_to_regain_access is in these "minutes"


@dataclass(frozen=True)
class LatencySettings:
    fixed_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class ScheduledFault:
    call: int  # 1-based number of the counted call that fails
    kind: str


@dataclass(frozen=True)
class FaultSettings:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_s: float = 30.0
    schedule: tuple[ScheduledFault, ...] = ()
    batch_null_rate: float = 0.0  # fraction of batch items answered ``null``


@dataclass(frozen=True)
class Scenario:
    seed: int
    apps: tuple[App, ...]
    accounts: tuple[Account, ...]
    tokens: tuple[TokenInfo, ...] = ()
    limits: LimitSettings = field(default_factory=LimitSettings)
    latency: LatencySettings = field(default_factory=LatencySettings)
    faults: FaultSettings = field(default_factory=FaultSettings)
    revision_hours: float = 48.0
    since_edge: str = "exclusive"
    retired_metrics: tuple[str, ...] = ()  # refused as unknown in every version
    pages: tuple[Page, ...] = ()  # declared Pages; see :meth:`all_pages` for the implied ones
    fidelity: Fidelity = field(default_factory=Fidelity)

    def app(self, name: str) -> App:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)

    def account(self, account_id: str) -> Account | None:
        for account in self.accounts:
            if account.id == account_id:
                return account
        return None

    def token_info(self, token: str) -> TokenInfo | None:
        """Facts about ``token``: declared in ``[[tokens]]``, implied by an account
        (a user token) or by a Page's ``access_token`` (a Page token)."""
        declared = next((info for info in self.tokens if info.token == token), None)
        if declared is not None and declared.user_id:
            return declared
        for account in self.accounts:
            if account.token == token:
                # An account's own token belongs to the user "u<account id>", declared or not,
                # so a token exchanged or refreshed from it (same user) reaches the account too.
                if declared is not None:
                    return replace(declared, user_id=f"u{account.id}")
                return TokenInfo(token=token, app=account.app, user_id=f"u{account.id}")
        if declared is not None:
            return declared
        for page in self.pages:
            if page.access_token == token:
                app = page.app
                if app is None and page.account is not None:
                    linked = self.account(page.account)
                    app = linked.app if linked is not None else None
                return TokenInfo(token=token, app=app or "", user_id=page.id, kind="PAGE")
        return None

    def all_pages(self) -> tuple[Page, ...]:
        """The declared Pages, then one implied Page per account no declared Page links."""
        linked = {page.account for page in self.pages if page.account is not None}
        implied = tuple(
            Page(id=implied_page_id(a.id), name=f"{a.username or a.id} page", account=a.id)
            for a in self.accounts
            if a.id not in linked
        )
        return self.pages + implied

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


def implied_page_id(account_id: str) -> str:
    """The id of the implied Page of an account: ``"1"`` + its id's last 14 digits."""
    return "1" + account_id[-14:]


def parse_scenario(raw: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML; raises :class:`ScenarioError`.

    The reading itself lives in :mod:`collector.emulator.scenario_toml`; every
    wrong type or unknown key is one :class:`ScenarioError` line naming ``source``,
    the key and the fix.
    """
    from collector.emulator.scenario_toml import read_scenario

    return read_scenario(raw, source)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file; ``None`` gives the built-in scenario."""
    if path is None:
        text = resources.files("collector.emulator").joinpath("default_scenario.toml").read_text()
        return parse_scenario(tomllib.loads(text), "default_scenario.toml")
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read the scenario ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML ({exc})") from exc
    return parse_scenario(raw, str(p))


def default_scenario() -> Scenario:
    return load_scenario(None)
