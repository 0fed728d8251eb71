"""The store the sink writer's tests write to (modules with their own ``store`` keep theirs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.clock import ManualClock
from collector.storage.sqlite import Store
from tests.storage.writer_support import NOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite store in ``tmp_path``, closed after the test."""
    opened = await Store.open(tmp_path / "out.sqlite", clock=ManualClock(NOW))
    yield opened
    await opened.close()
