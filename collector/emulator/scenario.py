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

    [[accounts]]
    id = "17841400000000001"
    followers = 5400
    token = "EAA-token-1"
    app = "agency-a"
    business_id = "9001"         # optional: the BUC header is keyed by it
    username = "acme"            # optional
    revoked_at = 1767225600      # optional: token loses access (error 10) then

    [[tokens]]                   # optional facts about a token
    token = "EAA-token-1"
    expires_at = 1767225600      # unix seconds, or a TOML datetime; 0 = never
    scopes = ["instagram_basic", "instagram_manage_insights"]
"""

from __future__ import annotations

import datetime as dt
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


@dataclass(frozen=True)
class Account:
    id: str
    followers: int
    token: str
    app: str
    business_id: str | None = None
    username: str | None = None
    revoked_at: float | None = None
    buc_calls: int | None = None  # this account's own BUC allowance (default: [limits])


@dataclass(frozen=True)
class TokenInfo:
    token: str
    app: str
    expires_at: float = 0.0  # 0 = never
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    user_id: str = ""


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
        """Facts about ``token``: declared in ``[[tokens]]`` or implied by an account."""
        for info in self.tokens:
            if info.token == token:
                return info
        for account in self.accounts:
            if account.token == token:
                return TokenInfo(token=token, app=account.app, user_id=f"u{account.id}")
        return None

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


def _timestamp(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected unix seconds or a datetime, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    raise ScenarioError(f"{where}: expected unix seconds or a datetime, got {value!r}")


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: [{key}] must be a table")
    return value


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def parse_scenario(raw: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML; raises :class:`ScenarioError`."""
    _check_keys(
        raw,
        {
            "seed",
            "revision_hours",
            "since_edge",
            "retired_metrics",
            "limits",
            "latency",
            "faults",
            "apps",
            "accounts",
            "tokens",
        },
        source,
    )
    try:
        apps = tuple(
            App(
                name=str(a["name"]),
                app_id=str(a["app_id"]),
                app_secret=str(a["app_secret"]),
                require_proof=bool(a.get("require_proof", False)),
            )
            for a in raw.get("apps", [])
        )
        accounts = tuple(
            Account(
                id=str(a["id"]),
                followers=int(a["followers"]),
                token=str(a["token"]),
                app=str(a["app"]),
                business_id=str(a["business_id"]) if "business_id" in a else None,
                username=str(a["username"]) if "username" in a else None,
                buc_calls=int(a["buc_calls"]) if "buc_calls" in a else None,
                revoked_at=(
                    _timestamp(a["revoked_at"], f"{source}: accounts.revoked_at")
                    if "revoked_at" in a
                    else None
                ),
            )
            for a in raw.get("accounts", [])
        )
        tokens = tuple(
            TokenInfo(
                token=str(t["token"]),
                app=str(t["app"]),
                expires_at=_timestamp(t.get("expires_at", 0), f"{source}: tokens.expires_at"),
                scopes=tuple(t.get("scopes", DEFAULT_SCOPES)),
                user_id=str(t.get("user_id", "")),
            )
            for t in raw.get("tokens", [])
        )
    except KeyError as exc:
        raise ScenarioError(f"{source}: an entry lacks the required key {exc.args[0]!r}") from exc

    limits_raw = _table(raw, "limits", source)
    _check_keys(limits_raw, set(LimitSettings.__dataclass_fields__), f"{source}: [limits]")
    latency_raw = _table(raw, "latency", source)
    _check_keys(latency_raw, set(LatencySettings.__dataclass_fields__), f"{source}: [latency]")
    faults_raw = _table(raw, "faults", source)
    _check_keys(
        faults_raw,
        {"rate", "kinds", "slow_s", "schedule", "batch_null_rate"},
        f"{source}: [faults]",
    )
    kinds = tuple(faults_raw.get("kinds", FAULT_KINDS))
    schedule = tuple(
        ScheduledFault(call=int(s["call"]), kind=str(s["kind"]))
        for s in faults_raw.get("schedule", [])
    )
    for kind in (*kinds, *(s.kind for s in schedule)):
        if kind not in FAULT_KINDS:
            raise ScenarioError(
                f"{source}: [faults] unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
            )
    since_edge = str(raw.get("since_edge", "exclusive"))
    if since_edge not in ("exclusive", "inclusive"):
        raise ScenarioError(f"{source}: since_edge must be 'exclusive' or 'inclusive'")

    scenario = Scenario(
        seed=int(raw.get("seed", 1)),
        apps=apps,
        accounts=accounts,
        tokens=tokens,
        limits=LimitSettings(**limits_raw),
        latency=LatencySettings(**latency_raw),
        faults=FaultSettings(
            rate=float(faults_raw.get("rate", 0.0)),
            kinds=kinds,
            slow_s=float(faults_raw.get("slow_s", 30.0)),
            schedule=schedule,
            batch_null_rate=float(faults_raw.get("batch_null_rate", 0.0)),
        ),
        revision_hours=float(raw.get("revision_hours", 48.0)),
        since_edge=since_edge,
        retired_metrics=tuple(str(m) for m in raw.get("retired_metrics", ())),
    )
    _check_references(scenario, source)
    return scenario


def _check_references(scenario: Scenario, source: str) -> None:
    names = {a.name for a in scenario.apps}
    if len(names) != len(scenario.apps):
        raise ScenarioError(f"{source}: two [[apps]] share a name")
    seen: set[str] = set()
    for account in scenario.accounts:
        if account.app not in names:
            raise ScenarioError(f"{source}: account {account.id} names unknown app {account.app!r}")
        if account.id in seen:
            raise ScenarioError(f"{source}: account {account.id} is listed twice")
        seen.add(account.id)
    for token in scenario.tokens:
        if token.app not in names:
            raise ScenarioError(f"{source}: token entry names unknown app {token.app!r}")


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
