"""Onboarding against the emulator: discovery to a first pull, and an Instagram token refreshed."""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
from pathlib import Path

import pytest
import structlog

from collector.cli import onboard
from collector.cli.main import main
from collector.clock import FixedWallClock
from collector.config.load import load_config
from collector.daemon.ig_tokens import InstagramRefresher
from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Account, App, Page, Scenario, TokenInfo
from collector.emulator.server import INSTAGRAM_PREFIX
from collector.emulator.testing import emulator_in_thread, running_emulator
from collector.engine.run import run_once
from collector.engine.runtime import Runtime
from tests.e2e.helpers import LEGACY_METRICS, NOW, TODAY, expected_points, sqlite_points

FIRST = TODAY - dt.timedelta(days=20)
AGENCY = "EAAagencyuser"
PAGE_TOKENS = ("EAAPpage0001", "EAAPpage0002", "EAAPpage0003")
IG_OLD = "IGQoldtoken01"


def agency_scenario() -> Scenario:
    """Three accounts on Pages with Page tokens, all seen by one agency user token."""
    accounts = tuple(
        Account(f"1784140000000030{i}", 800 + i, f"EAAown{i}xx", "app-a", username=f"client{i}")
        for i in range(1, 4)
    )
    pages = tuple(
        Page(f"10400{i}", f"Client {i}", account=a.id, access_token=PAGE_TOKENS[i - 1])
        for i, a in enumerate(accounts, start=1)
    )
    agency = TokenInfo(AGENCY, "app-a", user_id="agency", pages=tuple(p.id for p in pages))
    return Scenario(
        seed=13,
        apps=(App("app-a", "2001", "secret-a"),),
        accounts=accounts,
        tokens=(agency,),
        pages=pages,
    )


def config_text(base_url: str, out: Path, *, registry: str = "", accounts: str = "") -> str:
    metrics = ", ".join(f'"{m}"' for m in LEGACY_METRICS)
    return (
        f'[graph]\nbase_url = "{base_url}"\napi_version = "v17.0"\ntimeout_s = 5\n\n'
        f'[[apps]]\nname = "app-a"\napp_id = "2001"\napp_secret = "secret-a"\n'
        f"calls_per_hour = 100000\n{accounts}\n"
        + (f'[registry]\npath = "{registry}"\n\n' if registry else "")
        + f'[collect]\nmetrics = [{metrics}]\nsince = "{FIRST}"\nuntil = "{TODAY}"\n\n'
        f'[output]\nndjson = "{out / "i.ndjson"}"\nsqlite = "{out / "i.sqlite"}"\n'
        '\n[log]\nformat = "json"\nlevel = "debug"\n'
    )


def test_discovery_writes_a_registry_that_pulls_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Discovery pages through me/accounts; its registry passes check-config and pulls the truth."""
    scenario = agency_scenario()
    monkeypatch.setenv("AGENCY_TOKEN", AGENCY)
    monkeypatch.setattr(onboard, "PAGE_SIZE", "2")  # three Pages: two pages of answers
    with emulator_in_thread(scenario, clock=FixedClock(NOW.timestamp())) as emu:
        config = tmp_path / "c.toml"
        config.write_text(config_text(emu.base_url, tmp_path, registry="registry.csv"))
        registry, secrets = tmp_path / "registry.csv", tmp_path / "page-tokens"
        argv = ["accounts", "discover", "--token", "env:AGENCY_TOKEN", "--config", str(config)]
        argv += ["--registry", str(registry), "--secrets", str(secrets), "--yes"]
        assert main(argv) == 0
        assert main(["check-config", "--config", str(config)]) == 0
        summary = asyncio.run(run_once(load_config(config), clock=FixedWallClock(NOW)))
        listings = [r for r in emu.calls.records() if r.route is Route.ME_ACCOUNTS]
    out, err = capfd.readouterr()
    truth = expected_points(scenario, first=FIRST, last=TODAY, today=TODAY, now=NOW)
    assert (summary.failed, len(listings)) == (0, 2)
    assert sqlite_points(tmp_path / "i.sqlite") == truth
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in secrets.iterdir()} == {0o600}
    written = registry.read_bytes() + out.encode() + err.encode()
    written += (tmp_path / "i.sqlite").read_bytes() + (tmp_path / "i.ndjson").read_bytes()
    assert [t for t in (*PAGE_TOKENS, AGENCY) if t.encode() in written] == []


def test_discovery_keeps_the_rows_already_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry row for a discovered account is kept as written; only new accounts are added."""
    scenario = agency_scenario()
    monkeypatch.setenv("AGENCY_TOKEN", AGENCY)
    registry = tmp_path / "registry.csv"
    mine = "17841400000000301,app-a,env:MINE,my label\n"
    registry.write_text("id,app,token,label\n" + mine)
    with emulator_in_thread(scenario, clock=FixedClock(NOW.timestamp())) as emu:
        config = tmp_path / "c.toml"
        config.write_text(config_text(emu.base_url, tmp_path))
        argv = ["accounts", "discover", "--token", "env:AGENCY_TOKEN", "--config", str(config)]
        argv += ["--registry", str(registry), "--secrets", str(tmp_path / "s"), "--yes"]
        assert main(argv) == 0
    lines = registry.read_text().splitlines()
    assert (lines[1], len(lines)) == (mine.strip(), 4)


