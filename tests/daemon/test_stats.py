"""The daemon's ``stats`` event: totals over finished runs, lags, the process's figures."""

from __future__ import annotations

from collector.daemon.stats import DaemonCounters, open_fds, stats_fields
from collector.engine.summary import RunSummary


def summary(
    calls: int, points: int, retries: dict[str, int], failures: dict[str, int]
) -> RunSummary:
    return RunSummary(
        planned=calls, skipped_finished=0, calls=calls, calls_by_app={"app": calls},
        plan_minimum_s={}, points_written=points, points_unchanged=0, no_data=0,
        done=calls, failed=sum(failures.values()), failures=failures, failed_accounts={},
        rejected_metrics={}, retries=retries, throttled={}, duration_s=1.0, ndjson=None,
        sqlite="x.sqlite",
    )  # fmt: skip


def test_totals_add_up_over_runs_and_the_budgets_readings_are_reported() -> None:
    counters = DaemonCounters()
    counters.add(summary(10, 300, {"transient": 2}, {}))
    counters.add(summary(5, 20, {"transient": 1}, {"timeout": 1}))
    usage = {"app-a": 55.0, "app-b": 3.0}
    fields = stats_fields(
        counters, None, lags_s=[10.0, 30.0, 20.0], paused=1, accounts=3, usage_pct=usage
    )
    assert fields["runs"] == 2
    assert fields["requests"] == 15 and fields["points"] == 320
    assert fields["errors"] == {"transient": 3, "timeout": 1}
    assert fields["usage_pct"] == {"app-a": 55.0, "app-b": 3.0}
    assert fields["lag_max_s"] == 30.0
    assert 20.0 <= float(fields["lag_p95_s"]) <= 30.0  # type: ignore[arg-type]
    assert fields["paused_accounts"] == 1 and fields["accounts"] == 3
    assert fields["queue_depth"] == 0  # no run in progress


def test_no_account_means_no_lag_and_the_process_figures_are_read() -> None:
    fields = stats_fields(DaemonCounters(), None, lags_s=[], paused=0, accounts=0, usage_pct={})
    assert fields["lag_max_s"] == 0.0 and fields["lag_p95_s"] == 0.0
    assert fields["rss_mb"] is not None and float(fields["rss_mb"]) > 1.0  # type: ignore[arg-type]
    fds = open_fds()
    assert fds is None or fds >= 3  # stdin, stdout, stderr at least
