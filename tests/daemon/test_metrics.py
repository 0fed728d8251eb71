"""The daemon's metrics and readiness, as pure figures: series shapes and verdicts."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from collector.daemon.health import readiness
from collector.daemon.metrics import ProcessMetrics
from collector.planning.vitals import StoreVitals


class _Watched:
    """What a process shows the metrics: fixed figures."""

    def __init__(self, expiries: Mapping[str, float]) -> None:
        self._expiries = expiries

    def points_written(self) -> Mapping[str, int]:
        return {"sqlite": 10}

    def token_expiries(self) -> Mapping[str, float]:
        return self._expiries

    def tokens_dead(self) -> tuple[int, int]:
        return (1, 3)

    def last_cycle(self) -> float | None:
        return 1_000.0


def _families(metrics: ProcessMetrics) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    found: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        found[family.name] = [(s.name, dict(s.labels), s.value) for s in family.samples]
    return found


def test_few_accounts_get_one_lag_series_each() -> None:
    """At or under lag_series_max accounts, each account has its own lag gauge."""
    metrics = ProcessMetrics(lag_series_max=3)
    vitals = StoreVitals({"claimable": 4}, {"a": 60.0, "b": 7_200.0, "c": None})
    metrics.update(_Watched({}), vitals, now=2_000.0)
    lag = _families(metrics)["ig_collector_account_lag_seconds"]
    assert sorted((labels["account"], value) for _, labels, value in lag) == [
        ("a", 60.0), ("b", 7_200.0),
    ]  # fmt: skip


def test_many_accounts_make_one_histogram_not_a_series_each() -> None:
    """Over lag_series_max accounts, lag is one histogram whose count is the known lags."""
    metrics = ProcessMetrics(lag_series_max=2)
    lags: dict[str, float | None] = {f"acct{i}": float(i * 3_600) for i in range(50)}
    metrics.update(_Watched({}), StoreVitals({}, lags), now=0.0)
    samples = _families(metrics)["ig_collector_account_lag_seconds"]
    assert all("account" not in labels for _, labels, _ in samples)
    count = [v for name, _, v in samples if name.endswith("_count")]
    total = [v for name, _, v in samples if name.endswith("_sum")]
    assert count == [50.0] and total == [sum(i * 3_600 for i in range(50))]


def test_token_expiry_is_seconds_left_by_fingerprint() -> None:
    """Each token's series is its fingerprint and the seconds left at the update."""
    metrics = ProcessMetrics()
    metrics.update(_Watched({"tok-abc": 5_000.0}), None, now=2_000.0)
    expiry = _families(metrics)["ig_collector_token_expiry_seconds"]
    assert expiry == [
        ("ig_collector_token_expiry_seconds", {"token_fingerprint": "tok-abc"}, 3_000.0)
    ]


def test_readiness_fails_on_the_first_check_that_fails() -> None:
    """An unwritable store wins over a stale cycle, which wins over dead tokens; else ready."""
    base = {"now": 10_000.0, "last_cycle": 9_000.0, "started": 0.0, "interval_s": 3_600.0}
    assert readiness(store_error="locked", tokens_dead=(3, 3), **base).reason.startswith(
        "store not writable"
    )
    stale = {**base, "last_cycle": 1_000.0}
    assert readiness(store_error=None, tokens_dead=(3, 3), **stale).reason.startswith(
        "last scheduling cycle"
    )
    assert readiness(store_error=None, tokens_dead=(3, 3), **base).reason.startswith("every token")
    verdict = readiness(store_error=None, tokens_dead=(2, 3), **base)
    assert (verdict.ready, verdict.reason) == (True, "ok")


def test_a_worker_without_a_schedule_is_judged_on_its_store_and_tokens() -> None:
    """With no interval (a worker), no cycle is expected: ready while the store takes writes."""
    verdict = readiness(
        store_error=None, now=1e9, last_cycle=None, started=0.0, interval_s=None,
        tokens_dead=(0, 0),
    )  # fmt: skip
    assert verdict.ready
