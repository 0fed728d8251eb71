"""The daemon's outputs: the NDJSON file each run writes (rotation between runs, never
inside one), and what the SQLite file says when the daemon (re)starts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import structlog

from collector.clock import Clock
from collector.config.load import Config, OutputSettings
from collector.storage.files import file_size
from collector.storage.protocol import AccountFreshness
from collector.storage.rotation import rotation_target
from collector.storage.sqlite import Store

log = structlog.get_logger("collector.daemon.outputs")


def output_for_run(config: Config, current: Path | None, today_utc: dt.date) -> OutputSettings:
    """``config.output`` with the NDJSON file the next run appends to.

    ``current``: the file the last run wrote (``None``: none yet). It is kept
    until ``[daemon] rotate`` says its size or its day is over; a new file is
    logged as ``ndjson_rotated``.
    """
    output = config.output
    if output.ndjson is None:
        return output
    size = (file_size(current) or 0) if current is not None else 0
    target = rotation_target(
        output.ndjson.absolute(), config.daemon.rotate, current, size, today_utc
    )
    if target != current:
        log.info("ndjson_rotated", path=str(target), previous=str(current) if current else None)
    return dataclasses.replace(output, ndjson=target)


async def read_state(config: Config, clock: Clock) -> tuple[list[AccountFreshness], Path | None]:
    """What the SQLite file says: each account's freshness, and the NDJSON file the
    last run wrote (``None``: none). Creates the file's folder (and the file) if missing."""
    path = Path(config.output.sqlite)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = await Store.open(path, clock=clock)
    try:
        rows = list(await store.freshness())
        checkpoint = await store.checkpoint()
    finally:
        await store.close()
    last = Path(checkpoint.path) if checkpoint is not None and checkpoint.path else None
    return rows, last
