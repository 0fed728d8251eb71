"""Shared fixtures: kept small; emulator helpers live in collector.emulator.testing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import structlog

# PostgreSQL fixtures (pg_url, pg_schema, pg_store) for every test folder.
pytest_plugins = ["tests.pg_fixtures"]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session for talking to an emulator over loopback."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts and ends with structlog's defaults: no configuration leaks between tests."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
