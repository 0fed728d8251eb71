"""The single writer task: batches outcomes and commits them to SQLite and NDJSON exactly once.

One commit of a batch (the order is the whole point):

1. :meth:`InsightStore.transaction` begins; :meth:`StoreTransaction.record_outcomes`
   stages the points, finds the new or changed ones set-wise, upserts them and
   updates the batch's ledger rows.
2. Encode exactly those points as NDJSON, append them to the file, flush and
   fsync: this gives the new offset.
3. :meth:`StoreTransaction.set_checkpoint` with the new offset, and the
   transaction's block ends: COMMIT.

A SIGKILL before 3's COMMIT leaves SQLite rolled back and the file with bytes
past the committed offset, which :func:`resume_offset` and
:meth:`AppendFile.open` cut off at the next start; after 3 both sinks agree.
Unfinished requests are sent again on the next run, and points whose value is
unchanged are not written again, so each point (identity, value) reaches the
NDJSON file exactly once; a changed value appends a line with a later
``fetched_at`` (readers keep the last line per identity).

Which NDJSON file a SQLite file may continue (see :func:`resume_offset`): the
checkpoint names the file the last writer appended to. A writer that starts on
another file first cuts the named one back to its committed offset (the
daemon's rotation switches files this way, between runs). A non-empty file is
continued only when the checkpoint names it; otherwise the writer refuses to
start (:class:`SinkMismatchError`), because appending would either duplicate
points or leave the file missing some. A missing or empty file may always be
started: it then holds the points that are new or changed from now on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from collector.clock import Clock, TimedOut, within
from collector.errors import StoreFailed
from collector.model.outcome import Checkpoint, Outcome
from collector.storage.files import AppendFile, file_size
from collector.storage.ndjson import encode_rows
from collector.storage.protocol import InsightStore, PointChanges
from collector.storage.queue import Fence
from collector.storage.resume import SinkMismatchError, cut_uncommitted, resume_offset
from collector.tasks import wait_out

log = structlog.get_logger(__name__)

# SinkMismatchError and resume_offset live in collector.storage.resume; named here too,
# beside the writer whose start raises and uses them.
__all__ = [
    "SinkMismatchError", "SinkWriter", "WriterFailedError", "WriterStats", "resume_offset",
]  # fmt: skip


class _Flush:
    """Queued by :meth:`SinkWriter.flush`: commit the batch being gathered now."""


_FLUSH = _Flush()


class _Timeout:
    """No outcome arrived before the batch's deadline."""


class WriterFailedError(StoreFailed):
    """The writer task died; the outcomes not yet committed are not stored."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counts since :meth:`SinkWriter.start`, for the run summary."""

    batches: int = 0
    outcomes: int = 0
    points_written: int = 0  # new or changed: upserted and appended to NDJSON
    points_unchanged: int = 0  # same value as stored: left alone
    done: int = 0
    no_data: int = 0
    failed: int = 0
    fenced: int = 0  # outcomes dropped because another worker had taken their claim