def instagram_scenario() -> Scenario:
    """One Instagram Login account whose token is two days old and expires in one."""
    day = 86_400.0
    now = NOW.timestamp()
    return Scenario(
        seed=17,
        apps=(App("ig-app", "3002", "ig-secret", login="instagram"),),
        accounts=(Account("17841400000000401", 2300, IG_OLD, "ig-app", username="solo"),),
        tokens=(TokenInfo(IG_OLD, "ig-app", expires_at=now + day, issued_at=now - 2 * day),),
    )


async def test_refreshed_instagram_token_goes_on_pulling(tmp_path: Path) -> None:
    """The refresher rewrites the token file (0600) and a pull after the old expiry is exact."""
    scenario = instagram_scenario()
    clock = FixedClock(NOW.timestamp())
    token_file = tmp_path / "ig.token"
    token_file.write_text(IG_OLD + "\n")
    async with running_emulator(scenario, clock=clock) as emu:
        text = instagram_config_text(emu.base_url, tmp_path)
        config_path = tmp_path / "c.toml"
        config_path.write_text(text)
        config = load_config(config_path)
        with structlog.testing.capture_logs() as logs:
            async with Runtime.for_config(config, FixedWallClock(NOW)) as runtime:
                done = await InstagramRefresher().refresh_due(
                    config.accounts, config.apps, runtime.caller.paced, clock.now()
                )
        new_token = token_file.read_text().strip()
        clock.advance(2 * 86_400)  # the old token has expired; the refreshed one has not
        later = NOW + dt.timedelta(days=2)
        summary = await run_once(load_config(config_path), clock=FixedWallClock(later))
    today = TODAY + dt.timedelta(days=2)
    truth = expected_points(scenario, first=FIRST, last=TODAY, today=today, now=later)
    stored = sqlite_points(tmp_path / "i.sqlite")
    assert (done, summary.failed, stat.S_IMODE(token_file.stat().st_mode)) == (1, 0, 0o600)
    assert stored == truth
    refreshed = [e for e in logs if e["event"] == "token_refreshed"]
    assert len(refreshed) == 1 and new_token != IG_OLD
    everything = repr(logs).encode() + (tmp_path / "i.sqlite").read_bytes()
    everything += (tmp_path / "i.ndjson").read_bytes()
    assert [t for t in (IG_OLD, new_token) if t.encode() in everything] == []


def instagram_config_text(base_url: str, out: Path) -> str:
    """A config of the Instagram Login app alone, its account's token in ``out/ig.token``."""
    ig_app = (
        '[[apps]]\nname = "ig-app"\napp_id = "3002"\napp_secret = "ig-secret"\n'
        f'calls_per_hour = 100000\nlogin = "instagram"\n'
        f'base_url = "{base_url}{INSTAGRAM_PREFIX}"\n'
    )
    account = '[[accounts]]\nid = "17841400000000401"\napp = "ig-app"\ntoken = "file:ig.token"\n'
    return _only_ig_app(config_text(base_url, out, accounts=ig_app + "\n" + account))


def _only_ig_app(text: str) -> str:
    """The config text without the Facebook Login app (the Instagram one stays)."""
    start = text.index('[[apps]]\nname = "app-a"')
    end = text.index("[[apps]]", start + 1)
    return text[:start] + text[end:]
