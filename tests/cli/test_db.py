"""``ig-collector db upgrade``: creates or migrates a store, prints its version, names no secret."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import psycopg
import pytest

from collector.cli.main import main
from collector.storage.postgres_schema import SCHEMA_VERSION as PG_VERSION
from collector.storage.schema import SCHEMA_VERSION as SQLITE_VERSION


def test_upgrade_creates_a_postgres_store_then_finds_it_current(
    pg_url: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first upgrade creates the tables, the second finds them current; the password
    never reaches the output."""
    assert main(["db", "upgrade", "--store", pg_url, "--schema", pg_schema]) == 0
    assert main(["db", "upgrade", "--store", pg_url, "--schema", pg_schema]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith(f"schema version {PG_VERSION} (created)")
    assert second.endswith(f"schema version {PG_VERSION} (already current)")
    assert "igc:***@" in first and ":igc@" not in first


def test_upgrade_reads_the_url_from_the_environment(
    pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--store env:NAME`` takes the URL from that environment variable."""
    monkeypatch.setenv("IG_STORE_URL", pg_url)
    assert main(["db", "upgrade", "--store", "env:IG_STORE_URL", "--schema", pg_schema]) == 0
    assert "(created)" in capsys.readouterr().out


def test_a_newer_postgres_store_is_refused(
    pg_url: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store of a newer schema exits 2 with one line and keeps its version."""
    assert main(["db", "upgrade", "--store", pg_url, "--schema", pg_schema]) == 0
    with psycopg.connect(pg_url, options=f"-c search_path={pg_schema}") as conn:
        conn.execute("UPDATE schema_version SET version = 42")
    assert main(["db", "upgrade", "--store", pg_url, "--schema", pg_schema, "--log-format",
                 "console"]) == 2  # fmt: skip
    assert "has schema 42" in capsys.readouterr().err
    with psycopg.connect(pg_url, options=f"-c search_path={pg_schema}") as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(42,)]


def test_a_refused_login_is_one_line_without_the_password(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong password exits 2 naming the redacted URL, never the password."""
    wrong = pg_url.replace("igc:igc@", "igc:N0tThePassw0rd@")
    assert main(["db", "upgrade", "--store", wrong, "--log-format", "console"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to" in err and "N0tThePassw0rd" not in err


def test_upgrade_creates_a_sqlite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--sqlite`` creates the file (and its folder) at the current version."""
    path = tmp_path / "new" / "out.sqlite"
    assert main(["db", "upgrade", "--sqlite", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: schema version {SQLITE_VERSION} (created)\n"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SQLITE_VERSION,)


def test_schema_with_sqlite_is_a_usage_error(tmp_path: Path) -> None:
    """``--schema`` belongs to a PostgreSQL store: with ``--sqlite`` it is exit 2."""
    assert main(["db", "upgrade", "--sqlite", str(tmp_path / "x.sqlite"), "--schema", "s"]) == 2
    assert not (tmp_path / "x.sqlite").exists()


def test_upgrade_migrates_a_version_2_sqlite_file_keeping_its_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file the collector wrote at schema 2 (tests/fixtures) is brought to the current
    version in place, and its insights view has every row the old table had."""
    path = tmp_path / "old.sqlite"
    with gzip.open(Path(__file__).parent.parent / "fixtures" / "store_v2.sqlite.gz") as packed:
        path.write_bytes(packed.read())
    with sqlite3.connect(path) as db:
        before = sorted(db.execute("SELECT * FROM insights").fetchall(), key=repr)
    assert main(["db", "upgrade", "--sqlite", str(path)]) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(f"schema version {SQLITE_VERSION} (upgraded from 2)")
    )
    with sqlite3.connect(path) as db:
        columns = (
            "account_id, metric, period, end_time, dimensions, value, api_version, fetched_at, seq"
        )
        after = sorted(db.execute(f"SELECT {columns} FROM insights").fetchall(), key=repr)
    assert len(after) == 2187 and after == before
