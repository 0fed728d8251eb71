"""The daemon's ``stats`` event: what an operator watches in the logs.

:class:`DaemonCounters` accumulates the figures of every finished run;
:func:`stats_fields` adds the run in progress and the per-account lags and
returns the event's fields (pure, given its inputs). :func:`rss_bytes` and
:func:`open_fds` read the process's own figures from ``/proc`` (Linux; ``None``
elsewhere).

Fields: ``requests`` and ``points`` (new or changed points written) since the
daemon started; ``errors`` by kind (every error met: the retried ones and the
final failures); ``usage_pct`` per app (the latest ``X-App-Usage`` peak);
``paused_accounts``; ``queue_depth`` (requests of the current run not yet
answered, plus outcomes waiting for the writer); ``lag_max_s`` and
``lag_p95_s`` over the active accounts (seconds since each was last
refreshed); ``rss_mb``; ``open_fds``; ``runs``.
"""

from __future__ import annotations

import os
import resource
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collector.engine.run import LiveRun
from collector.engine.summary import RunSummary
from collector.planning.schedule import percentile


@dataclass
class DaemonCounters:
    """Totals over the daemon's finished runs."""

    runs: int = 0
    requests: int = 0
    points: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, summary: RunSummary) -> None:
        """Count one finished run."""
        self.runs += 1
        self.requests += summary.calls
        self.points += summary.points_written
        self.errors.update(summary.retries)
        self.errors.update(summary.failures)


def rss_bytes() -> int | None:
    """The process's resident set size now (``/proc/self/statm``), else its peak."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            resident = int(handle.read().split()[1])
        return resident * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def open_fds() -> int | None:
    """How many file descriptors the process has open (``/proc/self/fd``), if known."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # the listing's own descriptor
    except OSError:
        return None


def stats_fields(
    counters: DaemonCounters,
    live: LiveRun | None,
    *,
    lags_s: Sequence[float],
    paused: int,
    accounts: int,
    usage_pct: Mapping[str, float],
) -> dict[str, object]:
    """The fields of one ``stats`` event: totals plus the run in progress, if any;
    ``usage_pct`` is what the process's budgets last read, per app."""
    requests, points = counters.requests, counters.points
    errors = Counter(counters.errors)
    queue = 0
    if live is not None:
        stats = live.pool.stats
        requests += stats.calls
        points += live.writer.stats.points_written
        errors.update(stats.retries)
        errors.update(stats.failures)
        queue = live.remaining + live.writer.backlog
    rss = rss_bytes()
    return {
        "runs": counters.runs,
        "requests": requests,
        "points": points,
        "errors": dict(errors),
        "usage_pct": dict(usage_pct),
        "accounts": accounts,
        "paused_accounts": paused,
        "queue_depth": queue,
        "lag_max_s": round(max(lags_s, default=0.0), 1),
        "lag_p95_s": round(percentile(lags_s, 95), 1),
        "rss_mb": None if rss is None else round(rss / 2**20, 1),
        "open_fds": open_fds(),
    }
