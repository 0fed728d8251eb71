"""The account registry: a CSV file listing thousands of accounts, read strictly, as a stream.

:func:`collector.config.accounts.load_accounts` merges it with the config's
``[[accounts]]`` and checks what needs the whole list (duplicate ids, in the TOML,
the CSV or across both; unknown apps), resolving every token. CSV format (UTF-8, an optional byte-order mark is tolerated)::

    id,app,token,label
    17841400000000001,agency-a,env:TOKEN_1,Acme
    17841400000000002,agency-a,file:tokens/acme2.txt,

- The header names exactly the columns ``id``, ``app``, ``token``, ``label``, in
  any order, and optionally ``followers`` (what discovery saw; a number or empty);
  a missing or extra column is an error naming it.
- ``id`` is the IG user id (digits only); ``app`` names an ``[[apps]]`` entry;
  ``token`` is a secret reference (see :mod:`collector.config.secrets`); ``label`` may
  be empty. Surrounding spaces are dropped; blank lines are skipped.

Rows are yielded one by one with their position (``registry row N`` counts data
rows from 1; ``line`` is the file line where the row ends) so the loader can
locate the mistakes it finds later: duplicate ids, unknown apps, bad secrets.
:func:`read_registry` checks only what one row shows on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from collector.config.checks import ConfigError, closest

COLUMNS: tuple[str, ...] = ("id", "app", "token", "label")
OPTIONAL: tuple[str, ...] = ("followers",)  # written by `accounts discover`


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One IG account to collect: its id, its app, its resolved token, a free label."""

    id: str
    app: str
    token: str = field(repr=False)
    label: str = ""
    token_file: Path | None = None  # where a ``file:`` token lives (a refresh rewrites it)
    followers: int | None = None  # as discovery last saw it (None: not recorded)


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One account as the CSV gives it; ``token`` is the unresolved secret reference."""

    row: int
    line: int
    id: str
    app: str
    token: str = field(repr=False)
    label: str
    followers: int | None = None

    @property
    def where(self) -> str:
        """How errors name this row: ``registry row 12 (line 13)``."""
        return f"registry row {self.row} (line {self.line})"


def read_registry(path: Path) -> Iterator[RegistryRow]:
    """Yield the rows of the registry at ``path``, in file order.

    Raises :class:`ConfigError` (``file`` = ``path``) for a file that cannot be
    opened or decoded, a line that is not strict CSV (a quote that does not
    close on its line -- a row never spans lines --, a stray quote, text after
    a closing quote), a wrong header, and a row with a missing or extra field,
    an empty ``id``/``app``/``token`` or a non-numeric ``id``. Row errors never
    quote the row: a shifted column could put a token where the id should be.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise ConfigError(path, "registry", "file does not exist", "fix [registry].path") from None
    except OSError as exc:
        raise ConfigError(path, "registry", f"cannot be read ({exc.strerror})") from None
    with handle:
        try:
            # only \n, \r\n and \r end a line (str.splitlines also splits on \x1c, ...)
            lines = re.split(r"\r\n|\n|\r", handle.read())
        except UnicodeDecodeError:
            raise ConfigError(
                path, "registry", "is not UTF-8 text", "save the file as UTF-8"
            ) from None
    yield from _rows(path, lines)


