"""The store an end-to-end test runs on, SQLite or PostgreSQL, read back as SQL rows."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.e2e.helpers import Key, dims_text


@dataclass(frozen=True)
class StoreProbe:
    """Where a test's store is (``pg_url``/``schema`` for PostgreSQL, else ``sqlite``)."""

    sqlite: Path
    pg_url: str | None = None
    schema: str | None = None

    @property
    def config(self) -> str:
        """The ``[store]`` table pointing a config at this store (with short leases)."""
        text = "\n[store]\nlease_s = 3\npoll_s = 0.2\n"
        if self.pg_url is not None:
            text += f'url = "{self.pg_url}"\nschema = "{self.schema}"\n'
        return text

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """Every row of ``sql`` (plain SQL both engines read the same way)."""
        if self.pg_url is None:
            with sqlite3.connect(self.sqlite) as db:
                return [tuple(r) for r in db.execute(sql).fetchall()]
        import psycopg

        with psycopg.connect(self.pg_url, options=f"-csearch_path={self.schema}") as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]

    def points(self) -> dict[Key, int | float]:
        """Every stored point by identity; a duplicate identity fails the test."""
        points: dict[Key, int | float] = {}
        for account, metric, period, end_time, dims, value in self.rows(
            "SELECT account_id, metric, period, end_time, dimensions, value FROM insights"
        ):
            key = (str(account), str(metric), str(period), None if end_time is None else str(end_time),
                   dims_text(orjson.loads(str(dims))))  # fmt: skip
            assert key not in points, f"duplicate row {key}"
            points[key] = _number(value)
        return points

    def ledger_states(self) -> dict[str, int]:
        return {
            str(s): int(str(n))
            for s, n in self.rows("SELECT state, count(*) FROM ledger GROUP BY state")
        }

    def pending_by_job(self) -> dict[int, int]:
        rows = self.rows(
            "SELECT jr.job_id, count(*) FROM job_requests AS jr JOIN ledger AS l ON l.key = jr.key"
            " WHERE l.state = 'pending' GROUP BY jr.job_id"
        )
        return {int(str(j)): int(str(n)) for j, n in rows}

    def last_seq(self) -> int:
        (value,) = self.rows("SELECT max(seq) FROM insights")[0]
        return int(str(value or 0))


def _number(value: object) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    assert isinstance(value, int | float)
    return value


@pytest.fixture(params=["sqlite", "postgres"])
def store_probe(request: pytest.FixtureRequest, tmp_path: Path) -> StoreProbe:
    """Each test using it runs on SQLite, then on PostgreSQL (its own schema)."""
    if request.param == "sqlite":
        return StoreProbe(tmp_path / "insights.sqlite")
    url = request.getfixturevalue("pg_url")
    schema = request.getfixturevalue("pg_schema")
    return StoreProbe(tmp_path / "insights.sqlite", url, schema)
