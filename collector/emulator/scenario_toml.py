"""Reading a parsed scenario TOML into a :class:`~collector.emulator.scenario.Scenario`.

The layout is documented in :mod:`collector.emulator.scenario`. Every value is read
through :mod:`collector.emulator.tomltypes`, so a wrong type, an unknown key, a
missing key or a dangling reference is one :class:`ScenarioError` line that names the
file, the table and the key, and says what to write instead, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from collector.emulator.scenario import (
    DEFAULT_SCOPES,
    FAULT_KINDS,
    Account,
    App,
    FaultSettings,
    Fidelity,
    LatencySettings,
    LimitSettings,
    Page,
    Scenario,
    ScenarioError,
    ScheduledFault,
    TokenInfo,
)
from collector.emulator.tomltypes import (
    TomlTypeError,
    get_bool,
    get_choice,
    get_float,
    get_id,
    get_int,
    get_str,
    get_str_list,
    get_table,
    get_tables,
)

TOP_KEYS = {
    "seed",
    "revision_hours",
    "since_edge",
    "retired_metrics",
    "limits",
    "latency",
    "faults",
    "fidelity",
    "apps",
    "accounts",
    "tokens",
    "pages",
}
APP_KEYS = {"name", "app_id", "app_secret", "require_proof", "login"}
ACCOUNT_KEYS = {
    "id",
    "followers",
    "token",
    "app",
    "business_id",
    "username",
    "revoked_at",
    "buc_calls",
    "name",
    "biography",
    "website",
    "ig_id",
    "follows_count",
    "media_count",
}
TOKEN_KEYS = {"token", "app", "expires_at", "scopes", "user_id", "pages", "issued_at"}
PAGE_KEYS = {"id", "name", "account", "access_token", "app"}
FAULT_KEYS = {"rate", "kinds", "slow_s", "schedule", "batch_null_rate"}


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )


def _required(raw: Mapping[str, Any], key: str, where: str) -> None:
    if key not in raw:
        raise ScenarioError(f"{where}: an entry lacks the required key {key!r}")


def _timestamp(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(
            f"{where}: {key} must be unix seconds or a TOML datetime, got {value!r}; "
            f"write e.g. {key} = 1767225600 or {key} = 2026-01-01T00:00:00Z"
        )
    return float(value)


def _app(raw: Mapping[str, Any], where: str) -> App:
    _check_keys(raw, APP_KEYS, where)
    for key in ("name", "app_id", "app_secret"):
        _required(raw, key, where)
    return App(
        name=str(get_str(raw, "name", None, where)),
        app_id=str(get_id(raw, "app_id", where)),
        app_secret=str(get_str(raw, "app_secret", None, where)),
        require_proof=get_bool(raw, "require_proof", False, where),
        login=get_choice(raw, "login", "facebook", ("facebook", "instagram"), where),
    )


def _optional_int(raw: Mapping[str, Any], key: str, where: str) -> int | None:
    return get_int(raw, key, 0, where) if key in raw else None


def _account(raw: Mapping[str, Any], where: str) -> Account:
    _check_keys(raw, ACCOUNT_KEYS, where)
    for key in ("id", "followers", "token", "app"):
        _required(raw, key, where)
    return Account(
        id=str(get_id(raw, "id", where)),
        followers=get_int(raw, "followers", 0, where, "5400"),
        token=str(get_str(raw, "token", None, where, '"EAA-token-1"')),
        app=str(get_str(raw, "app", None, where)),
        business_id=get_id(raw, "business_id", where),
        username=get_str(raw, "username", None, where),
        revoked_at=_timestamp(raw, "revoked_at", where),
        buc_calls=_optional_int(raw, "buc_calls", where),
        name=get_str(raw, "name", None, where),
        biography=get_str(raw, "biography", None, where),
        website=get_str(raw, "website", None, where, '"https://example.com"'),
        ig_id=_optional_int(raw, "ig_id", where),
        follows_count=_optional_int(raw, "follows_count", where),
        media_count=_optional_int(raw, "media_count", where),
    )


def _token(raw: Mapping[str, Any], where: str) -> TokenInfo:
    _check_keys(raw, TOKEN_KEYS, where)
    for key in ("token", "app"):
        _required(raw, key, where)
    return TokenInfo(
        token=str(get_str(raw, "token", None, where)),
        app=str(get_str(raw, "app", None, where)),
        expires_at=_timestamp(raw, "expires_at", where) or 0.0,
        scopes=get_str_list(raw, "scopes", DEFAULT_SCOPES, where, '["instagram_basic"]'),
        user_id=get_id(raw, "user_id", where) or "",
        pages=tuple(str(p) for p in get_str_list(raw, "pages", (), where, '["104001"]')),
        issued_at=_timestamp(raw, "issued_at", where) or 0.0,
    )


def _page(raw: Mapping[str, Any], where: str) -> Page:
    _check_keys(raw, PAGE_KEYS, where)
    _required(raw, "id", where)
    page_id = str(get_id(raw, "id", where))
    return Page(
        id=page_id,
        name=get_str(raw, "name", None, where) or f"Page {page_id}",
        account=get_id(raw, "account", where),
        access_token=get_str(raw, "access_token", None, where),
        app=get_str(raw, "app", None, where),
    )


def _limits(raw: Mapping[str, Any], where: str) -> LimitSettings:
    fields = LimitSettings.__dataclass_fields__
    _check_keys(raw, set(fields), where)
    values: dict[str, Any] = {}
    for key in raw:
        default = getattr(LimitSettings(), key)
        if isinstance(default, int):
            values[key] = get_int(raw, key, default, where, str(default))
        else:
            values[key] = get_float(raw, key, default, where, str(int(default)))
    return LimitSettings(**values)


def _latency(raw: Mapping[str, Any], where: str) -> LatencySettings:
    _check_keys(raw, set(LatencySettings.__dataclass_fields__), where)
    return LatencySettings(
        fixed_ms=get_float(raw, "fixed_ms", 0.0, where, "20"),
        jitter_ms=get_float(raw, "jitter_ms", 0.0, where, "5"),
    )


def _faults(raw: Mapping[str, Any], where: str) -> FaultSettings:
    _check_keys(raw, FAULT_KEYS, where)
    kinds = get_str_list(raw, "kinds", FAULT_KINDS, where, '["transient_1"]')
    schedule: list[ScheduledFault] = []
    for entry in get_tables(raw, "schedule", where):
        at = f"{where} [[faults.schedule]]"
        _check_keys(entry, {"call", "kind"}, at)
        _required(entry, "call", at)
        _required(entry, "kind", at)
        call = get_int(entry, "call", 1, at, "3")
        schedule.append(ScheduledFault(call=call, kind=str(get_str(entry, "kind", None, at))))
    for kind in (*kinds, *(s.kind for s in schedule)):
        if kind not in FAULT_KINDS:
            raise ScenarioError(
                f"{where} unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
            )
    return FaultSettings(
        rate=get_float(raw, "rate", 0.0, where, "0.1"),
        kinds=kinds,
        slow_s=get_float(raw, "slow_s", 30.0, where, "30"),
        schedule=tuple(schedule),
        batch_null_rate=get_float(raw, "batch_null_rate", 0.0, where, "0.05"),
    )


def _fidelity(raw: Mapping[str, Any], where: str) -> Fidelity:
    _check_keys(raw, set(Fidelity.__dataclass_fields__), where)
    base = Fidelity()
    return Fidelity(
        reach_long_periods=get_bool(raw, "reach_long_periods", base.reach_long_periods, where),
        since_equal_until=get_choice(
            raw, "since_equal_until", base.since_equal_until, ("accept", "reject"), where
        ),
        future_since=get_choice(
            raw, "future_since", base.future_since, ("reject", "accept"), where
        ),
        paging_stops_at_now=get_bool(raw, "paging_stops_at_now", base.paging_stops_at_now, where),
        follower_demographics_timeframe=get_choice(
            raw,
            "follower_demographics_timeframe",
            base.follower_demographics_timeframe,
            ("optional", "required"),
            where,
        ),
        max_since_age_days=get_int(raw, "max_since_age_days", 0, where, "730"),
    )


def read_scenario(raw: Mapping[str, Any], source: str) -> Scenario:
    """Build a :class:`Scenario` from parsed TOML; raises :class:`ScenarioError`."""
    try:
        return _read(raw, source)
    except TomlTypeError as exc:
        raise ScenarioError(str(exc)) from None


def _read(raw: Mapping[str, Any], source: str) -> Scenario:
    _check_keys(raw, TOP_KEYS, source)
    apps = tuple(_app(a, f"{source}: [[apps]]") for a in get_tables(raw, "apps", source))
    accounts = tuple(
        _account(a, f"{source}: [[accounts]]") for a in get_tables(raw, "accounts", source)
    )
    tokens = tuple(_token(t, f"{source}: [[tokens]]") for t in get_tables(raw, "tokens", source))
    pages = tuple(_page(p, f"{source}: [[pages]]") for p in get_tables(raw, "pages", source))
    scenario = Scenario(
        seed=get_int(raw, "seed", 1, source, "7"),
        apps=apps,
        accounts=accounts,
        tokens=tokens,
        limits=_limits(get_table(raw, "limits", source), f"{source}: [limits]"),
        latency=_latency(get_table(raw, "latency", source), f"{source}: [latency]"),
        faults=_faults(get_table(raw, "faults", source), f"{source}: [faults]"),
        revision_hours=get_float(raw, "revision_hours", 48.0, source, "48"),
        since_edge=get_choice(raw, "since_edge", "exclusive", ("exclusive", "inclusive"), source),
        retired_metrics=get_str_list(raw, "retired_metrics", (), source, '["profile_views"]'),
        pages=pages,
        fidelity=_fidelity(get_table(raw, "fidelity", source), f"{source}: [fidelity]"),
    )
    check_references(scenario, source)
    return scenario


def check_references(scenario: Scenario, source: str) -> None:
    """Names and ids that must resolve: apps, accounts, Pages, and no id twice."""
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
    page_ids: set[str] = set()
    linked: set[str] = set()
    for page in scenario.pages:
        where = f"{source}: [[pages]] {page.id}"
        if page.id in page_ids:
            raise ScenarioError(f"{where} is listed twice")
        page_ids.add(page.id)
        if page.account is not None:
            if page.account not in seen:
                raise ScenarioError(f"{where} links unknown account {page.account!r}")
            if page.account in linked:
                raise ScenarioError(f"{where}: account {page.account} is linked to two Pages")
            linked.add(page.account)
        if page.app is not None and page.app not in names:
            raise ScenarioError(f"{where} names unknown app {page.app!r}")
        if page.access_token is not None and page.app is None and page.account is None:
            raise ScenarioError(
                f'{where}: a Page token needs app = "..." when no account is linked'
            )
    for token in scenario.tokens:
        for page_id in token.pages:
            if page_id not in page_ids:
                raise ScenarioError(
                    f"{source}: [[tokens]] {token.token[:8]}... sees unknown page {page_id!r}; "
                    "declare it in [[pages]]"
                )
