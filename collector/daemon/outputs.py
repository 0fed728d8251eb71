"""The daemon's outputs: the NDJSON file each run writes (rotation between runs, never
inside one), and what the SQLite file says when the daemon (re)starts."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from pathlib import Path

import structlog

from collector.clock import Clock
from collector.config.load import Config, OutputSettings
from collector.engine.jobs import store_address
from collector.model.records import rfc3339
from collector.storage.files import file_size
from collector.storage.lock import output_locks
from collector.storage.opening import open_store
from collector.storage.protocol import AccountFreshness
from collector.storage.rotation import rotation_target

log = structlog.get_logger("collector.daemon.outputs")

# How often (wall seconds) a napping daemon looks whether a `pull` enqueued work.
QUEUE_LOOK_S = 5.0


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
    if config.store.url is None:
        Path(config.output.sqlite).parent.mkdir(parents=True, exist_ok=True)
    store = await open_store(store_address(config), clock=clock)
    try:
        rows = list(await store.freshness())
        checkpoint = await store.checkpoint()
    finally:
        await store.close()
    last = Path(checkpoint.path) if checkpoint is not None and checkpoint.path else None
    return rows, last


async def queue_waiting(config: Config, clock: Clock) -> bool:
    """Whether the store's queue holds requests of ``config``'s apps that nobody works."""
    store = await open_store(store_address(config), clock=clock)
    try:
        return await store.claimable([app.name for app in config.apps]) > 0
    finally:
        await store.close()


async def prune_jobs(config: Config, clock: Clock, keep_s: float) -> int:
    """Forget the store's finished jobs older than ``keep_s`` seconds (their links to the
    ledger grow with every refresh cycle); logs ``jobs_pruned`` when any went."""
    store = await open_store(store_address(config), clock=clock)
    try:
        before = rfc3339(clock.now() - dt.timedelta(seconds=keep_s))
        pruned = await store.prune_jobs(before)
    finally:
        await store.close()
    if pruned:
        log.info("jobs_pruned", jobs=pruned, before=before)
    return pruned


class OutputHold:
    """The daemon's hold on its outputs' write locks, for its whole life.

    :meth:`hold` takes the locks of a config's SQLite file and NDJSON base path
    (a reload that moves them takes the new ones before it lets the old go);
    another process on the same outputs is refused, and this daemon is refused
    outputs someone else writes.
    """

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None
        self._paths: tuple[Path | None, ...] = ()

    def hold(self, config: Config) -> None:
        """Hold ``config``'s outputs; raises :class:`OutputError` naming their writer."""
        # A PostgreSQL store has no file to hold: its queue keeps daemons apart.
        paths = () if config.store.url else (config.output.sqlite, config.output.ndjson)
        if paths == self._paths:
            return
        taken = contextlib.ExitStack()
        taken.enter_context(output_locks(paths))
        self.release()
        self._stack, self._paths = taken, paths

    def release(self) -> None:
        stack, self._stack, self._paths = self._stack, None, ()
        if stack is not None:
            stack.close()
