"""Looking at an output before using it: can a run write there, is a file one of ours.

:func:`check_outputs` runs before any request is sent (the CLI calls it before
``run_once``): a ``--sqlite`` path that is a directory, a file that is not
SQLite, a SQLite file of another program, a read-only file or a file in a
read-only directory each raise :class:`~collector.errors.OutputError` with one
line naming the path and the fix. It only reads: the file is left byte for
byte as it was (a SQLite file is opened read-only, ``mode=ro``).

:func:`open_read_only` is ``ig-collector status``'s door: it opens a store
read-only and refuses a file that is not one of ours without writing anything
to it; :func:`open_point_reader` is the same door for exports and reports.

"Read-only" goes by the permission bits as well as :func:`os.access`: root may
write to a ``0444`` file, but a file whose owner made it read-only is not an
output a run should take over.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final
from urllib.parse import quote

import aiosqlite

from collector.clock import Clock, SystemClock
from collector.errors import OutputError
from collector.storage.protocol import InsightStore
from collector.storage.reader import PointReader
from collector.storage.schema import SCHEMA_VERSION, SchemaError
from collector.storage.sqlite import Store
from collector.storage.sqlite_reader import SqlitePointReader

# The first 16 bytes of every SQLite 3 database file (https://sqlite.org/fileformat.html).
SQLITE_MAGIC: Final = b"SQLite format 3\x00"

# Tables every version of the store has (collector.storage.schema).
OUR_TABLES: Final = frozenset({"insights", "ledger"})


def check_outputs(sqlite: Path, ndjson: Path | None = None) -> None:
    """Raise :class:`OutputError` unless a run can write both outputs; changes nothing.

    ``sqlite`` may be missing (it is created, with its folders), an empty file,
    or a store of ours; ``ndjson`` may be missing or any writable file (the
    writer checks its contents against the store's checkpoint).
    """
    check_sqlite(sqlite)
    if ndjson is not None:
        _check_writable(ndjson, "--ndjson", "an NDJSON file path")


def check_sqlite(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` can be the run's store."""
    _check_writable(path, "--sqlite", "a SQLite file path")
    if path.exists():
        kind = sqlite_kind(path)
        if kind == "foreign":
            raise OutputError(
                f"{path}: a SQLite file of another program (no collector tables); "
                "fix: give --sqlite a new path or a store an earlier run wrote"
            )
        if kind == "text":
            raise OutputError(
                f"{path}: not a SQLite file; fix: give --sqlite a new path, or move that file away"
            )


def sqlite_kind(path: Path) -> str:
    """What the file at ``path`` is: ``empty``, ``text`` (not SQLite), ``foreign`` or ``ours``.

    Raises :class:`SchemaError` for a store of a newer schema, :class:`OutputError`
    for a file that cannot be read.
    """
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise OutputError(
            f"{path}: cannot be read ({error.strerror}); fix: check its permissions"
        ) from error
    if not head:
        return "empty"
    if head != SQLITE_MAGIC:
        return "text"
    try:
        with contextlib.closing(sqlite3.connect(_read_only_uri(path), uri=True)) as db:
            db.row_factory = sqlite3.Row
            tables = {row["name"] for row in db.execute("SELECT name FROM sqlite_master")}
            version = db.execute("PRAGMA user_version").fetchone()["user_version"]
    except sqlite3.DatabaseError as error:
        raise OutputError(
            f"{path}: a damaged SQLite file ({error}); fix: give --sqlite a new path"
        ) from error
    if not tables:
        return "empty"
    if not tables >= OUR_TABLES:
        return "foreign"
    if int(version) > SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema {version}; this version knows {SCHEMA_VERSION}; "
            "fix: use a newer ig-collector"
        )
    return "ours"


def check_store(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` is a store of ours; reads only.

    A missing path, a directory, an empty file, a file that is not SQLite and a
    SQLite file without the collector's tables are each refused in one line.
    """
    if not path.exists():
        raise OutputError(f"{path}: no such file; fix: give the --sqlite of a run")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; fix: give the --sqlite file of a run")
    kind = sqlite_kind(path)
    if kind != "ours":
        what = {"empty": "an empty file", "text": "not a SQLite file"}.get(
            kind, "a SQLite file of another program (no collector tables)"
        )
        raise OutputError(f"{path}: {what}, not a collector store; fix: give the --sqlite of a run")


@contextlib.asynccontextmanager
async def open_read_only(path: Path, *, clock: Clock | None = None) -> AsyncIterator[InsightStore]:
    """The store at ``path``, opened read-only (``mode=ro``): nothing is created in it.

    Raises :class:`OutputError` as :func:`check_store` does.
    """
    check_store(path)
    db = await aiosqlite.connect(_read_only_uri(path), uri=True)
    try:
        # Store's constructor takes an open connection: here one that cannot write.
        yield Store(db, path, clock or SystemClock())
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_point_reader(path: Path) -> AsyncIterator[PointReader]:
    """A :class:`PointReader` on the store at ``path``, opened read-only (``mode=ro``).

    Raises :class:`OutputError` as :func:`check_store` does.
    """
    check_store(path)
    db = await aiosqlite.connect(_read_only_uri(path), uri=True)
    try:
        yield SqlitePointReader(db)
    finally:
        await db.close()


def _read_only_uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _check_writable(path: Path, option: str, what: str) -> None:
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; fix: give {option} {what} inside it")
    if path.exists():
        if not _writable(path):
            raise OutputError(
                f"{path}: is read-only; fix: make it writable (chmod u+w) or give {option} "
                "another path"
            )
        folder = path.parent
    else:
        folder = _nearest_existing(path.parent)
        if not folder.is_dir():
            raise OutputError(
                f"{path}: {folder} is a file, not a folder; fix: give {option} another path"
            )
    if not _writable(folder):
        raise OutputError(
            f"{path}: its folder {folder} is read-only; fix: make the folder writable "
            f"or give {option} another path"
        )


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _writable(path: Path) -> bool:
    """Writable by this process, and not marked read-only by its permission bits."""
    mode = path.stat().st_mode
    return os.access(path, os.W_OK) and bool(stat.S_IMODE(mode) & 0o222)
