"""Paging links carry the token (as Meta's do); a debug-level pull must still leak it nowhere."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings, Scenario, ScheduledFault
from collector.emulator.testing import running_emulator
from collector.graph.transport import appsecret_proof
from collector.logs import REDACTED, Redactor
from tests.e2e.helpers import NOW, small_scenario, write_config

pytestmark = pytest.mark.slow


def _scenario() -> Scenario:
    """The small scenario with tokens no credential pattern recognises (not ``EAA...``):
    only the redactor's registered secrets can catch them."""
    base = small_scenario()
    accounts = tuple(
        dataclasses.replace(a, token=f"igtok{a.id[-3:]}Zq8XwV3pLm{a.id[-5:]}")
        for a in base.accounts
    )
    # Calls 2-4 fail (call 1 is the probe below), so the debug log holds failures too.
    faults = FaultSettings(
        schedule=(
            ScheduledFault(2, "transient_1"),
            ScheduledFault(3, "truncated_json"),
            ScheduledFault(4, "subcode_33"),
        )
    )
    return dataclasses.replace(base, accounts=accounts, faults=faults)


def _secrets(scenario: Scenario) -> list[str]:
    tokens = [a.token for a in scenario.accounts]
    proofs = [appsecret_proof(a.token, scenario.app(a.app).app_secret) for a in scenario.accounts]
    return tokens + proofs + [app.app_secret for app in scenario.apps]


async def _paging_of_one_answer(base_url: str, scenario: Scenario) -> dict[str, str]:
    account = scenario.accounts[0]
    url = (
        f"{base_url}/v17.0/{account.id}/insights?metric=reach&period=day"
        f"&since=1762000000&until=1762500000&access_token={account.token}"
    )
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.json()
    paging: dict[str, str] = body["paging"]
    return paging


async def test_debug_pull_with_token_in_query_leaks_no_token(tmp_path: Path) -> None:
    """With token_in = "query" and debug logs, no token, proof or secret reaches the logs,
    stdout, the NDJSON or the SQLite files, although the answers' paging links carry it."""
    scenario = _scenario()
    out = tmp_path / "out"
    out.mkdir()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        paging = await _paging_of_one_answer(emulator.base_url, scenario)
        # The premise: the emulator's links repeat the token, as Meta's do (SPEC 3).
        assert parse_qs(urlsplit(paging["next"]).query)["access_token"] == [
            scenario.accounts[0].token
        ]
        config = write_config(
            tmp_path / "c.toml",
            scenario,
            emulator.base_url,
            since="2025-11-01",
            until="2025-11-10",
            out=out,
            metrics=("reach", "impressions"),
            extra_graph='token_in = "query"',
        )
        config.write_text(config.read_text().replace('level = "warning"', 'level = "debug"'))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "collector",
            "run",
            "--config",
            str(config),
            "--no-progress",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
        answered = [r for r in emulator.calls.records() if r.status == 200]
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert answered, "the pull made no successful call"
    assert b'"debug"' in stderr, "the run wrote no debug event"
    assert b"request_failed" in stderr or b"request_retried" in stderr
    written = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    assert "insights.ndjson" in written and "insights.sqlite" in written
    places = {"stdout": stdout, "stderr": stderr, **written}
    for secret in _secrets(scenario):
        for place, content in places.items():
            assert secret.encode() not in content, f"{secret[:8]}... found in {place}"


async def test_the_redactor_blanks_a_paging_link_by_its_shape() -> None:
    """A paging URL as the emulator writes it loses its token and proof to the redactor's
    credential patterns alone (no secret registered), keeping the rest of the link."""
    scenario = _scenario()
    async with running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emulator:
        paging = await _paging_of_one_answer(emulator.base_url, scenario)
    token = scenario.accounts[0].token
    for link in paging.values():
        assert token in link
        cleaned = Redactor().clean(f"following {link}")
        assert token not in cleaned and f"access_token={REDACTED}" in cleaned
        assert "since=" in cleaned and "metric=reach" in cleaned
