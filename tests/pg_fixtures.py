"""PostgreSQL for the tests: a server URL per session, a schema of its own per test.

The URL is ``IG_TEST_PG_URL`` (``scripts/test`` exports what ``scripts/pg-up``
printed), else the URL ``scripts/pg-up`` makes. Where no server answers, a test
that needs one is skipped with the reason, except under ``CI=true``: there it
fails, so a CI run never passes without having tested PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Final

import pytest

from collector.clock import ManualClock
from collector.storage.postgres import PostgresStore

DEFAULT_URL: Final = "postgresql://igc:igc@127.0.0.1:5432/igc_test"
NOW: Final = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def _unavailable(reason: str) -> None:
    """Fail under CI=true, else skip: the one way a PostgreSQL test may not run."""
    message = f"PostgreSQL unavailable: {reason} (start it with scripts/pg-up)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL, checked once per session by connecting to it."""
    url = os.environ.get("IG_TEST_PG_URL") or DEFAULT_URL
    try:
        import psycopg
    except ImportError as error:
        _unavailable(f"psycopg is not installed ({error})")
        raise
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as error:
        _unavailable(f"cannot connect to {url}: {str(error).strip()}")
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A new, empty schema of the test database for one test; dropped after it."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock at :data:`NOW` that moves only when the test advances it."""
    return ManualClock(NOW)


@pytest.fixture
async def pg_store(
    pg_url: str, pg_schema: str, manual_clock: ManualClock
) -> AsyncIterator[PostgresStore]:
    """A PostgreSQL store in the test's own schema, on the test's manual clock."""
    store = await PostgresStore.open(pg_url, clock=manual_clock, schema=pg_schema)
    yield store
    await store.close()
