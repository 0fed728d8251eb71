"""The two stores under one face, for the contract tests that run the same test on both.

A :class:`Backend` opens store instances on one shared store (a SQLite file
or a PostgreSQL schema) and reads its tables through a connection of its own,
independent of the store's code.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.clock import ManualClock


@dataclass
class Backend:
    """Opens store instances on one shared store (a file or a schema); closes them all.

    ``name`` is ``sqlite`` or ``postgres``; ``write_method`` is the PostgreSQL
    store's (``copy`` or ``values``), ignored by SQLite.
    """

    name: str
    clock: ManualClock
    target: str
    write_method: str = "copy"
    opened: list[Any] = field(default_factory=list)

    async def open(self) -> Any:
        """A new store instance on the shared store, closed by :meth:`close`."""
        if self.name == "sqlite":
            from collector.storage.sqlite import Store

            store: Any = await Store.open(Path(self.target), clock=self.clock)
        else:
            from collector.storage.postgres import PostgresStore

            url, schema = self.target.split("#")
            store = await PostgresStore.open(
                url, clock=self.clock, schema=schema, write_method=self.write_method
            )
        self.opened.append(store)
        return store

    async def close(self) -> None:
        """Close every instance :meth:`open` made (closing one twice is harmless)."""
        for store in self.opened:
            await store.close()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        """The rows of ``sql``, read by a connection of its own (not the store's code)."""
        if self.name == "sqlite":
            with sqlite3.connect(self.target) as db:
                return db.execute(sql).fetchall()
        import psycopg

        url, schema = self.target.split("#")
        with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
            return conn.execute(sql).fetchall()

    def rows(self) -> list[tuple[object, ...]]:
        """The insights table in insertion order, every column, the value as text."""
        sqlite = self.name == "sqlite"
        value, order = ("CAST(value AS TEXT)", "rowid") if sqlite else ("value::text", "id")
        return self.query(
            f"SELECT account_id, metric, period, end_time, dimensions, {value}, api_version,"
            f" fetched_at FROM insights ORDER BY {order}"
        )

    def refused(self) -> type[Exception]:
        """The error the backend raises for a point it cannot store (a NaN value)."""
        if self.name == "sqlite":
            return sqlite3.IntegrityError
        import psycopg

        error: type[Exception] = psycopg.errors.CheckViolation
        return error
