"""What a reload changes, and a bad reload keeping the old config."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from collector.config.load import Config, load_config
from collector.daemon.reload import diff_configs, load_reloaded


def config(tmp_path: Path, name: str, accounts: dict[str, str], *, sqlite: str = "a.sqlite",
           version: str = "v17.0") -> Config:  # fmt: skip
    rows = "".join(
        f'[[accounts]]\nid = "{i}"\napp = "app"\ntoken = "{t}"\n' for i, t in accounts.items()
    )
    path = tmp_path / name
    path.write_text(
        f'[graph]\napi_version = "{version}"\n'
        '[[apps]]\nname = "app"\napp_id = "1"\ncalls_per_hour = 100\n'
        f"{rows}"
        '[collect]\nmetrics = ["reach"]\nsince = "10d"\n'
        f'[output]\nsqlite = "{tmp_path / sqlite}"\n'
    )
    return load_config(path)


def test_added_removed_and_retokened_accounts_are_named(tmp_path: Path) -> None:
    old = config(tmp_path, "old.toml", {"11": "EAAone", "12": "EAAtwo", "13": "EAAthree"})
    new = config(tmp_path, "new.toml", {"11": "EAAone", "12": "EAAother", "14": "EAAfour"})
    change = diff_configs(old, new)
    assert change.added == ("14",)
    assert change.removed == ("13",)
    assert change.tokens_changed == ("12",)
    assert not change.graph_changed and not change.sqlite_moved


def test_another_api_version_or_sqlite_file_is_noticed(tmp_path: Path) -> None:
    old = config(tmp_path, "old.toml", {"11": "EAAone"})
    assert diff_configs(
        old, config(tmp_path, "v.toml", {"11": "EAAone"}, version="v21.0")
    ).graph_changed
    assert diff_configs(
        old, config(tmp_path, "s.toml", {"11": "EAAone"}, sqlite="b.sqlite")
    ).sqlite_moved


def test_a_bad_reload_is_logged_and_returns_nothing(tmp_path: Path) -> None:
    config(tmp_path, "c.toml", {"11": "EAAone"})
    bad = tmp_path / "c.toml"
    bad.write_text(bad.read_text().replace('since = "10d"', 'since = "2025-02-30"'))
    with capture_logs() as events:
        assert load_reloaded(lambda: load_config(bad)) is None
        assert load_reloaded(None) is None
    assert [e["event"] for e in events] == ["config_reload_failed"] * 2
    assert "c.toml" in events[0]["detail"] and "since" in events[0]["detail"]
    assert events[0]["kept"] == "the previous config"


def test_an_unexpected_failure_to_read_is_kept_out_too() -> None:
    def unreadable() -> Config:
        raise PermissionError("c.toml")

    with capture_logs() as events:
        assert load_reloaded(unreadable) is None
    assert events[0]["detail"] == "PermissionError: c.toml"
