"""Which NDJSON file a store may continue, and from which byte (the writer's start).

The store's checkpoint names the file the last writer appended to and the size
it committed. A writer continues that file from that size (cutting any bytes
a killed writer left past it), starts a missing or empty file afresh, and
refuses anything else: appending to a file the store does not vouch for would
duplicate points or leave the file missing some.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from collector.errors import OutputError
from collector.model.outcome import Checkpoint
from collector.storage.files import AppendFile, file_size

log = structlog.get_logger("collector.storage.writer")

__all__ = ["SinkMismatchError", "cut_uncommitted", "resume_offset"]


class SinkMismatchError(OutputError):
    """The NDJSON file and the SQLite file do not belong together; nothing was written."""


def resume_offset(checkpoint: Checkpoint | None, path: Path, size: int | None, db: str) -> int:
    """Where appending to the NDJSON file at ``path`` (``size`` bytes, ``None``: absent) resumes.

    Returns the committed offset to cut the file back to (0 for a file started
    afresh). Raises :class:`SinkMismatchError` when the file holds bytes the
    checkpoint of the store at ``db`` (its location) does not vouch for, or
    less than it committed.
    """
    name = str(path)
    if checkpoint is None or checkpoint.path != name:
        if not size:
            return 0
        last = (
            "no NDJSON file" if checkpoint is None or checkpoint.path is None else checkpoint.path
        )
        raise SinkMismatchError(
            f"{path} already holds {size} bytes, but {db} last wrote to {last}; "
            f"fix: use the SQLite file that wrote {path}, or give a new NDJSON path"
        )
    if size is None:
        if checkpoint.offset == 0:
            return 0
        raise SinkMismatchError(
            f"{path} is missing, but {db} committed {checkpoint.offset} bytes to it; "
            "fix: restore the file, or give a new NDJSON path (it will hold only new or changed"
            " points)"
        )
    if size < checkpoint.offset:
        raise SinkMismatchError(
            f"{path} holds {size} bytes, fewer than the {checkpoint.offset} that {db} committed; "
            "fix: restore the file, or give a new NDJSON path (it will hold only new or changed"
            " points)"
        )
    return checkpoint.offset


def cut_uncommitted(path: Path, offset: int) -> None:
    """Cut ``path`` back to its committed ``offset`` if it holds more (missing: nothing)."""
    size = file_size(path)
    if size is not None and size > offset:
        AppendFile.open(path, offset).close()
        log.warning("ndjson_truncated", path=str(path), offset=offset, dropped=size - offset)
