"""Writing the registry: merge discovered accounts into it, show the change first.

The counterpart of :mod:`collector.config.registry` (which reads it strictly). A CSV
registry gets rows in its header's columns (a new file: ``id,app,token,label,followers``;
an older file without ``followers`` keeps its four), quoted only when a label needs it,
so that ``read_registry`` reads back exactly what was written. A ``.toml`` registry
(a config whose ``[[accounts]]`` list the accounts) gets ``[[accounts]]`` tables
appended. Existing rows are kept as they are, in their order; a discovered account
whose id is already listed changes nothing (the operator may have relabelled it or
given it another token). Tokens never pass through here: a row holds a secret
*reference* (``file:``/``env:``), never a value.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from collector.config.checks import ConfigError
from collector.config.registry import COLUMNS, OPTIONAL, read_registry, split_line


@dataclass(frozen=True, slots=True)
class Discovered:
    """An account found by discovery: id, app, token reference, label, followers."""

    id: str
    app: str
    token_ref: str
    label: str
    followers: int | None = None


def _cell(text: str) -> str:
    if any(ch in text for ch in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def row_text(account: Discovered, columns: Sequence[str]) -> str:
    """One CSV line (no newline) of ``account`` in the header's ``columns``."""
    values = {
        "id": account.id, "app": account.app, "token": account.token_ref, "label": account.label,
        "followers": "" if account.followers is None else str(account.followers),
    }  # fmt: skip
    return ",".join(_cell(values[name]) for name in columns)


def _toml_text(account: Discovered) -> str:
    """One ``[[accounts]]`` table for ``account`` (strings as TOML basic strings)."""
    lines = ["", "[[accounts]]"]
    for key, value in (("id", account.id), ("app", account.app), ("token", account.token_ref),
                       ("label", account.label)):  # fmt: skip
        lines.append(f"{key} = {orjson.dumps(value).decode()}")  # JSON strings are TOML ones
    if account.followers is not None:
        lines.append(f"followers = {account.followers}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Merge:
    """The registry's text before and after, and the accounts the merge adds."""

    before: str
    after: str
    added: tuple[Discovered, ...]

    def diff(self, path: Path) -> str:
        """A unified diff of the file (references only: no token is in either text)."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=str(path),
            tofile=f"{path} (discovered)",
        )
        return "".join(lines)


def merge_registry(path: Path, found: Sequence[Discovered]) -> Merge:
    """``path``'s text with the accounts of ``found`` it does not list appended.

    A missing file starts from the header. Raises the reader's ``ConfigError`` for
    an existing file that is not a valid registry (nothing is written then).
    """
    toml = path.suffix == ".toml"
    columns: Sequence[str] = (*COLUMNS, *OPTIONAL)
    if path.exists():
        before = path.read_text(encoding="utf-8-sig")
        if toml:
            listed = {str(a.get("id")) for a in _toml_accounts(path, before)}
        else:
            listed = {row.id for row in read_registry(path)}
            columns = [name.strip() for name in split_line(before.splitlines()[0])]
    else:
        before, listed = "", set()
    text = before if before or toml else ",".join(columns) + "\n"
    if text and not text.endswith("\n"):
        text += "\n"
    added: list[Discovered] = []
    for account in found:
        if account.id in listed:
            continue
        listed.add(account.id)
        added.append(account)
        text += _toml_text(account) if toml else row_text(account, columns) + "\n"
    return Merge(before, text if added else before, tuple(added))


def _toml_accounts(path: Path, text: str) -> list[dict[str, object]]:
    """The ``[[accounts]]`` tables of a TOML registry (a config file)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            path, "registry", f"is not valid TOML ({error})", "fix the file"
        ) from None
    accounts = data.get("accounts", [])
    return [a for a in accounts if isinstance(a, dict)] if isinstance(accounts, list) else []
