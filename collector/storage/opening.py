"""Which store a command works on: the SQLite file of one host, or a shared PostgreSQL.

:func:`open_store` is the one place that picks the implementation; everything
above it holds a :class:`SharedStore` (the insight store and the work queue of
:mod:`collector.storage.protocol` and :mod:`collector.storage.queue`).
PostgreSQL is imported only when a URL asks for it (the ``postgres`` extra).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from collector.clock import Clock
from collector.storage.inspect import open_point_reader
from collector.storage.protocol import InsightStore
from collector.storage.queue import WorkQueue
from collector.storage.reader import PointReader
from collector.storage.sqlite import Store

__all__ = ["SharedStore", "StoreAddress", "open_store", "opened_point_reader", "opened_store"]


class SharedStore(InsightStore, WorkQueue, Protocol):
    """A store that keeps insights and is the queue processes share."""


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """Where the store is: ``url`` (PostgreSQL; a secret, never logged) or the ``sqlite`` file.

    ``schema``: the PostgreSQL schema holding the tables (``None``: the role's default).
    """

    sqlite: Path
    url: str | None = field(default=None, repr=False)
    schema: str | None = None

    @property
    def shared(self) -> bool:
        """Whether processes on several hosts may share it (PostgreSQL)."""
        return self.url is not None


async def open_store(address: StoreAddress, *, clock: Clock | None = None) -> SharedStore:
    """Open (creating or migrating) the store at ``address``; the caller closes it."""
    if address.url is not None:
        from collector.storage.postgres import PostgresStore

        return await PostgresStore.open(address.url, clock=clock, schema=address.schema)
    return await Store.open(address.sqlite, clock=clock)


@contextlib.asynccontextmanager
async def opened_store(
    address: StoreAddress, *, clock: Clock | None = None
) -> AsyncIterator[SharedStore]:
    """:func:`open_store` for an ``async with`` block; closed on the way out."""
    store = await open_store(address, clock=clock)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def opened_point_reader(address: StoreAddress) -> AsyncIterator[PointReader]:
    """A :class:`PointReader` on the store at ``address``: the SQLite file read-only, or a
    connection of its own to PostgreSQL; closed on the way out."""
    if address.url is None:
        async with open_point_reader(address.sqlite) as reader:
            yield reader
        return
    from collector.storage.postgres_connect import connect, connect_kwargs, driver, location_of
    from collector.storage.postgres_reader import PostgresPointReader

    _psycopg, dict_row, _pool = driver()
    location = location_of(address.url, address.schema)
    conn = await connect(address.url, location, connect_kwargs(address.schema, dict_row))
    try:
        yield PostgresPointReader(conn)
    finally:
        await conn.close()
