"""The stores the storage tests write to: a SQLite ``store`` (modules with their own keep
theirs), and the ``backend`` a contract module names by parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.clock import ManualClock
from collector.storage.sqlite import Store
from tests.storage.backends import Backend
from tests.storage.writer_support import NOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite store in ``tmp_path``, closed after the test."""
    opened = await Store.open(tmp_path / "out.sqlite", clock=ManualClock(NOW))
    yield opened
    await opened.close()


@pytest.fixture
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, manual_clock: ManualClock
) -> AsyncIterator[Backend]:
    """The store the test's ``backend`` parameter names, on the test's manual clock.

    ``sqlite``: a file in ``tmp_path``; ``postgres`` or ``postgres-values``: the
    test's own schema, written by COPY or by VALUES (skipped where no server answers).
    A contract module asks with ``pytest.mark.parametrize("backend", [...], indirect=True)``.
    """
    name, _, method = str(request.param).partition("-")
    if name == "sqlite":
        target = str(tmp_path / "store.sqlite")
    else:
        target = f"{request.getfixturevalue('pg_url')}#{request.getfixturevalue('pg_schema')}"
    opened = Backend(name, manual_clock, target, method or "copy")
    yield opened
    await opened.close()
