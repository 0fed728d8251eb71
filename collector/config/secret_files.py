"""Writing a secret file: one token, mode 0600, replaced atomically.

:mod:`collector.config.secrets` reads ``file:`` references as one secret per file, so
every token the collector writes (a Page token found by discovery, an exchanged or
refreshed token) gets a file of its own. The value goes to a temporary file created
0600 beside the target, is flushed to disk, then renamed over it: a reader sees the old
token or the new one, never half of one, and never a moment of wider permissions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SECRET_DIR_MODE = 0o700
SECRET_FILE_MODE = 0o600


def secret_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=SECRET_DIR_MODE)
    path.chmod(SECRET_DIR_MODE)
    return path


def write_secret(path: Path, value: str) -> None:
    """Put ``value`` (one line) into ``path`` atomically, mode 0600.

    Raises ``ValueError`` for a value with whitespace inside (it would not read back
    as one secret) and ``OSError`` when the folder cannot be written; the message of
    neither holds the value.
    """
    if not value or any(ch.isspace() for ch in value):
        raise ValueError("a secret is one non-empty word")
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, SECRET_FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
