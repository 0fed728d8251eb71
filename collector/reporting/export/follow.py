"""``export --format ndjson --follow``: the store's commits as an NDJSON stream, each once.

With a shared store, many processes commit points and none of them can stream
NDJSON directly. The follower reads what has committed, in the store's commit
sequence (:meth:`~collector.storage.protocol.InsightStore.committed_after`),
and appends it to one file, resuming from its own checkpoint:

1. read the checkpoint ``<out>.checkpoint`` (the last sequence written and
   the file's size then; none: start from the beginning, the file empty);
2. cut the file back to that size (a follower killed between its append and
   its checkpoint leaves lines the checkpoint does not know: they come again);
3. loop: take the next points past the sequence, append them, fsync, then
   replace the checkpoint atomically (write a temporary file, rename).

So every committed point (identity and value) reaches the file exactly once,
whatever kills the follower when; a value changed later is a later line, as
in the direct NDJSON sink. Without ``follow`` it stops once caught up.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
import structlog

from collector.clock import Clock, wait_event
from collector.errors import OutputError
from collector.storage.files import AppendFile, file_size
from collector.storage.ndjson import encode_points
from collector.storage.protocol import InsightStore

log = structlog.get_logger("collector.reporting.export.follow")

__all__ = ["FollowState", "follow", "read_state"]

_BATCH: Final = 5_000


@dataclass(frozen=True, slots=True)
class FollowState:
    """Where a follower stands: the last commit sequence written and the file's size then."""

    seq: int = 0
    offset: int = 0


def checkpoint_path(out: Path) -> Path:
    """The follower's checkpoint beside its output: ``<out>.checkpoint``."""
    return out.with_name(out.name + ".checkpoint")


def read_state(out: Path) -> FollowState:
    """The checkpoint of ``out``; a fresh start when there is none."""
    path = checkpoint_path(out)
    if not path.exists():
        return FollowState()
    data = orjson.loads(path.read_bytes())
    return FollowState(int(data["seq"]), int(data["offset"]))


def _write_state(out: Path, state: FollowState) -> None:
    path = checkpoint_path(out)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as fh:
        fh.write(orjson.dumps({"seq": state.seq, "offset": state.offset}))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)  # atomic: the old or the new checkpoint, never half


async def follow(
    store: InsightStore,
    out: Path,
    clock: Clock,
    *,
    keep_following: bool,
    stop: asyncio.Event | None = None,
    poll_s: float = 1.0,
) -> int:
    """Append the store's committed points past the checkpoint to ``out``; how many.

    Returns when caught up (``keep_following`` false) or when ``stop`` is set.
    """
    stop = stop or asyncio.Event()
    state = read_state(out)
    size = file_size(out)
    if size is not None and size > state.offset:
        log.warning(
            "ndjson_truncated", path=str(out), offset=state.offset, dropped=size - state.offset
        )
    try:
        file = await asyncio.to_thread(AppendFile.open, out, state.offset)
    except ValueError as error:
        raise OutputError(
            f"{out} is shorter than its checkpoint {checkpoint_path(out).name} says ({error}); "
            "fix: delete both to export from the beginning, or restore the file"
        ) from None
    written = 0
    try:
        while not stop.is_set():
            batch = await store.committed_after(state.seq, _BATCH)
            if batch:
                offset = await asyncio.to_thread(file.append, encode_points(p for _, p in batch))
                state = FollowState(batch[-1][0], offset)
                await asyncio.to_thread(_write_state, out, state)
                written += len(batch)
                log.debug("export_appended", points=len(batch), seq=state.seq)
                continue
            if not keep_following:
                break
            await wait_event(clock, stop, poll_s)
    finally:
        file.close()
    log.info("export_followed", points=written, seq=state.seq, path=str(out))
    return written
