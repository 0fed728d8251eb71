"""``ig-collector export`` read back: every format and shape equals the store and the ground truth."""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from collector.reporting.export import exporter
from collector.reporting.export.exporter import ExportRequest, export
from collector.storage.inspect import open_point_reader
from tests.e2e.delivery import Delivered, cli, day_described, in_days, wide_name
from tests.e2e.helpers import Key, dims_text, sqlite_points

FORMATS = ("csv", "parquet", "ndjson")
Cell = tuple[str, dt.date | None, str]


def read_back(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The rows of an exported file, read by pyarrow (CSV, Parquet) or orjson (NDJSON)."""
    if fmt == "ndjson":  # JSON has no date type: dates are YYYY-MM-DD text
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        for row in rows:
            if row.get("date") is not None:
                row["date"] = dt.date.fromisoformat(row["date"])
        return rows
    if fmt == "csv":
        # account ids are digits: say they are text, as the file's quotes do
        options = pacsv.ConvertOptions(column_types={"account_id": pa.string()})
        table = pacsv.read_csv(path, convert_options=options)
    else:
        table = pq.read_table(path)
    return list(table.to_pylist())


def export_file(capsys: pytest.CaptureFixture[str], store: Path, out: Path, *args: str) -> None:
    code, _out, err = cli(capsys, "export", "--sqlite", str(store), "--out", str(out), *args)
    assert (code, err) == (0, "")


def long_points(rows: list[dict[str, Any]]) -> dict[Key, Any]:
    """Exported long rows keyed like the store (end_time back to its stored text)."""
    points: dict[Key, Any] = {}
    for row in rows:
        end = row["end_time"]
        if isinstance(end, dt.datetime):
            end = end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        dims = row["dimensions"]
        dims = dims if isinstance(dims, dict) else orjson.loads(dims)
        key = (row["account_id"], row["metric"], row["period"], end, dims_text(dims))
        assert key not in points, f"exported twice: {key}"
        points[key] = row["value"]
    return points


def wide_cells(truth: dict[Key, Any]) -> dict[Cell, Any]:
    """The truth as wide cells: (account, day described, column) -> value."""
    cells: dict[Cell, Any] = {}
    for (account, metric, period, end, dims), value in truth.items():
        cell = (account, day_described(end), wide_name(metric, period, orjson.loads(dims)))
        assert cell not in cells, f"two points in one cell {cell}"
        cells[cell] = value
    return cells


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_export_equals_store_and_truth_point_for_point(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A long export read back holds every stored point once, each with the truth's value."""
    out = tmp_path / f"long.{fmt}"
    export_file(capsys, delivered.store, out, "--format", fmt)
    rows = read_back(out, fmt)
    assert len(rows) == len(delivered.truth)
    assert long_points(rows) == delivered.truth == sqlite_points(delivered.store)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wide_export_equals_truth_cell_for_cell(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A wide export has one row per account and day, a metric.key column per series, and
    every point of the truth in its cell, nothing else."""
    out = tmp_path / f"wide.{fmt}"
    export_file(capsys, delivered.store, out, "--format", fmt, "--wide")
    rows = read_back(out, fmt)
    expected = wide_cells(delivered.truth)
    got: dict[Cell, Any] = {}
    for row in rows:
        account, day = row.pop("account_id"), row.pop("date", None)
        got.update({(account, day, name): v for name, v in row.items() if v is not None})
    days = Counter((row_account, day) for row_account, day, _name in expected)
    assert len(rows) == len(days)
    assert got == expected


def test_parquet_keeps_dates_times_and_integers_typed(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parquet types: date32 dates (the Pacific day before end_time's), UTC timestamps in
    milliseconds (Parquet's coarsest unit), int64 values, wide columns int64 too."""
    export_file(capsys, delivered.store, tmp_path / "l.parquet", "--format", "parquet")
    export_file(capsys, delivered.store, tmp_path / "w.parquet", "--format", "parquet", "--wide")
    long = pq.read_table(tmp_path / "l.parquet")
    assert long.schema.field("date").type == pa.date32()
    assert long.schema.field("end_time").type == pa.timestamp("ms", tz="UTC")
    assert long.schema.field("fetched_at").type == pa.timestamp("ms", tz="UTC")
    assert long.schema.field("value").type == pa.int64()
    with sqlite3.connect(delivered.store) as db:
        fetched = Counter(row[0] for row in db.execute("SELECT fetched_at FROM insights"))
    rows = long.to_pylist()
    assert all(row["date"] == day_described(_text(row["end_time"])) for row in rows)
    assert Counter(_text(row["fetched_at"], millis=True) for row in rows) == fetched
    wide = pq.read_table(tmp_path / "w.parquet").schema
    assert wide.field("date").type == pa.date32()
    assert {wide.field(n).type for n in wide.names[2:]} == {pa.int64()}


def _text(moment: dt.datetime | None, *, millis: bool = False) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")


def test_csv_reads_back_with_date_and_integer_types(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyarrow infers a long CSV's date column as dates and its values as integers."""
    export_file(capsys, delivered.store, tmp_path / "l.csv", "--format", "csv")
    schema = pacsv.read_csv(tmp_path / "l.csv").schema
    assert schema.field("date").type == pa.date32()
    assert schema.field("value").type == pa.int64()


def test_filters_select_days_accounts_and_metrics(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--since/--until (days described), --account and --metrics select exactly those points,
    undated snapshots of the chosen accounts and metrics included."""
    first, last = dt.date(2025, 11, 1), dt.date(2025, 11, 3)
    accounts = ("17841400000000102", "17841400000000202")
    metrics = ("reach", "online_followers", "audience_country", "follower_demographics")
    out = tmp_path / "f.csv"
    export_file(
        capsys, delivered.store, out, "--format", "csv", "--since", str(first),
        "--until", str(last), "--account", accounts[0], "--account", accounts[1],
        "--metrics", ",".join(metrics),
    )  # fmt: skip
    expected = {
        k: v for k, v in in_days(delivered.truth, first, last, accounts).items() if k[1] in metrics
    }
    assert {k[1] for k in expected} == set(metrics)
    assert long_points(read_back(out, "csv")) == expected


def test_missing_pyarrow_is_one_line_and_exit_2(
    delivered: Delivered,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the export extra, --format parquet ends with exit 2, one line naming the fix,
    and no file."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "x.parquet"
    code, stdout, err = cli(
        capsys, "--log-format", "console", "export", "--sqlite", str(delivered.store),
        "--format", "parquet", "--out", str(out),
    )  # fmt: skip
    assert (code, stdout) == (2, "")
    assert err.count("\n") == 1 and err.startswith("ig-collector: export --format parquet needs")
    assert "pip install 'ig-collector[export]'" in err
    assert list(tmp_path.iterdir()) == []


class Recorder:
    """A progress reporter that keeps what it was told."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.updates: list[int] = []
        self.closed = False

    def update(self, finished: int, failed: int = 0) -> None:
        self.updates.append(finished)

    def close(self) -> None:
        self.closed = True


class Recorders(list[Recorder]):
    """A progress factory that keeps every reporter it made."""

    def __call__(self, total: int) -> Recorder:
        self.append(Recorder(total))
        return self[-1]


async def test_progress_counts_every_point_of_a_large_export(
    delivered: Delivered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export at or above the bar's threshold makes one reporter for all its points,
    moves it up to that total and closes it."""
    monkeypatch.setattr(exporter, "BAR_FROM_POINTS", len(delivered.truth))
    made = factory = Recorders()
    async with open_point_reader(delivered.store) as reader:
        await export(reader, ExportRequest("ndjson", tmp_path / "p.ndjson"), progress=factory)
    (bar,) = made
    assert bar.total == len(delivered.truth) and bar.closed
    assert bar.updates == sorted(bar.updates) and bar.updates[-1] == bar.total


async def test_small_export_makes_no_progress_bar(delivered: Delivered, tmp_path: Path) -> None:
    """Below the threshold no reporter is made at all."""
    made = factory = Recorders()
    async with open_point_reader(delivered.store) as reader:
        request = ExportRequest("ndjson", tmp_path / "p.ndjson", accounts=("17841400000000103",))
        result = await export(reader, request, progress=factory)
    assert 0 < result.points < exporter.BAR_FROM_POINTS and made == []


async def test_reader_chunks_are_sorted_bounded_and_complete(delivered: Delivered) -> None:
    """The SQLite reader yields every point once, in non-empty chunks of at most the size
    asked, sorted by account then end_time; its series count the same points."""
    async with open_point_reader(delivered.store) as reader:
        chunks = [
            list(chunk) async for chunk in reader.chunks(exporter.point_query(None, None), 700)
        ]
        series = await reader.series(exporter.point_query(None, None))
    points = [p for chunk in chunks for p in chunk]
    assert all(0 < len(chunk) <= 700 for chunk in chunks)
    order = [(p.account_id, p.end_time or "") for p in points]
    assert order == sorted(order)
    assert {p.key(): p.value for p in points} == delivered.truth
    assert sum(s.points for s in series) == len(points) == len(delivered.truth)


async def test_answered_lists_a_metric_asked_even_when_nothing_came_back(
    delivered: Delivered,
) -> None:
    """The reader's answered requests of the 47-follower account include follower_count,
    of which nothing is stored: the API answered it empty."""
    async with open_point_reader(delivered.store) as reader:
        answered = await reader.answered("17841400000000103")
    asked = {metric for answer in answered for metric in answer.metrics}
    assert {"follower_count", "online_followers", "audience_city", "reach"} <= asked
    assert not any(k[:2] == ("17841400000000103", "follower_count") for k in delivered.truth)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--since", "2025-11-05", "--until", "2025-11-01"), "--since 2025-11-05 is after --until"),
        (("--since", "2025-02-30"), '--since: "2025-02-30" is a date that does not exist'),
        (("--sqlite", "{tmp}/none.sqlite"), "none.sqlite: no such file"),
        ((), "export: which store? fix: give --sqlite PATH or --config FILE"),
    ],
)
def test_command_line_mistakes_are_one_line_and_exit_2(
    delivered: Delivered,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    says: str,
) -> None:
    """A bad date, a missing store or none named ends export with one line, exit 2, no file."""
    store = () if "--sqlite" in args or not args else ("--sqlite", str(delivered.store))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in (*store, *args)]
    out = tmp_path / "x.csv"
    code, _out, err = cli(
        capsys, "--log-format", "console", "export", "--format", "csv", "--out", str(out), *argv
    )
    assert code == 2 and err.count("\n") == 1 and says in err
    assert not out.exists()
