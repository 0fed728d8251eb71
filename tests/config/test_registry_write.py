"""Discovery's registry writer: what it appends reads back exactly, in CSV and in TOML."""

from __future__ import annotations

from pathlib import Path

from collector.config.load import load_config
from collector.config.registry import read_registry
from collector.config.registry_write import Discovered, merge_registry

FOUND = (
    Discovered("17841400000000501", "app-a", "file:tokens/501.token", "acme, inc.", 5400),
    Discovered("17841400000000502", "app-a", "file:tokens/502.token", 'say "hi"', None),
)


def test_a_new_csv_registry_keeps_the_follower_counts(tmp_path: Path) -> None:
    """A new CSV registry has the followers column, and reads back label and count exactly."""
    path = tmp_path / "accounts.csv"
    merge = merge_registry(path, FOUND)
    path.write_text(merge.after)
    rows = list(read_registry(path))
    assert [(r.id, r.label, r.followers) for r in rows] == [
        ("17841400000000501", "acme, inc.", 5400),
        ("17841400000000502", 'say "hi"', None),
    ]
    assert merge.added == FOUND


def test_an_older_csv_registry_keeps_its_four_columns(tmp_path: Path) -> None:
    """A registry without the followers column gets new rows in its own four columns,
    its existing row untouched, and a listed id is not added again."""
    path = tmp_path / "accounts.csv"
    old = "id,app,token,label\n17841400000000501,app-a,env:MINE,mine\n"
    path.write_text(old)
    merge = merge_registry(path, FOUND)
    assert merge.after.startswith(old) and merge.added == FOUND[1:]
    path.write_text(merge.after)
    assert [(r.id, r.token, r.followers) for r in read_registry(path)] == [
        ("17841400000000501", "env:MINE", None),
        ("17841400000000502", "file:tokens/502.token", None),
    ]


def test_a_toml_registry_gets_accounts_tables_the_config_reads(tmp_path: Path) -> None:
    """Merged into a config file, the discovered accounts are [[accounts]] tables that
    load_config reads with their labels and follower counts."""
    (tmp_path / "tokens").mkdir()
    for name in ("501", "502"):
        (tmp_path / "tokens" / f"{name}.token").write_text(f"EAAtoken{name}\n")
    path = tmp_path / "c.toml"
    path.write_text(
        '[graph]\napi_version = "v17.0"\n\n[[apps]]\nname = "app-a"\napp_id = "1"\n'
        "calls_per_hour = 100\n"
    )
    merge = merge_registry(path, FOUND)
    path.write_text(merge.after)
    config = load_config(path)
    assert [(a.id, a.label, a.followers) for a in config.accounts] == [
        ("17841400000000501", "acme, inc.", 5400),
        ("17841400000000502", 'say "hi"', None),
    ]
    assert merge_registry(path, FOUND).added == ()  # listed now: nothing to add
