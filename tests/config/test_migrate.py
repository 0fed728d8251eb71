"""check-config --suggest: legacy metric lists rewritten for the current API, as pasteable TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli.main import main
from collector.config.load import load_config
from collector.config.migrate import migrate, target_version

LEGACY = (
    "impressions",
    "reach",
    "profile_views",
    "follower_count",
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
    "online_followers",
    "audience_city",
    "audience_country",
    "audience_locale",
    "audience_gender_age",
)
BASE = """[graph]
api_version = "{version}"

[[apps]]
name = "agency-a"
app_id = "1001"
calls_per_hour = 4800

[[accounts]]
id = "17841400000000001"
app = "agency-a"
token = "EAAtokenOne"

"""
LEGACY_COLLECT = (
    "[collect]\nmetrics = ["
    + ", ".join(f'"{m}"' for m in LEGACY)
    + ']\nperiods = ["day", "week", "days_28", "lifetime"]\nsince = "60d"\nuntil = "1d"\n'
)


def test_legacy_list_maps_onto_current_metrics() -> None:
    """The 14 legacy metrics become views, reach, follower_count, profile_links_taps,
    online_followers and follower_demographics, in the old list's order."""
    result = migrate(LEGACY, "v24.0")
    assert result.metrics == (
        "views",
        "reach",
        "follower_count",
        "profile_links_taps",
        "online_followers",
        "follower_demographics",
    )
    assert result.periods == ("day", "lifetime")


def test_legacy_list_gets_the_breakdowns_that_recover_old_figures() -> None:
    """Profile taps come back by contact_button_type, audience maps by city, country, age+gender."""
    result = migrate(LEGACY, "v24.0")
    assert result.breakdowns == (
        ("profile_links_taps", ("contact_button_type",)),
        ("follower_demographics", ("city", "country", "age,gender")),
    )
    assert result.timeframes == ("this_month",)


def test_every_change_and_drop_is_noted() -> None:
    """Each renamed, split or dropped metric, and reach's lost periods, get one note."""
    notes = migrate(LEGACY, "v24.0").notes
    assert "impressions -> views; retired in v22.0" in notes
    assert "reach: periods week, days_28 dropped; retired in v18.0" in notes
    assert (
        "email_contacts -> profile_links_taps by contact_button_type (its EMAIL results); "
        "retired in v21.0"
    ) in notes
    assert "audience_gender_age -> follower_demographics by age,gender; retired in v18.0" in notes
    dropped = [note.split(":")[0] for note in notes if ": dropped;" in note]
    assert dropped == ["profile_views", "audience_locale"]


def test_current_list_is_left_alone() -> None:
    """A list the version fully serves comes back unchanged, with no note."""
    result = migrate(("views", "likes"), "v24.0", breakdowns={"likes": ["media_product_type"]})
    assert (result.metrics, result.notes) == (("views", "likes"), ())
    assert result.breakdowns == (("likes", ("media_product_type",)),)


def test_refused_timeframes_become_this_month() -> None:
    """Timeframes v20 retired are replaced by this_month when demographics are collected."""
    result = migrate(("audience_city",), "v24.0", timeframes=["last_30_days", "this_week"])
    assert result.timeframes == ("this_week",)
    result = migrate(("audience_city",), "v24.0", timeframes=["last_30_days"])
    assert result.timeframes == ("this_month",)


@pytest.mark.parametrize(("configured", "target"), [("v17.0", "v24.0"), ("v22.0", "v22.0")])
def test_target_is_the_configured_version_when_current(configured: str, target: str) -> None:
    """--suggest targets the config's version from v22 on, else v24.0."""
    assert target_version(configured) == target


def _suggest(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    config = tmp_path / "ig.toml"
    code = main(["check-config", "--config", str(config), "--suggest", *args])
    return code, capsys.readouterr().out


def test_suggest_works_on_a_config_check_config_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A v22 config with legacy metrics fails check-config, and --suggest still prints its fix."""
    (tmp_path / "ig.toml").write_text(BASE.format(version="v22.0") + LEGACY_COLLECT)
    assert main(["check-config", "--config", str(tmp_path / "ig.toml")]) == 2
    capsys.readouterr()
    code, out = _suggest(tmp_path, capsys)
    assert code == 0
    assert "[collect]\nmetrics = [" in out and "for v22.0" in out


def test_suggested_snippet_loads_on_the_target_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed [collect] table, pasted into the config on v24.0, passes the loader as is."""
    (tmp_path / "ig.toml").write_text(BASE.format(version="v17.0") + LEGACY_COLLECT)
    code, out = _suggest(tmp_path, capsys)
    assert code == 0
    migrated = tmp_path / "migrated.toml"
    migrated.write_text(BASE.format(version="v24.0") + out + "\n")
    config = load_config(migrated, environ={})
    assert config.collect.metrics == migrate(LEGACY, "v24.0").metrics
    assert config.collect.breakdowns == migrate(LEGACY, "v24.0").breakdowns
    assert (str(config.collect.since), str(config.collect.until)) == ("60d", "1d")
    assert [w for w in config.warnings if "secret" not in w] == []


def test_suggest_takes_an_explicit_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--suggest v21.0 keeps impressions (retired only in v22) and maps the v21 retirements."""
    (tmp_path / "ig.toml").write_text(BASE.format(version="v17.0") + LEGACY_COLLECT)
    code, out = _suggest(tmp_path, capsys, "v21.0")
    assert code == 0
    assert 'metrics = ["impressions", "reach", "follower_count", "profile_links_taps"' in out


def test_suggest_refuses_a_malformed_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--suggest 24 is a usage error naming the flag."""
    (tmp_path / "ig.toml").write_text(BASE.format(version="v17.0") + LEGACY_COLLECT)
    code = main(
        [
            "--log-format",
            "console",
            "check-config",
            "--config",
            str(tmp_path / "ig.toml"),
            "--suggest",
            "24",
        ]
    )
    assert code == 2
    assert '--suggest: "24" is not of the form vNN.N' in capsys.readouterr().err
