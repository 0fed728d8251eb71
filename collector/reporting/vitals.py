"""The figures half of ``ig-collector status``: what ``/metrics`` shows, for one without Prometheus.

Per app the latest usage reading kept in the store (published by the processes that
share it), the queue depth and the five most-lagging accounts, from
:func:`collector.planning.vitals.read_vitals`: the same figures, read the same way.
:func:`status_figures` reads; :func:`figures_text` renders them as rich tables.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from collector.planning.freshness import age_text
from collector.planning.vitals import VitalStore, read_vitals


async def status_figures(
    store: object, apps: Collection[str] | None, now: float, top: int = 5
) -> dict[str, Any]:
    """Usage per app, queue depth, the ``top`` most-lagging accounts (JSON-ready).

    ``apps`` ``None`` (no config given): the apps are not known, so the queue's
    ``claimable`` count, which is per app, is left out.
    """
    vital = cast(VitalStore, store)
    accounts = [row.account_id for row in await vital.freshness()]
    vitals = await read_vitals(vital, apps or (), accounts, now)
    queue = dict(vitals.queue)
    usage: dict[str, Any] = {}
    if apps is None:
        del queue["claimable"]
    else:
        for app in apps:
            reading = await vital.usage(app)
            usage[app] = None if reading is None else {"read_at": reading[0], **reading[1]}
    lagging = [{"account": a, "lag_s": round(lag, 1)} for a, lag in vitals.most_lagging(top)]
    return {"usage": usage, "queue_depth": queue, "most_lagging": lagging}


def figures_text(figures: dict[str, Any], width: int = 100) -> str:
    """``figures`` as rich tables (plain text when not on a terminal)."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False)
    usage = Table(title="App usage (latest shared reading)")
    usage.add_column("app")
    usage.add_column("reading")
    for app, reading in figures["usage"].items():
        text = (
            "-"
            if reading is None
            else ", ".join(f"{k}={v}" for k, v in reading.items() if k != "read_at")
        )
        usage.add_row(app, text)
    queue = Table(title="Queue depth")
    queue.add_column("kind")
    queue.add_column("requests", justify="right")
    for kind, value in figures["queue_depth"].items():
        queue.add_row(kind, str(value))
    lag = Table(title="Most-lagging accounts (age of the newest complete day)")
    lag.add_column("account")
    lag.add_column("lag", justify="right")
    for row in figures["most_lagging"]:
        lag.add_row(row["account"], age_text(row["lag_s"]))
    for table in (usage, queue, lag):
        if table.row_count:
            console.print(table)
    return out.getvalue().rstrip()


def tokens_text(rows: list[dict[str, Any]], warn_days: float, width: int = 100) -> str:
    """The tokens ``status --tokens`` found dead or expiring, as a table (by fingerprint)."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False)
    table = Table(title=f"Tokens dead or expiring within {warn_days:g} days")
    for column in ("token", "app", "accounts", "health", "expires"):
        table.add_column(column)
    for row in rows:
        at = row["expires_at"]
        expires = "?" if at is None else "never" if at == 0 else _date(at)
        table.add_row(row["token"], row["app"], str(row["accounts"]), row["health"], expires)
    if not rows:
        return f"No token dead or expiring within {warn_days:g} days."
    console.print(table)
    return out.getvalue().rstrip()


def _date(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%d")
