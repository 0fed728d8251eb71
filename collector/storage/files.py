"""An append-only file destination with durable appends and truncate-on-open.

The destination knows bytes and offsets, not records. Its contract is what
the exactly-once commit (:mod:`collector.storage.writer`) needs:

- :meth:`AppendFile.open` cuts the file back to the committed offset the caller
  got from its checkpoint: bytes past it belong to a commit that never finished.
- :meth:`AppendFile.append` writes, flushes and ``fsync``s, then returns the new
  end offset; only after that may the caller record the offset as committed.
- Compressed files (``.gz``) get one complete gzip member per append, so every
  committed offset is a member boundary and a file cut there is a valid gzip
  stream (RFC 1952 §2.2: a gzip file is a series of members; ``gzip.open``
  reads them all as one stream).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import BinaryIO

_GZIP_LEVEL = 6


def is_gzip_path(path: Path) -> bool:
    """Whether a destination at ``path`` is written gzip-compressed (suffix ``.gz``)."""
    return path.suffix == ".gz"


def file_size(path: Path) -> int | None:
    """The size of the file at ``path`` in bytes, or ``None`` when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class AppendFile:
    """A file that only grows by whole, durable appends (plain or gzip).

    Not thread-safe: one writer at a time, which :mod:`collector.storage.writer` is.
    """

    def __init__(self, path: Path, handle: BinaryIO, offset: int, compress: bool) -> None:
        self._path = path
        self._handle = handle
        self._offset = offset
        self._compress = compress

    @classmethod
    def open(cls, path: Path, committed_offset: int, *, compress: bool | None = None) -> AppendFile:
        """Open (or create) ``path`` for appending after ``committed_offset``.

        Anything past ``committed_offset`` is cut off. Raises ``ValueError`` if
        the file is shorter than ``committed_offset`` (committed data is
        missing: the caller must not paper over that) and ``OSError`` for I/O
        failures. ``compress`` defaults to :func:`is_gzip_path`.
        """
        if committed_offset < 0:
            raise ValueError(f"negative offset {committed_offset} for {path}")
        created = not path.exists()
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            _fsync_dir(path.parent)
        handle = path.open("r+b")
        try:
            size = os.fstat(handle.fileno()).st_size
            if size < committed_offset:
                raise ValueError(
                    f"{path} holds {size} bytes, fewer than the {committed_offset} committed"
                )
            if size > committed_offset:
                handle.truncate(committed_offset)
                os.fsync(handle.fileno())
            handle.seek(committed_offset)
        except BaseException:
            handle.close()
            raise
        return cls(
            path, handle, committed_offset, is_gzip_path(path) if compress is None else compress
        )

    @property
    def path(self) -> Path:
        return self._path

    @property
    def offset(self) -> int:
        """The end of the last successful append (bytes from the start of the file)."""
        return self._offset

    @property
    def compressed(self) -> bool:
        return self._compress

    def append(self, data: bytes) -> int:
        """Durably append ``data`` (one gzip member if compressed) and return the new offset.

        Empty ``data`` writes nothing. On failure the file is cut back to the
        previous offset before the error propagates, so the next append does
        not land after half a write.
        """
        if not data:
            return self._offset
        payload = (
            gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0) if self._compress else data
        )
        try:
            self._handle.write(payload)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except BaseException:
            self.truncate(self._offset)
            raise
        self._offset += len(payload)
        return self._offset

    def truncate(self, offset: int) -> None:
        """Cut the file back to ``offset`` (an earlier committed offset) and append from there."""
        if offset > self._offset:
            raise ValueError(
                f"cannot truncate {self._path} forward to {offset} (at {self._offset})"
            )
        self._handle.seek(offset)
        self._handle.truncate(offset)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._offset = offset

    def close(self) -> None:
        """Close the file; appends are already durable, so this loses nothing."""
        self._handle.close()


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (POSIX: a file's creation needs its directory synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
