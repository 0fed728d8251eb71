"""Shared fixtures: kept small; emulator helpers live in collector.emulator.testing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session for talking to an emulator over loopback."""
    async with aiohttp.ClientSession() as session:
        yield session
