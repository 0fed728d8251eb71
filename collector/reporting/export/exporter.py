"""``ig-collector export``: stored points into one CSV, Parquet or NDJSON file.

:func:`export` reads through a :class:`~collector.storage.reader.PointReader`
(any store), shapes the points long or wide
(:mod:`~collector.reporting.export.columns`) and writes them with a
:class:`~collector.reporting.export.formats.TableWriter`, a chunk at a time:
memory holds one chunk and one batch, whatever the store's size. The file is
written under a temporary name beside ``out`` and moved in place when complete,
so a failed or interrupted export never leaves a truncated file where a
complete one is expected.

Dates select the days values describe (``date`` in the output; see
:mod:`~collector.reporting.export.columns`), inclusive; undated lifetime
snapshots are always included. A later ``--follow`` (NDJSON only) would read
past a checkpoint of its own through the same reader and writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from collector.engine.summary import ProgressFactory, ProgressReporter
from collector.errors import OutputError
from collector.graph.pacific import end_time_of
from collector.reporting.export.columns import Batch, Column, LongShape, WideShape
from collector.reporting.export.formats import Format, TableWriter, open_table, require
from collector.storage.reader import CHUNK, PointQuery, PointReader

__all__ = ["ExportRequest", "ExportResult", "export", "point_query"]

# Below this many points an export takes about a second: no bar.
BAR_FROM_POINTS: Final = 50_000
_TWO_DAYS: Final = dt.timedelta(days=2)
_ONE_DAY: Final = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export and where. ``first``/``last``: the days described (inclusive; ``None``:
    unbounded); ``accounts``/``metrics``: only these (empty: all)."""

    fmt: Format
    out: Path
    wide: bool = False
    first: dt.date | None = None
    last: dt.date | None = None
    accounts: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: ``points`` read from the store, ``rows`` in the file."""

    out: Path
    points: int
    rows: int


def point_query(
    first: dt.date | None,
    last: dt.date | None,
    accounts: tuple[str, ...] = (),
    metrics: tuple[str, ...] = (),
) -> PointQuery:
    """The query for the values describing days ``first..last`` (day D ends at the end_time
    of end_time date D + 1), plus every undated snapshot."""
    return PointQuery(
        accounts=accounts,
        metrics=metrics,
        end_from=None if first is None else end_time_of(first + _ONE_DAY),
        end_before=None if last is None else end_time_of(last + _TWO_DAYS),
    )


async def export(
    reader: PointReader, request: ExportRequest, *, progress: ProgressFactory | None = None
) -> ExportResult:
    """Write the selected points to ``request.out``; what was written.

    Raises :class:`~collector.reporting.export.formats.ExtraMissing` before
    reading anything when the format's library is missing, and
    :class:`OutputError` when the file cannot be written. ``progress`` is made
    with the number of points when there are :data:`BAR_FROM_POINTS` or more.
    """
    require(request.fmt)
    query = point_query(request.first, request.last, request.accounts, request.metrics)
    series = await reader.series(query)
    total = sum(s.points for s in series)
    shape = WideShape(series) if request.wide else LongShape(series)
    partial = request.out.with_name(f".{request.out.name}.partial")
    reporter = progress(total) if progress is not None and total >= BAR_FROM_POINTS else None
    try:
        table = _open(request, partial, shape.columns)
        rows = await _copy(reader, query, shape, table, reporter)
        table.close()
        os.replace(partial, request.out)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        if reporter is not None:
            reporter.close()
    return ExportResult(request.out, total, rows)


def _open(request: ExportRequest, path: Path, columns: tuple[Column, ...]) -> TableWriter:
    if request.out.is_dir():
        raise OutputError(f"{request.out}: is a directory; fix: give --out a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open_table(request.fmt, path, columns, wide=request.wide)
    except OSError as error:
        raise OutputError(
            f"{request.out}: cannot be written ({error.strerror}); fix: give --out another path"
        ) from error


async def _copy(
    reader: PointReader,
    query: PointQuery,
    shape: LongShape | WideShape,
    table: TableWriter,
    reporter: ProgressReporter | None,
) -> int:
    """Stream every chunk through ``shape`` into ``table``; the rows written."""
    rows = done = 0

    def put(batch: Batch) -> None:
        nonlocal rows
        table.write(batch)
        rows += len(batch["account_id"])

    async for chunk in reader.chunks(query, CHUNK):
        if isinstance(shape, WideShape):
            for batch in shape.feed(chunk):
                put(batch)
        else:
            put(shape.batch(chunk))
        done += len(chunk)
        if reporter is not None:
            reporter.update(done)
    if isinstance(shape, WideShape):
        for batch in shape.finish():
            put(batch)
    return rows
