"""Fixtures of the end-to-end tests that several modules share (and the store they run on:
``store_probe``, SQLite then PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.current import two_versions_pull
from tests.e2e.delivery import Delivered
from tests.e2e.stores import store_probe

__all__ = ["delivered", "store_probe"]


@pytest.fixture(scope="session")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Delivered:
    """The small scenario pulled once, app-a on v17.0 and app-b on v24.0, for exports and
    reports to read; its ground truth beside it."""
    folder = tmp_path_factory.mktemp("delivered")
    scenario, summary, refused, truth = asyncio.run(two_versions_pull(folder))
    assert (summary.failed, refused) == (0, 0)
    return Delivered(scenario, folder, truth)