def split_line(text: str) -> list[str]:
    """The fields of one CSV line, read strictly (RFC 4180 quoting, one line per row).

    Raises ``ValueError`` (the problem, no value quoted) for a quoted field that
    does not close on its line (a row may not span lines), a quote inside an
    unquoted field, and text after a closing quote.
    """
    fields: list[str] = []
    at = 0
    while True:
        if text.startswith('"', at):
            value: list[str] = []
            at += 1
            while True:
                end = text.find('"', at)
                if end < 0:
                    raise ValueError("a quoted field does not close on this line")
                value.append(text[at:end])
                if text.startswith('"', end + 1):  # "" is one quote inside quotes
                    value.append('"')
                    at = end + 2
                    continue
                at = end + 1
                break
            if at < len(text) and text[at] != ",":
                raise ValueError("text after a closing quote")
            fields.append("".join(value))
        else:
            end = text.find(",", at)
            cell = text[at:] if end < 0 else text[at:end]
            if '"' in cell:
                raise ValueError("a stray quote inside an unquoted field")
            fields.append(cell)
            at = len(text) if end < 0 else end
        if at >= len(text):
            return fields
        at += 1  # past the comma
        if at == len(text):
            fields.append("")
            return fields


def _rows(path: Path, lines: list[str]) -> Iterator[RegistryRow]:
    parsed: list[tuple[int, list[str]]] = []
    for number, text in enumerate(lines, start=1):
        try:
            parsed.append((number, split_line(text)))
        except ValueError as exc:
            raise ConfigError(
                path,
                f"line {number}",
                f"malformed CSV: {exc}",
                'close the quote on the same line; write a quote inside a quoted field as ""',
            ) from None
    if not any(text.strip() for text in lines):
        raise ConfigError(path, "line 1", "the file is empty", f"start it with {','.join(COLUMNS)}")
    _, header = parsed[0]
    order = _column_order(path, [name.strip() for name in header])
    row = 0
    for line, fields in parsed[1:]:
        if not any(cell.strip() for cell in fields):
            continue  # blank line
        row += 1
        yield _parse_row(path, row, line, fields, order)


def _column_order(path: Path, header: list[str]) -> dict[str, int]:
    """Position of each column in the header; raises for any other header."""
    known = COLUMNS + OPTIONAL
    extra = [name for name in header if name not in known]
    if extra:
        hints = [f'"{n}" -> "{g}"' for n in extra if (g := closest(n, known)) is not None]
        fix = f"rename {', '.join(hints)}" if hints else f"remove {', '.join(extra)}"
        raise ConfigError(
            path,
            "header (line 1)",
            f"unknown column(s) {', '.join(extra)} (allowed: {', '.join(known)})",
            fix,
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ConfigError(
            path, "header (line 1)", f"column(s) {', '.join(repeated)} appear twice", "keep one"
        )
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ConfigError(
            path,
            "header (line 1)",
            f"missing column(s) {', '.join(missing)}",
            f"the header must be {','.join(COLUMNS)}",
        )
    return {name: header.index(name) for name in header}


def _parse_row(
    path: Path, row: int, line: int, fields: list[str], order: dict[str, int]
) -> RegistryRow:
    where = f"registry row {row} (line {line})"
    if len(fields) != len(order):
        problem = "missing column(s)" if len(fields) < len(order) else "too many fields"
        raise ConfigError(
            path,
            where,
            f"{problem}: {len(fields)} field(s) where the header has {len(order)}",
            f"give each row {','.join(order)} (quote a label that holds a comma)",
        )
    account_id, app, token, label = (fields[order[name]].strip() for name in COLUMNS)
    followers_text = fields[order["followers"]].strip() if "followers" in order else ""
    if not account_id:
        raise ConfigError(path, where, "empty id", "give the IG user id (digits)")
    if not account_id.isdecimal() or not account_id.isascii():
        raise ConfigError(
            path, where, "id is not numeric", "IG user ids are digits only (e.g. 17841400000000001)"
        )
    if not app:
        raise ConfigError(path, where, "empty app", "name one of the config's [[apps]]")
    if not token:
        raise ConfigError(path, where, "empty token", "write env:NAME, file:PATH or the token")
    if followers_text and not (followers_text.isdecimal() and followers_text.isascii()):
        raise ConfigError(
            path, where, "followers is not a number", "write digits, or leave it empty"
        )
    followers = int(followers_text) if followers_text else None
    return RegistryRow(row, line, account_id, app, token, label, followers)