class SinkWriter:
    """The one task that writes: ``start``, then ``put`` outcomes, then ``close``.

    A batch is committed when it holds ``max_outcomes`` outcomes or
    ``max_points`` points, or ``max_delay`` seconds (of ``clock``) after its
    first outcome arrived. ``put`` waits while ``queue_size`` outcomes or
    ``max_queued_points`` points are queued (backpressure: the points bound keeps
    memory flat whatever the size of the answers; one outcome is always let in
    when nothing is queued) and raises :class:`WriterFailedError` once the task
    has died. ``ndjson`` ``None`` writes SQLite only. The store stays open
    after :meth:`close`; its owner closes it.

    ``fence`` (a worker's claims; the worker keeps its ``tokens`` current)
    makes every commit drop the outcomes whose claim was taken by another
    worker; ``on_commit`` sees each committed batch and what it changed.

    The writer task outlives the calls that feed it, so no TaskGroup can hold
    it: this object owns it, and :meth:`close` awaits it on every way out, a
    cancel included (see :mod:`collector.tasks`). ``put`` waits on no task of
    its own: the writer wakes it.

    ``stage_hook`` is a test seam: it is called with ``"staged"``,
    ``"appended"`` and ``"committed"`` around each commit's steps (crash tests
    kill the process there).
    """

    def __init__(
        self,
        store: InsightStore,
        ndjson: Path | None,
        clock: Clock,
        *,
        max_outcomes: int = 200,
        max_points: int = 5_000,
        max_delay: float = 0.2,
        queue_size: int = 1_000,
        max_queued_points: int = 50_000,
        stage_hook: Callable[[str], None] | None = None,
        fence: Fence | None = None,
        on_commit: Callable[[Sequence[Outcome], PointChanges], None] | None = None,
    ) -> None:
        if min(max_outcomes, max_points, queue_size, max_queued_points) < 1 or max_delay < 0:
            raise ValueError("batch limits and queue size must be positive")
        self._store = store
        self._ndjson = None if ndjson is None else ndjson.absolute()
        self._clock = clock
        self._max_outcomes = max_outcomes
        self._max_points = max_points
        self._max_delay = max_delay
        # Unbounded: put() applies queue_size itself, so close()'s stop marker never waits.
        self._queue: asyncio.Queue[Outcome | _Flush | None] = asyncio.Queue()
        self._queue_size = queue_size
        self._max_queued_points = max_queued_points
        self._queued_points = 0  # points of the outcomes in the queue
        self._took = asyncio.Event()  # set, then replaced, when the task takes an item or ends
        self._hook = stage_hook or (lambda _stage: None)
        self._file: AppendFile | None = None
        self._task: asyncio.Task[None] | None = None
        self._committing = False  # a batch's commit is under way: it is never cut in half
        self._abandoned = False  # close() was cancelled: take nothing more
        self._stats = WriterStats()
        self._fence = fence
        self._on_commit = on_commit

    @property
    def stats(self) -> WriterStats:
        return self._stats

    @property
    def backlog(self) -> int:
        """Outcomes queued and not yet taken into a batch."""
        return self._queue.qsize()

    @property
    def saturated(self) -> bool:
        """Whether the queue is full: the dispatcher should take no more work."""
        return (
            self._queue.qsize() >= self._queue_size
            or self._queued_points >= self._max_queued_points
        )

    async def start(self) -> None:
        """Open the NDJSON file (cutting uncommitted bytes) and start the writer task.

        Raises :class:`SinkMismatchError` if the NDJSON file does not belong to
        the store (see :func:`resume_offset`); nothing is written then.
        """
        if self._task is not None:
            raise RuntimeError("writer already started")
        if self._ndjson is not None:
            path = self._ndjson
            checkpoint = await self._store.checkpoint()
            if checkpoint is not None and checkpoint.path not in (None, str(path)):
                # Switching files (daemon rotation, or a new --ndjson): the old file
                # may end in bytes of a commit that never finished; cut them first.
                await asyncio.to_thread(cut_uncommitted, Path(checkpoint.path), checkpoint.offset)
            size = file_size(path)
            offset = resume_offset(checkpoint, path, size, self._store.location)
            self._file = await asyncio.to_thread(AppendFile.open, path, offset)
            if size is not None and size > offset:
                log.warning(
                    "ndjson_truncated", path=str(path), offset=offset, dropped=size - offset
                )
            await self._store.set_checkpoint(Checkpoint(str(path), offset))
        else:
            await self._store.set_checkpoint(Checkpoint(None, 0))
        self._task = asyncio.create_task(self._run(), name="sink-writer")  # owned: see close()
        self._task.add_done_callback(lambda _: self._wake())

    async def put(self, outcome: Outcome) -> None:
        """Queue ``outcome`` for the next batch, waiting while the queue is full.

        Raises :class:`WriterFailedError` if the task has died or dies while this
        waits. A ``put`` cancelled while it waits has queued nothing.
        """
        while True:
            self._check_running()
            if not self.saturated:
                break
            await self._took.wait()
        self._queued_points += len(outcome.rows)
        self._queue.put_nowait(outcome)

    def flush(self) -> None:
        """Commit what has been put so far without waiting out the batch's delay.

        A queue worker calls it when nothing more is in flight: its run may be
        waiting for these very commits (the delay runs on the injected clock).
        """
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(_FLUSH)

    def _taken(self, item: Outcome | _Flush | None) -> Outcome | _Flush | None:
        """Account for ``item`` leaving the queue (into a batch); returns it."""
        if isinstance(item, Outcome):
            self._queued_points -= len(item.rows)
        self._wake()
        return item

    def _wake(self) -> None:
        """Wake every ``put`` waiting for room: the task took an item, or ended."""
        self._took.set()
        self._took = asyncio.Event()

    async def close(self) -> None:
        """Commit everything queued, stop the task and close the NDJSON file.

        Returns once the task has ended, however ``close`` ends. If ``close`` is
        cancelled meanwhile, the task takes nothing more: a batch whose commit is
        under way is committed, a batch still being gathered and what is queued
        are dropped (their requests stay ``pending`` in the ledger, and a later
        run sends them again); the cancel propagates once the task has ended.
        Raises :class:`WriterFailedError` if the task died (its cause attached).
        """
        task = self._task
        try:
            if task is not None:
                if not task.done():
                    self._queue.put_nowait(None)  # the stop marker
                    await wait_out([task], on_cancel=self._abandon)
                if task.cancelled() or task.exception() is not None:
                    self._check_running()  # raises, with the cause attached
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _abandon(self) -> None:
        """Stop the task without committing what it has not begun to commit.

        At once while it waits or gathers a batch; after the commit under way,
        if any: a commit cut in half could leave SQLite committed and the NDJSON
        file cut back (a cancel during COMMIT does not stop SQLite's thread).
        """
        self._abandoned = True
        if self._task is not None and not self._committing:
            self._task.cancel()

    def _check_running(self) -> asyncio.Task[None]:
        """The writer task; raises :class:`WriterFailedError` if it has stopped."""
        task = self._task
        if task is None:
            raise RuntimeError("writer not started")
        if task.done():
            cause = None if task.cancelled() else task.exception()
            raise WriterFailedError(
                "the sink writer stopped; uncommitted outcomes are lost"
            ) from cause
        return task

    async def _run(self) -> None:
        while not self._abandoned:
            first = self._taken(await self._queue.get())
            if first is None:
                return
            if isinstance(first, _Flush):
                continue  # nothing gathered: nothing to commit
            batch, stop = await self._collect(first)
            self._committing = True
            try:
                await self._commit(batch)
            finally:
                self._committing = False
            if stop:
                return

    async def _collect(self, first: Outcome) -> tuple[list[Outcome], bool]:
        """Gather a batch after ``first``; also says whether the stop marker came."""
        batch = [first]
        points = len(first.rows)
        deadline = self._clock.monotonic() + self._max_delay
        while len(batch) < self._max_outcomes and points < self._max_points:
            if not self._queue.empty():
                item = self._taken(self._queue.get_nowait())
            else:
                got = await self._get_within(deadline - self._clock.monotonic())
                if isinstance(got, _Timeout):
                    break
                item = self._taken(got)
            if item is None:
                return batch, True
            if isinstance(item, _Flush):
                return batch, False
            batch.append(item)
            points += len(item.rows)
        return batch, False

    async def _get_within(self, wait: float) -> Outcome | _Flush | _Timeout | None:
        """The next queued item, or a :class:`_Timeout` after ``wait`` clock seconds."""
        if wait <= 0:
            return _Timeout()
        # A Queue.get cancelled by the timeout leaves its item queued (within awaits it).
        got = await within(self._clock, self._queue.get(), wait)
        return _Timeout() if isinstance(got, TimedOut) else got

    async def _commit(self, outcomes: list[Outcome]) -> None:
        file = self._file
        before = None if file is None else file.offset
        try:
            async with self._store.transaction() as tx:
                changes = await tx.record_outcomes(outcomes, self._fence)
                self._hook("staged")
                checkpoint = None
                if file is not None:
                    offset = await asyncio.to_thread(file.append, encode_rows(changes.changed))
                    checkpoint = Checkpoint(str(file.path), offset)
                self._hook("appended")
                if checkpoint is not None:
                    await tx.set_checkpoint(checkpoint)
        except BaseException:
            # The transaction rolled back: cut the file back to match it.
            if file is not None and before is not None and file.offset != before:
                await asyncio.to_thread(file.truncate, before)
            raise
        self._hook("committed")
        self._count(outcomes, changes)
        if changes.fenced:
            log.warning("claims_fenced", outcomes=len(changes.fenced))
        if self._on_commit is not None:
            self._on_commit(outcomes, changes)

    def _count(self, outcomes: list[Outcome], changes: PointChanges) -> None:
        s = self._stats
        fenced = set(changes.fenced)
        states = [o.state for o in outcomes if o.key not in fenced]
        self._stats = WriterStats(
            batches=s.batches + 1,
            outcomes=s.outcomes + len(states),
            points_written=s.points_written + len(changes.changed),
            points_unchanged=s.points_unchanged + changes.unchanged,
            done=s.done + states.count("done"),
            no_data=s.no_data + states.count("no_data"),
            failed=s.failed + states.count("failed"),
            fenced=s.fenced + len(fenced),
        )
        log.debug("sink_batch_committed", outcomes=len(outcomes), written=len(changes.changed))
