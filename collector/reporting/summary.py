"""How a run's summary and progress look to a person: the table and the progress line."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import structlog

from collector.engine.summary import RunSummary

log = structlog.get_logger("collector.progress")


def render_table(summary: RunSummary) -> str:
    """A plain-text table of the run, for the terminal."""
    rows: list[tuple[str, str]] = [
        ("requests planned", f"{summary.planned:,}"),
        ("  already done (resumed)", f"{summary.skipped_finished:,}"),
        ("requests sent", f"{summary.calls:,}"),
    ]
    for app, calls in sorted(summary.calls_by_app.items()):
        minimum = summary.plan_minimum_s.get(app, 0.0)
        rows.append(
            (
                f"  app {app}",
                f"{calls:,} calls (its budget allows the plan in {minimum:,.0f} s at best)",
            )
        )
    rows += [
        ("points written", f"{summary.points_written:,}"),
        ("points unchanged", f"{summary.points_unchanged:,}"),
        ("requests done", f"{summary.done:,}"),
        ("requests with no data", f"{summary.no_data:,}"),
        ("requests failed", f"{summary.failed:,}"),
    ]
    for reason, count in sorted(summary.failures.items()):
        rows.append((f"  {reason}", f"{count:,}"))
    for reason, count in sorted(summary.retries.items()):
        rows.append((f"retried after {reason}", f"{count:,}"))
    for account, reason in sorted(summary.failed_accounts.items()):
        rows.append((f"  account {account}", f"stopped: {reason}"))
    for where, reason in sorted(summary.rejected_metrics.items()):
        rows.append((f"  metric {where}", f"rejected: {reason}"))
    rows += [
        ("duration", f"{summary.duration_s:,.2f} s"),
        ("sqlite", summary.sqlite),
        ("ndjson", summary.ndjson or "(off)"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


class Progress:
    """Progress with an ETA: a one-line bar on a terminal, else a ``run_progress`` event.

    The bar is redrawn at most every ``every_s`` seconds; the event (for operators
    reading JSON logs) every ``log_every_s`` seconds.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        every_s: float = 0.2,
        log_every_s: float = 10.0,
    ) -> None:
        self._total = max(0, total)
        self._stream = stream or sys.stderr
        self._bar = self._stream.isatty() and total > 0
        self._start = time.monotonic()
        self._last = self._start
        self._every = every_s if self._bar else log_every_s

    def update(self, finished: int, failed: int = 0) -> None:
        now = time.monotonic()
        if self._total <= 0 or (now - self._last < self._every and finished < self._total):
            return
        self._last = now
        fraction = min(1.0, finished / self._total)
        elapsed = now - self._start
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        if not self._bar:
            log.info(
                "run_progress",
                finished=finished,
                planned=self._total,
                failed=failed,
                eta_s=round(eta, 1),
            )
            return
        bar = "#" * int(fraction * 30)
        self._stream.write(
            f"\r[{bar:<30}] {finished:,}/{self._total:,} requests"
            f"{f', {failed:,} failed' if failed else ''}  ETA {eta:,.0f} s  "
        )
        self._stream.flush()

    def close(self) -> None:
        if self._bar:
            self._stream.write("\n")
            self._stream.flush()
