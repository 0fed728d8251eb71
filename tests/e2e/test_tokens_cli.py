"""``tokens exchange`` and ``tokens check`` against the emulator."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from collector.cli.main import main
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Account, App, Scenario, TokenInfo
from collector.emulator.testing import emulator_in_thread
from collector.logs import token_fingerprint

SHORT = "EAAshortlived1"


def scenario(expires_at: float) -> Scenario:
    """One app and one account whose token expires at ``expires_at``."""
    return Scenario(
        seed=3,
        apps=(App("app-a", "2001", "secret-a"),),
        accounts=(Account("17841400000000501", 900, SHORT, "app-a"),),
        tokens=(TokenInfo(SHORT, "app-a", expires_at=expires_at),),
    )


def config(path: Path, base_url: str) -> Path:
    path.write_text(
        f'[graph]\nbase_url = "{base_url}"\napi_version = "v21.0"\n\n'
        '[[apps]]\nname = "app-a"\napp_id = "2001"\napp_secret = "secret-a"\n'
        "calls_per_hour = 1000\n\n"
        f'[[accounts]]\nid = "17841400000000501"\napp = "app-a"\ntoken = "{SHORT}"\n'
        '\n[log]\nformat = "json"\n'
    )
    return path


def test_exchange_writes_the_long_token_once_to_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """tokens exchange --out writes a 0600 file, prints the expiry on stderr and no token."""
    now = 1_764_532_800.0
    monkeypatch.setenv("SHORT", SHORT)
    with emulator_in_thread(scenario(now + 3600), clock=FixedClock(now)) as emu:
        out = tmp_path / "long.token"
        argv = ["tokens", "exchange", "--app", "app-a", "--token", "env:SHORT"]
        code = main(
            [*argv, "--out", str(out), "--config", str(config(tmp_path / "c.toml", emu.base_url))]
        )
    stdout, stderr = capfd.readouterr()
    long_token = out.read_text().strip()
    assert (code, stat.S_IMODE(out.stat().st_mode), "expires in 60 days" in stderr) == (
        0,
        0o600,
        True,
    )
    assert long_token not in stdout + stderr and SHORT not in stdout + stderr


def test_check_exits_1_for_a_token_expiring_within_warn_days(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """tokens check reports each token's expiry and exits 1 when one ends within --warn-days."""
    soon = time.time() + 3 * 86_400
    with emulator_in_thread(scenario(soon)) as emu:
        path = config(tmp_path / "c.toml", emu.base_url)
        tight = main(["tokens", "check", "--config", str(path), "--warn-days", "7"])
        loose = main(["tokens", "check", "--config", str(path), "--warn-days", "1"])
    stdout, _ = capfd.readouterr()
    assert (tight, loose, "expiring" in stdout, SHORT in stdout) == (1, 0, True, False)


def test_status_with_tokens_lists_the_one_expiring_by_fingerprint(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """status --tokens --json lists the token that expires within --warn-days by its
    fingerprint, with its expiry, and never the token itself."""
    soon = time.time() + 3 * 86_400
    with emulator_in_thread(scenario(soon)) as emu:
        path = config(tmp_path / "c.toml", emu.base_url)
        path.write_text(path.read_text() + f'\n[output]\nsqlite = "{tmp_path / "s.sqlite"}"\n')
        assert main(["db", "upgrade", "--sqlite", str(tmp_path / "s.sqlite")]) == 0
        code = main(["status", "--config", str(path), "--tokens", "--json"])
    stdout, _ = capfd.readouterr()
    [care] = json.loads(stdout.splitlines()[-1])["tokens_needing_care"]
    assert (code, care["health"], care["app"]) == (0, "expiring", "app-a")
    assert abs(care["expires_at"] - soon) < 2  # debug_token gives whole seconds
    assert care["token"] == token_fingerprint(SHORT) and SHORT not in stdout
