"""The freshness half of ``ig-collector status``: how recent each account's data is.

Read from the SQLite file alone (:meth:`Store.freshness`, :meth:`Store.ndjson_files`):
when the daemon last refreshed each account and how long ago, its newest
end_time stored, its last lifetime snapshot, what is pending or failed, and
which NDJSON files hold the points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from collector.clock import Clock, SystemClock
from collector.storage.sqlite import AccountFreshness, NdjsonFile, Store


def age_text(seconds: float | None) -> str:
    """A short age: ``45s``, ``12m``, ``3.5h``, ``2.0d``; ``never`` for ``None``."""
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _age(text: str | None, now: dt.datetime) -> float | None:
    if text is None:
        return None
    return (now - dt.datetime.fromisoformat(text.replace("Z", "+00:00"))).total_seconds()


def freshness_table(
    rows: Sequence[AccountFreshness], files: Sequence[NdjsonFile], now: dt.datetime
) -> str:
    """The freshness report as text (pure: ``now`` decides the ages)."""
    header = (
        f"{'account':<22} {'refreshed':<21} {'age':>6} {'newest end_time':<21} "
        f"{'lifetime':<21} {'pending':>7} {'failed':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.account_id:<22} {row.last_refresh or '-':<21} "
            f"{age_text(_age(row.last_refresh, now)):>6} {row.newest_end_time or '-':<21} "
            f"{row.last_lifetime or '-':<21} {row.pending:>7} {row.failed:>6}"
        )
    ages = [_age(r.last_refresh, now) for r in rows]
    known = [a for a in ages if a is not None]
    lines.append("-" * len(header))
    lines.append(
        f"{len(rows)} account(s); {len(ages) - len(known)} never refreshed by the daemon; "
        f"oldest refresh {age_text(max(known) if known else None)} ago"
    )
    if files:
        lines += ["", "NDJSON files (oldest first):"]
        for file in files:
            lines.append(
                f"  {file.path}  {file.committed_offset:,} bytes  "
                f"written {file.first_at} .. {file.last_at}"
            )
    return "\n".join(lines)


async def render_freshness(sqlite: Path, clock: Clock | None = None) -> str:
    """The freshness report of the SQLite file at ``sqlite``."""
    store = await Store.open(sqlite)
    try:
        rows = await store.freshness()
        files = await store.ndjson_files()
    finally:
        await store.close()
    return freshness_table(rows, files, (clock or SystemClock()).now())
