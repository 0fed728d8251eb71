"""Which NDJSON file the next run appends to, when output rotates (daemon mode).

Pure: a function of the configured base path, the policy, the file the store's
checkpoint names and its committed size, and the UTC date. The daemon rotates
at run boundaries: a run writes one file, and the writer's start checkpoints
the new file (offset 0) before any point goes to it, so a crash can never
leave committed points in a file the checkpoint does not name.

Names keep the base path's folder, stem and suffixes (``.ndjson``, ``.ndjson.gz``):

- ``day``: ``insights.2025-11-20.ndjson``, one file per UTC day of writing;
- ``size:N``: ``insights.000001.ndjson``, the next number once the current file
  holds ``N`` bytes or more.

Readers take every file of the set in name order; the latest line per key wins.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class Rotation:
    """How NDJSON output is split into files: by UTC day, or when a file reaches a size."""

    kind: Literal["day", "size"] = "day"
    max_bytes: int = 0  # only for ``size``


_SEQ_DIGITS = 6


def _split(base: Path) -> tuple[str, str]:
    """``insights.ndjson.gz`` -> (``insights``, ``.ndjson.gz``)."""
    name = base.name
    stem, dot, rest = name.partition(".")
    return (stem, f"{dot}{rest}") if stem else (name, "")


def day_file(base: Path, day: dt.date) -> Path:
    """The file of UTC date ``day`` in the set of ``base``."""
    stem, suffix = _split(base)
    return base.with_name(f"{stem}.{day.isoformat()}{suffix}")


def numbered_file(base: Path, number: int) -> Path:
    """File number ``number`` (from 1) in the size-rotated set of ``base``."""
    stem, suffix = _split(base)
    return base.with_name(f"{stem}.{number:0{_SEQ_DIGITS}d}{suffix}")


def file_number(base: Path, path: Path) -> int | None:
    """The number of ``path`` in the size-rotated set of ``base``, or ``None`` if not in it."""
    stem, suffix = _split(base)
    if path.parent != base.parent:
        return None
    pattern = re.escape(stem) + r"\.(\d{" + str(_SEQ_DIGITS) + "})" + re.escape(suffix)
    match = re.fullmatch(pattern, path.name)
    return int(match.group(1)) if match else None


def rotation_target(
    base: Path, policy: Rotation, current: Path | None, current_size: int, today_utc: dt.date
) -> Path:
    """The file the next run writes to.

    ``current`` is the file the store's checkpoint names (``None``: none yet)
    and ``current_size`` its committed size in bytes.
    """
    if policy.kind == "day":
        return day_file(base, today_utc)
    number = None if current is None else file_number(base, current)
    if number is None:
        return numbered_file(base, 1)
    if current_size >= policy.max_bytes:
        return numbered_file(base, number + 1)
    return numbered_file(base, number)
