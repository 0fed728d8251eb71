"""Export formats: typed column batches into a CSV, Parquet or NDJSON file.

A :class:`TableWriter` takes the batches a shape makes
(:mod:`collector.reporting.export.columns`) and knows nothing of stores.

- CSV and Parquet are written by **pyarrow** (the optional ``export`` extra:
  ``pip install 'ig-collector[export]'``), batch by batch
  (``pyarrow.csv.CSVWriter``, ``pyarrow.parquet.ParquetWriter``), so an export
  of any size holds one batch in memory. Types are kept: dates are ``date32``
  (``2025-11-03`` in CSV), times UTC timestamps (``end_time`` in seconds,
  ``fetched_at`` in milliseconds; Parquet stores both in milliseconds, its
  coarsest unit), whole values ``int64``.
  pyarrow rather than DuckDB: the rows come through the store's reader seam
  (SQLite today, PostgreSQL next), not from a file DuckDB could scan itself,
  and DuckDB would need pyarrow (or pandas) to take them from Python anyway;
  DuckDB's SQLite reader is an extension it downloads at run time.
- NDJSON needs only orjson (a base dependency): one JSON object per row, dates
  as ``YYYY-MM-DD``, times as RFC 3339 UTC, ``dimensions`` as an object. The
  long shape writes every key (``null`` included); the wide one leaves out the
  empty cells, which would be most of them.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Final, Literal, Protocol

import orjson

from collector.errors import UsageError
from collector.reporting.export.columns import Batch, Column

__all__ = ["FORMATS", "ExtraMissing", "Format", "TableWriter", "open_table", "require"]

Format = Literal["csv", "parquet", "ndjson"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "parquet", "ndjson")

# Which modules a format needs beyond the base install.
_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "csv": ("pyarrow", "pyarrow.csv"),
    "parquet": ("pyarrow", "pyarrow.parquet"),
    "ndjson": (),
}


class ExtraMissing(UsageError):
    """An export format needs the optional ``export`` extra, which is not installed; exit 2."""


class TableWriter(Protocol):
    """One output file being written, a batch at a time.

    :meth:`write` appends a batch (every column of the layout, equal lengths);
    :meth:`close` completes the file (a Parquet footer, the last buffer). A file
    not closed is incomplete: the exporter writes to a temporary name and moves
    it in place only after :meth:`close`.
    """

    def write(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


def require(fmt: Format) -> None:
    """Raise :class:`ExtraMissing` unless the modules ``fmt`` needs can be imported."""
    for name in _NEEDS[fmt]:
        _module(name, fmt)


def open_table(fmt: Format, path: Path, columns: tuple[Column, ...], *, wide: bool) -> TableWriter:
    """A writer of ``fmt`` creating ``path`` with ``columns``; raises :class:`ExtraMissing`."""
    if fmt == "ndjson":
        return NdjsonTable(path, columns, omit_null=wide)
    return ArrowTable(fmt, path, columns)


def _module(name: str, fmt: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ExtraMissing(
            f"export --format {fmt} needs pyarrow, which is not installed; "
            "fix: pip install 'ig-collector[export]' (or use --format ndjson)"
        ) from None


class ArrowTable:
    """CSV or Parquet through pyarrow's streaming writers (see the module's header)."""

    def __init__(self, fmt: Format, path: Path, columns: tuple[Column, ...]) -> None:
        self._pa = pa = _module("pyarrow", fmt)
        types = {
            "string": pa.string(), "json": pa.string(), "date": pa.date32(),
            "timestamp": pa.timestamp("s", tz="UTC"), "timestamp_ms": pa.timestamp("ms", tz="UTC"),
            "int": pa.int64(), "float": pa.float64(),
        }  # fmt: skip
        self._schema = pa.schema([pa.field(c.name, types[c.kind]) for c in columns])
        self._writer: Any
        if fmt == "csv":
            self._writer = _module("pyarrow.csv", fmt).CSVWriter(str(path), self._schema)
        else:
            parquet = _module("pyarrow.parquet", fmt)
            self._writer = parquet.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, batch: Batch) -> None:
        pa, schema = self._pa, self._schema
        arrays = [pa.array(batch[field.name], type=field.type) for field in schema]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))

    def close(self) -> None:
        self._writer.close()


@lru_cache(maxsize=8192)
def _seconds(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=8192)
def _milliseconds(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


# NDJSON spells these kinds itself: times as the store does (RFC 3339 UTC, "Z", seconds
# or milliseconds), JSON text as the object it holds. Dates orjson writes as YYYY-MM-DD.
_TEXT: Final[dict[str, Callable[[Any], object]]] = {
    "timestamp": _seconds,
    "timestamp_ms": _milliseconds,
    "json": orjson.Fragment,
}


class NdjsonTable:
    """One JSON object per row, through orjson (see the module's header)."""

    def __init__(self, path: Path, columns: tuple[Column, ...], *, omit_null: bool) -> None:
        self._columns = columns
        self._text = {c.name: _TEXT[c.kind] for c in columns if c.kind in _TEXT}
        self._omit_null = omit_null
        self._file: IO[bytes] = path.open("wb")

    def write(self, batch: Batch) -> None:
        names = [c.name for c in self._columns]
        cells = [batch[name] for name in names]
        text = self._text
        write = self._file.write  # buffered: each line goes out as it is made (orjson's
        # output holds a 4 KiB block, so a batch of them kept in a list costs 4 KiB a line)
        for row in zip(*cells, strict=True):
            record = {
                name: text[name](value) if name in text and value is not None else value
                for name, value in zip(names, row, strict=True)
                if value is not None or not self._omit_null
            }
            write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        self._file.close()
