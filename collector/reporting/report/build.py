"""Writing reports: one account's page, or every account's and an index.

Reads through a :class:`~collector.storage.reader.PointReader`
(:func:`~collector.reporting.report.figures.read_account`), renders with
:mod:`~collector.reporting.report.page`, and writes UTF-8 files. Accounts are
read one at a time: a report of thousands of accounts holds one in memory, and
a row of the index per account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from collector.errors import OutputError
from collector.reporting.report.figures import AccountFigures, Period, read_account
from collector.reporting.report.page import IndexEntry, render_index, render_page
from collector.storage.reader import PointReader

__all__ = ["INDEX", "write_all", "write_report"]

INDEX: Final = "index.html"


async def write_report(
    reader: PointReader,
    account: tuple[str, str],
    period: Period,
    out: Path,
    generated: dt.datetime,
) -> AccountFigures:
    """Write the report of ``account`` (id, label) for ``period`` to ``out``; its figures.

    Raises :class:`OutputError` when ``out`` cannot be written.
    """
    account_id, label = account
    figures = await read_account(reader, account_id, label, period)
    _write(out, render_page(figures, generated))
    return figures


async def write_all(
    reader: PointReader,
    accounts: Sequence[tuple[str, str]],
    period: Period,
    folder: Path,
    generated: dt.datetime,
) -> list[Path]:
    """A report per account (``<id>.html``) and :data:`INDEX` in ``folder``; the files
    written, index last."""
    _check_folder(folder)
    entries: list[IndexEntry] = []
    written: list[Path] = []
    for account in accounts:
        name = f"{account[0]}.html"
        figures = await write_report(reader, account, period, folder / name, generated)
        entries.append(IndexEntry.of(figures, name))
        written.append(folder / name)
    _write(folder / INDEX, render_index(entries, period, generated))
    return [*written, folder / INDEX]


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file; fix: give --out a folder with --all")


def _write(path: Path, html: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as error:
        raise OutputError(
            f"{path}: cannot be written ({error.strerror}); fix: give --out another path"
        ) from error
