"""The daemon's settings and small policies: [daemon] parsing, rotation names, token verdicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.config.daemon import DaemonSettings, Rotation, parse_duration, parse_rotation
from collector.config.load import ConfigError, DateSpec, load_config
from collector.daemon.tokens import Health, assess
from collector.planning.freshness import age_text, freshness_table
from collector.storage.rotation import day_file, file_number, numbered_file, rotation_target
from collector.storage.sqlite import AccountFreshness, NdjsonFile

BASE = """
[graph]
api_version = "v17.0"

[[apps]]
name = "a"
app_id = "1001"
calls_per_hour = 100

[[accounts]]
id = "17841400000000001"
app = "a"
token = "env:TOKEN"
"""


def _load(tmp_path: Path, daemon: str) -> DaemonSettings:
    path = tmp_path / "c.toml"
    path.write_text(BASE + "\n[daemon]\n" + daemon)
    return load_config(path, environ={"TOKEN": "EAAtoken0001"}).daemon


def test_daemon_table_defaults(tmp_path: Path) -> None:
    """Without keys: hourly refresh, 3 days back, 30 days of history, daily lifetime, day files."""
    settings = _load(tmp_path, "")
    assert settings == DaemonSettings(
        refresh_interval_s=3600.0,
        lookback_days=3,
        backfill=DateSpec(days_ago=30),
        lifetime_interval_s=86400.0,
        stats_interval_s=300.0,
        grace_s=30.0,
        token_warn_days=7,
        rotate=Rotation("day"),
    )


def test_daemon_table_reads_every_key(tmp_path: Path) -> None:
    """Every key is read with its unit: durations, days, a date, a size."""
    settings = _load(
        tmp_path,
        'refresh_interval = "15m"\nlookback = 4\nbackfill = "2024-01-01"\n'
        'lifetime_interval = "12h"\nstats_interval = 30\ngrace_s = 5\n'
        'token_warn_days = 10\nrotate = "size:2M"\n',
    )
    assert settings == DaemonSettings(
        refresh_interval_s=900.0,
        lookback_days=4,
        backfill=DateSpec(absolute=dt.date(2024, 1, 1)),
        lifetime_interval_s=43200.0,
        stats_interval_s=30.0,
        grace_s=5.0,
        token_warn_days=10,
        rotate=Rotation("size", 2 * 1024 * 1024),
    )


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("lookback = 1", "[daemon].lookback"),
        ("lookback = 40", "[daemon].lookback"),
        ('refresh_interval = "soon"', "[daemon].refresh_interval"),
        ("refresh_interval = 0", "[daemon].refresh_interval"),
        ('rotate = "hourly"', "[daemon].rotate"),
        ('backfill = "a year"', "[daemon].backfill"),
        ("refresh = 5", "[daemon]"),
    ],
)
def test_bad_daemon_keys_are_located(tmp_path: Path, line: str, where: str) -> None:
    """Each mistake in [daemon] is a ConfigError naming the key and giving a fix."""
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, line + "\n")
    assert caught.value.where == where
    assert caught.value.fix


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (2.5, 2.5), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("2d", 172800.0)],
)
def test_durations(text: object, seconds: float) -> None:
    """Seconds as numbers, or a number with s, m, h or d."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-5s", True, "h"])
def test_bad_durations(text: object) -> None:
    """Anything else is refused."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_rotation_policies() -> None:
    """ "day" rotates daily; "size:N" takes bytes with K/M/G in powers of 1024."""
    assert parse_rotation("day") == Rotation("day")
    assert parse_rotation("size:64K") == Rotation("size", 65536)
    assert parse_rotation("size:1g") == Rotation("size", 1024**3)
    with pytest.raises(ValueError):
        parse_rotation("size:10")  # under 1K


def test_day_files_are_named_by_utc_date_keeping_suffixes() -> None:
    """out/insights.ndjson.gz on 2025-11-20 rotates to out/insights.2025-11-20.ndjson.gz."""
    base = Path("/out/insights.ndjson.gz")
    assert day_file(base, dt.date(2025, 11, 20)) == Path("/out/insights.2025-11-20.ndjson.gz")
    target = rotation_target(base, Rotation("day"), None, 0, dt.date(2025, 11, 20))
    assert target == Path("/out/insights.2025-11-20.ndjson.gz")


def test_size_rotation_moves_on_once_the_file_is_full() -> None:
    """The first file is 000001; it is kept under the size and followed by 000002 from it on."""
    base, policy = Path("/out/insights.ndjson"), Rotation("size", 1000)
    first = rotation_target(base, policy, None, 0, dt.date(2025, 1, 1))
    assert first == Path("/out/insights.000001.ndjson")
    assert rotation_target(base, policy, first, 999, dt.date(2025, 1, 2)) == first
    assert rotation_target(base, policy, first, 1000, dt.date(2025, 1, 2)) == Path(
        "/out/insights.000002.ndjson"
    )


def test_size_rotation_starts_over_from_a_file_outside_its_set() -> None:
    """A checkpoint naming another file (e.g. a day file) starts the numbered set at 000001."""
    base = Path("/out/insights.ndjson")
    assert file_number(base, Path("/out/insights.2025-01-01.ndjson")) is None
    assert file_number(base, numbered_file(base, 12)) == 12
    target = rotation_target(
        base, Rotation("size", 1000), Path("/out/insights.2025-01-01.ndjson"), 5000, dt.date.today()
    )
    assert target == Path("/out/insights.000001.ndjson")


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("data", "health"),
    [
        ({"is_valid": True, "expires_at": 0}, Health.VALID),
        ({"is_valid": True, "expires_at": NOW + 30 * 86400}, Health.VALID),
        ({"is_valid": True, "expires_at": NOW + 3 * 86400}, Health.EXPIRING),
        ({"is_valid": True, "expires_at": NOW - 1}, Health.INVALID),
        ({"is_valid": False, "expires_at": NOW + 30 * 86400}, Health.INVALID),
        ({"error": {"code": 190}, "is_valid": False, "scopes": []}, Health.INVALID),
    ],
)
def test_token_verdicts(data: dict[str, object], health: Health) -> None:
    """Valid, expiring within 7 days, expired or reported invalid; expires_at 0 never expires."""
    assert assess(data, NOW, 7)[0] is health


def test_ages_are_short_text() -> None:
    """45 s, 12 min, 3.5 h, 2 days; never for no time."""
    assert [age_text(s) for s in (45, 720, 12600, 172800, None)] == [
        "45s",
        "12m",
        "3.5h",
        "2.0d",
        "never",
    ]


def test_freshness_table_lists_every_account_and_file() -> None:
    """Each account row shows its refresh time and age; the footer counts the never-refreshed."""
    rows = [
        AccountFreshness("111", "2025-11-20T19:00:00Z", None, "2025-11-21T08:00:00Z", 0, 1),
        AccountFreshness("222", None, None, None, 3, 0),
    ]
    files = [NdjsonFile("/out/i.2025-11-20.ndjson", 1234, "a", "b")]
    text = freshness_table(rows, files, dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC))
    lines = text.splitlines()
    row_111 = next(line for line in lines if line.startswith("111"))
    assert "2025-11-20T19:00:00Z" in row_111 and " 1.0h " in row_111
    assert "1 never refreshed" in text
    assert "/out/i.2025-11-20.ndjson  1,234 bytes" in text
