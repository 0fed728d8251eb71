"""How a run's summary and progress look to a person: the table and the progress.

The table goes to stdout (stderr is the logs' stream: with JSON logs it must
carry JSON lines only, the summary there being the ``run_summary`` event).
Progress is rich's bar on a terminal, else a ``run_progress`` event now and then.
"""

from __future__ import annotations

import sys
import time

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from collector.engine.summary import ProgressFactory, RunSummary

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
        ("event loop", summary.event_loop),
        ("connections opened", f"{summary.connections:,}"),
        ("sqlite", summary.sqlite),
        ("ndjson", summary.ndjson or "(off)"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


class EventProgress:
    """Progress for whoever reads the logs: a ``run_progress`` event every ``every_s`` seconds.

    Used when stderr is not a terminal or carries JSON lines: nothing but log
    events is written.
    """

    def __init__(self, total: int, *, every_s: float = 10.0) -> None:
        self._total = max(0, total)
        self._every = every_s
        self._start = time.monotonic()
        self._last = self._start

    def update(self, finished: int, failed: int = 0) -> None:
        now = time.monotonic()
        if self._total <= 0 or (now - self._last < self._every and finished < self._total):
            return
        self._last = now
        fraction = min(1.0, finished / self._total)
        elapsed = now - self._start
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        log.info(
            "run_progress",
            finished=finished,
            planned=self._total,
            failed=failed,
            eta_s=round(eta, 1),
        )

    def close(self) -> None:
        """Nothing to tidy: every event is complete when written."""


class BarProgress:
    """Progress on a terminal: rich's bar with counts, failures and the time left.

    ``description`` names what is counted (a run's requests, an export's points).

    Log events printed meanwhile appear above the bar (rich redirects stderr
    while the bar is live); :meth:`close` leaves the final bar on screen.
    """

    def __init__(
        self, total: int, console: Console | None = None, *, description: str = "requests"
    ) -> None:
        self._progress = RichProgress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=max(0, total), failed="")
        self._progress.start()

    def update(self, finished: int, failed: int = 0) -> None:
        self._progress.update(
            self._task, completed=finished, failed=f"{failed:,} failed" if failed else ""
        )

    def close(self) -> None:
        self._progress.stop()


def progress_factory(*, terminal: bool) -> ProgressFactory:
    """The run's progress: :class:`BarProgress` on a terminal, else :class:`EventProgress`.

    ``terminal`` is true only when stderr is a terminal *and* the logs are not
    JSON: a bar between JSON lines would break every reader of that stream.
    """
    if terminal:
        return BarProgress
    return EventProgress


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (where a bar may be drawn)."""
    return sys.stderr.isatty()
