"""What a run reports: its :class:`RunSummary` and the progress seam it feeds.

How either looks to a person is :mod:`collector.reporting.summary`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RunSummary:
    """Figures of one run; ``plan_minimum`` is the plan's request count (no retries)."""

    planned: int
    skipped_finished: int
    calls: int
    calls_by_app: Mapping[str, int]
    plan_minimum_s: Mapping[str, float]
    points_written: int
    points_unchanged: int
    no_data: int
    done: int
    failed: int
    failures: Mapping[str, int]
    failed_accounts: Mapping[str, str]
    rejected_metrics: Mapping[str, str]  # "account:metric" -> the API's reason
    retries: Mapping[str, int]
    throttled: Mapping[str, int]
    duration_s: float
    ndjson: str | None
    sqlite: str
    event_loop: str = "asyncio"  # uvloop when the [fast] extra is installed (engine.speed)
    connections: int = 0  # TCP connections opened to the Graph API; the other calls reused one

    @property
    def exit_code(self) -> int:
        """0 when everything planned is done; 1 when a request or a metric failed."""
        return 1 if self.failed or self.rejected_metrics else 0

    def event_fields(self) -> dict[str, object]:
        return {
            "planned": self.planned,
            "already_done": self.skipped_finished,
            "requests": self.calls,
            "calls_by_app": dict(self.calls_by_app),
            "points_written": self.points_written,
            "points_unchanged": self.points_unchanged,
            "done": self.done,
            "no_data": self.no_data,
            "failed": self.failed,
            "failures": dict(self.failures),
            "failed_accounts": dict(self.failed_accounts),
            "rejected_metrics": dict(self.rejected_metrics),
            "retries": dict(self.retries),
            "throttled": dict(self.throttled),
            "duration_s": round(self.duration_s, 3),
            "event_loop": self.event_loop,
            "connections": self.connections,
        }


class ProgressReporter(Protocol):
    """Shows a run's progress to someone; made by a :data:`ProgressFactory` per run.

    ``update`` is called after every finished request (implementations throttle
    their own output); ``close`` once, when the run ends, even on failure.
    """

    def update(self, finished: int, failed: int = 0) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[int], ProgressReporter]
"""Makes the reporter of one run from the number of requests it plans."""
