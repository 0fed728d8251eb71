"""Writing the registry CSV: merge discovered accounts into it, show the change first.

The counterpart of :mod:`collector.config.registry` (which reads it strictly): rows are
written in the same four columns, quoted only when a label needs it, so that
``read_registry`` reads back exactly what was written. Existing rows are kept as they
are, in their order; a discovered account whose id is already listed changes nothing
(the operator may have relabelled it or given it another token). Tokens never pass
through here: a row holds a secret *reference* (``file:``/``env:``), never a value.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.registry import COLUMNS, read_registry


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


def row_text(account_id: str, app: str, token_ref: str, label: str) -> str:
    """One CSV line (no newline) in the header's order."""
    return ",".join(_cell(v) for v in (account_id, app, token_ref, label))


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
    if path.exists():
        before = path.read_text(encoding="utf-8-sig")
        listed = {row.id for row in read_registry(path)}
    else:
        before, listed = "", set()
    text = before if before else ",".join(COLUMNS) + "\n"
    if not text.endswith("\n"):
        text += "\n"
    added: list[Discovered] = []
    for account in found:
        if account.id in listed:
            continue
        listed.add(account.id)
        added.append(account)
        text += row_text(account.id, account.app, account.token_ref, account.label) + "\n"
    return Merge(before, text if added else before, tuple(added))
